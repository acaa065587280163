"""The user's mistakes on the command line, each turned into one line.

Hydra and OmegaConf report a bad override in six or seven lines (and a
non-ASCII value as a lexer trace). The CLI runs Hydra with HYDRA_FULL_ERROR=1,
so their exceptions reach it, and `error_line` says the same in one line. What
can be checked before Hydra runs is checked here first (`precheck`): Hydra
creates `<results_dir>/<name>/.hydra` before the first cell starts, so a bad
`name` or an unwritable `results_dir` must be refused before that.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException, OverrideParseException
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    OmegaConfBaseException,
    ValidationError,
)

from kdbench.errors import ConfigError, KdbenchError
from kdbench.validate import check_name, unknown_key_error

GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def parse_overrides(argv: list[str]) -> list[Override]:
    """Hydra's own reading of the command line's overrides, or a one-line ConfigError."""
    args, _ = get_args_parser().parse_known_args(argv)
    overrides = []
    for arg in args.overrides:
        try:
            overrides += OverridesParser.create().parse_overrides([arg])
        except OverrideParseException as exc:
            key, _, value = arg.partition("=")
            if not arg.isascii() and not value.startswith(("'", '"')):
                raise ConfigError(
                    f"{arg} cannot be parsed: Hydra reads only ASCII in unquoted values;"
                    f" quote the value: {key}='{value}'"
                ) from None
            raise ConfigError(
                f"{arg} cannot be parsed: {_first_line(exc.message)} (see {GRAMMAR})"
            ) from None
    return overrides


def _values(override: Override) -> list[str]:
    if override.is_sweep_override():
        return list(override.sweep_string_iterator())
    value = override.value()
    return [] if value is None else [str(value)]


def check_output_path(results_dir: str, key: str = "results_dir") -> None:
    """Refuse an output folder kdbench cannot create or write, before anything is written."""
    path = Path(results_dir).expanduser().absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"{key}={results_dir} cannot be created: {existing} is a file, not a folder;"
            f" choose another {key}"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{key}={results_dir} is not writable ({existing}: permission denied);"
            " choose a folder you can write"
        )


def precheck(argv: list[str]) -> None:
    """What Hydra would only find after creating folders: parse errors, names, output paths."""
    overrides = parse_overrides(argv)
    results_dirs = ["results"]  # conf/config.yaml's default
    for o in overrides:
        if o.is_delete():
            continue
        if o.key_or_group == "name":
            for v in _values(o):
                check_name(v)
        elif o.key_or_group == "results_dir":
            results_dirs = _values(o)
    for d in results_dirs:
        check_output_path(d)


def error_line(exc: BaseException) -> str | None:
    """One line for an exception the user's input caused; None for anything else (a bug)."""
    if isinstance(exc, KdbenchError):
        return str(exc)
    cause = exc.__cause__ if isinstance(exc, HydraException) else exc
    if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and getattr(
        cause, "full_key", None
    ):
        return str(unknown_key_error(str(cause.full_key)))
    if isinstance(cause, ValidationError) and getattr(cause, "full_key", None):
        return f"{cause.full_key}={cause.value!r} is invalid: {_first_line(cause.msg)}"
    if isinstance(cause, OmegaConfBaseException):
        return _first_line(str(cause))
    if isinstance(exc, OverrideParseException):
        return f"cannot parse the command line: {_first_line(exc.message)} (see {GRAMMAR})"
    if isinstance(exc, HydraException):
        line = _first_line(str(exc))
        if line.startswith("Ambiguous value"):  # a sweep without -m
            line += ": add -m to sweep over the values, or quote them for one string"
        return line
    if isinstance(exc, OSError) and exc.filename is not None:
        return (
            f"cannot use {exc.filename}: {exc.strerror}"
            " (check results_dir, teacher_store and data.root)"
        )
    return None
