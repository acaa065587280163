"""`kdbench-teacher-logits OUT.npz [overrides...]`: a config's teacher's logits, as a file.

The teacher is taken from the store (trained first if no cell has yet) and run
on the training and test splits of the config's data; the file is what
`teacher=logits_file teacher.path=OUT.npz` reads (format:
kdbench/models/precomputed.py). With it, a student distils from the teacher
without the teacher: what a lab does with a model it cannot ship, and a check
that the file route gives the live teacher's student (results/examples/).
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException

from kdbench.config import CONF_DIR, LOGITS_FILE, register_configs
from kdbench.data import load_data
from kdbench.errors import KdbenchError
from kdbench.logits_file import write_logits_file
from kdbench.teachers import TeacherStore
from kdbench.validate import validate

USAGE = "usage: kdbench-teacher-logits OUT.npz [config overrides, e.g. experiment=sst2_cpu]"


def export(out: Path, overrides: list[str]) -> Path:
    register_configs()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = validate(compose(config_name="config", overrides=overrides))
    if cfg.teacher.name == LOGITS_FILE:
        raise KdbenchError("the teacher is already a logits file; name a model teacher")
    data = load_data(cfg.data)
    teacher, _ = TeacherStore(cfg.teacher_store).get(cfg, data)
    return write_logits_file(teacher.eval(), data, out)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if not args or "=" in args[0] or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    try:
        path = export(Path(args[0]), args[1:])
    except (KdbenchError, HydraException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"kdbench-teacher-logits: error: {first}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
