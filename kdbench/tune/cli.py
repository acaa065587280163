"""`kdbench-tune EXPERIMENT [key=value ...]`: equal-budget tuning per method.

Overrides apply to every cell (e.g. `tune.trials=10 train.epochs=5`). User
mistakes end in one line on stderr and exit 2, as for `kdbench`.
"""

from __future__ import annotations

import argparse
import sys

from kdbench.errors import KdbenchError
from kdbench.tune.driver import tune

EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="kdbench-tune",
        description="One Optuna study per method with the same trial budget, on the "
        "validation split; then each best setting on fresh seeds, with the usual report.",
    )
    parser.add_argument("experiment", help="a conf/experiment/ name, e.g. tune_smoke")
    parser.add_argument(
        "overrides", nargs="*", help="config overrides for every cell, e.g. tune.trials=10"
    )
    args = parser.parse_args(argv)
    try:
        tune(args.experiment, args.overrides, log=lambda s: print(s, flush=True))
    except KdbenchError as exc:
        print(f"kdbench-tune: error: {exc}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
