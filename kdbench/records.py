"""A cell's identity, defined once: its key, its folder, the settings a report groups by.

The key is a hash of the resolved config minus output paths and minus settings
the cell's method ignores, so rerunning a sweep finds finished cells, and a
grid that crosses `distill=none` with temperatures runs the baseline once. The
report's settings (`report_settings`) are read off the same canonical config,
so what makes two cells different is what puts them in different rows.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from kdbench.config import LOGITS_FILE, KdbenchConfig, ModelConfig, model_label, recipe_identity
from kdbench.distill import METHODS, identity
from kdbench.fileio import config_hash, sha256_file
from kdbench.stages import STAGES

# Settings that say where outputs go, how cells are chosen, or how a run is watched or
# measured, not what is trained: a change of `efficiency.*` re-measures the kept student
# instead of retraining.
_NOT_IDENTITY = (
    "name",
    "results_dir",
    "teacher_store",
    "tune",
    "efficiency",
    "logger",
    "progress",
)
# Trainer settings that change how fast a result comes, not the result.
_NOT_IDENTITY_TRAINER = ("teacher_stream", "teacher_stream_max_mb")


def canonical_config(cfg: KdbenchConfig) -> dict[str, Any]:
    """The settings that determine a cell's result, and nothing else."""
    d = asdict(cfg)
    for key in _NOT_IDENTITY:
        d.pop(key)
    for key in _NOT_IDENTITY_TRAINER:
        d["trainer"].pop(key)
    for role in ("student", "teacher"):
        d[role] = _set_sizes(d[role])
    d["teacher"]["ensemble"] = [_set_sizes(m) for m in d["teacher"]["ensemble"]]
    if cfg.teacher.name == LOGITS_FILE and cfg.teacher.path:
        # the file's content, not its name or a recipe it was never trained with
        d["teacher"] = {
            "name": LOGITS_FILE,
            "sha256": sha256_file(Path(cfg.teacher.path).expanduser()),
        }
    if not d["data"]["drop_classes"]:  # unset: results from before the key keep their keys
        d["data"].pop("drop_classes")
    if not cfg.eval.class_bias:  # unset: nothing changes the metrics (cells keep their keys)
        d.pop("eval")
    if d["teacher"].get("augment") is None:  # unset: the data's (cells keep their keys)
        d["teacher"].pop("augment", None)
    method = METHODS.get(cfg.distill.name)
    d["distill"] = identity(cfg.distill)  # the fields of the method's own dataclass it reads
    if _prunes_teacher(d["stages"]):
        # "Prune the teacher into a student": the student starts as the teacher's architecture
        # and the cell's student setting is unused, so it is the teacher's model here (one cell
        # whatever `student=` says; the report's `student` names the teacher's architecture).
        d["student"] = {k: v for k, v in d["teacher"].items() if k in _MODEL_FIELDS}
    elif not method.uses_teacher:
        d.pop("teacher")
    return d


def _prunes_teacher(stages: list[dict[str, Any]]) -> bool:
    return any(s.get("source") == "teacher" for s in stages or [] if isinstance(s, dict))


def compress_label(stages: list[dict[str, Any]]) -> str:
    """The stage list in one short cell of a table: `prune(ratio=0.5,source=teacher)+finetune`.

    Per stage its first declared setting (the one that says how much: a ratio, epochs),
    then every other setting that differs from the stage's default, as key=value:
    distinct lists give distinct labels. `none`: no stage."""
    parts = []
    for stage in stages or []:
        name = stage.get("name", "?")
        schema = STAGES.get(name).Params if name in STAGES else None
        declared = [f.name for f in fields(schema)][1:] if schema else []
        defaults = asdict(schema()) if schema else {}
        keys = [k for k in declared if k in stage] + [
            k for k in stage if k != "name" and k not in declared
        ]
        shown = [
            f"{k}={_short(stage[k])}"
            for i, k in enumerate(keys)
            if i == 0 or defaults.get(k, object()) != stage[k]
        ]
        parts.append(f"{name}({','.join(shown)})")
    return "+".join(parts) or "none"


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _set_sizes(model: dict[str, Any]) -> dict[str, Any]:
    """A model's settings without its unset size keys: a model is identified by the keys it
    sets, so a size key added to the schema later changes no existing cell's identity."""
    sizes = set(_MODEL_FIELDS) - {"name"}
    return {k: v for k, v in model.items() if not (k in sizes and v is None)}


_MODEL_FIELDS = tuple(f.name for f in fields(ModelConfig))

# Settings that are measured, never computed with: not part of what a report row is.
_MEASUREMENT_ONLY = ("efficiency",)
# Fixed labels: a bare `name` says nothing in a table header.
_NAME_LABELS = {
    "teacher.ensemble": "teacher_ensemble",
    "data.name": "data",
    "distill.name": "base_method",
    "student.name": "student_name",
    "teacher.name": "teacher_name",
    "train.optim.name": "optim",
    "teacher.recipe.optim.name": "teacher_optim",
    # the report's own `path` column is a record's file
    "data.path": "data_path",
    "data.test_path": "data_test_path",
}
# Roots whose settings are labelled by their bare leaf (the student's recipe is `epochs`,
# the teacher's `teacher_epochs`).
_PRIMARY_ROOTS = ("train", "data", "trainer", "distill", "eval")


# Settings whose value is a mapping shown whole (`class_bias` = {3: 3.5}), not one per key.
_DICT_SETTINGS = ("eval.class_bias",)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and path not in _DICT_SETTINGS:
            out.update(_flat(v, path + "."))
        else:
            out[path] = v
    return out


@functools.cache
def _schema_paths() -> tuple[str, ...]:
    """Every setting path of the default config: clashes are judged against these too, so a
    setting's label never depends on which others a record happens to have."""
    return tuple(_flat(asdict(KdbenchConfig())))


_ROW_COLUMNS = ("status", "experiment", "key", "path", "error")


def _labels(paths: list[str]) -> dict[str, str]:
    """Short column labels, fixed per path (`train.epochs` -> `epochs`).

    Settings under `train`, `data`, `trainer` and `distill` are their leaf
    (`train_subset`, `lr`); the teacher's and student's are prefixed by their
    root (`teacher.recipe.epochs` -> `teacher_epochs`, `student.width` ->
    `student_width`). Should two settings still share a label, or a setting's
    label be one of the row's own columns (`path`), each is its whole path joined by `_`.
    """

    def short(p: str) -> str:
        if p in _NAME_LABELS:
            return _NAME_LABELS[p]
        root, _, rest = p.partition(".")
        leaf = p.rpartition(".")[2]
        return leaf if not rest or root in _PRIMARY_ROOTS else f"{root}_{leaf}"

    every = set(paths) | set(_schema_paths())
    # Columns a report row holds beside the settings: a setting never takes their label
    # (`data.path` is `data_path`, not the record's own `path`).
    count: dict[str, int] = {name: 1 for name in _ROW_COLUMNS}
    for p in every:
        count[short(p)] = count.get(short(p), 0) + 1
    return {p: short(p) if count[short(p)] == 1 else p.replace(".", "_") for p in paths}


def _setting_table(canonical: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(label, path, value) of every setting of a canonical config: THE derivation.

    Derived display labels come first: `method` (the `distill=` option the user
    chose: the method's `label`, else its name), `teacher` and `student` (the
    models' labels, e.g. `cnn-w2`, `resnet8x4+wrn_40_2`), `w1`/`w2` (the loss
    weights, whichever form was given; None for the student alone, which trains on the
    labels alone: a table leaves them blank, not weights that do not apply). Then every leaf
    of the canonical config but measurement-only settings (`efficiency.*`) and the derived
    ones' raw form.
    """
    canonical = _with_defaults_shown(canonical)
    distill = dict(canonical.get("distill") or {})
    teacher = canonical.get("teacher")
    student = canonical.get("student") or {}
    name = distill.get("name")
    uses_teacher = teacher is not None
    if uses_teacher and distill.get("w1") is not None and distill.get("w2") is not None:
        w1, w2 = float(distill["w1"]), float(distill["w2"])
    elif uses_teacher and distill.get("alpha") is not None:
        w1, w2 = 1.0 - float(distill["alpha"]), float(distill["alpha"])
    elif uses_teacher:
        w1, w2 = 1.0, 0.0
    else:  # the student alone: cross-entropy alone, no weighted sum whose weights could apply
        w1, w2 = None, None
    table: list[tuple[str, str, Any]] = [
        ("method", "distill.label", distill.get("label") or name),
        ("teacher", "teacher", _teacher_label(teacher) if uses_teacher else None),
        ("student", "student", _model_label(student)),
        ("w2", "distill.w2", w2),  # before w1: w2 is the weight a table shows when both relabel
        ("w1", "distill.w1", w1),
        ("compress", "stages", compress_label(canonical.get("stages") or [])),
    ]
    flat = _flat({k: v for k, v in canonical.items() if k not in _MEASUREMENT_ONLY})
    for path in ("distill.label", "distill.w1", "distill.w2", "stages"):
        flat.pop(path, None)
    labels = _labels(list(flat))
    derived = {label for label, _, _ in table}
    for path, value in flat.items():
        label = labels[path]
        if label in derived:  # a raw leaf whose name a derived label took (never expected)
            label = path.replace(".", "_")
        table.append((label, path, value))
    return table


def _with_defaults_shown(canonical: dict[str, Any]) -> dict[str, Any]:
    """Settings left out of the identity at their defaults, put back for display: a row
    trained on every class must read `drop_classes=[]` beside one with `[3]`, not be
    taken for the same setting (an absent value is not a value to a report)."""
    out = dict(canonical)
    if "data" in out:
        out["data"] = {**out["data"], "drop_classes": out["data"].get("drop_classes", [])}
    out["eval"] = out.get("eval") or {"class_bias": {}}
    return out


def _model_label(m: dict[str, Any]) -> str:
    return model_label(ModelConfig(**{k: m[k] for k in _MODEL_FIELDS if k in m}))


def _teacher_label(t: dict[str, Any]) -> str:
    members = t.get("ensemble") or []
    if members:
        return "+".join(_model_label(m) for m in members)
    return _model_label(t)


def _canonical(source: KdbenchConfig | dict[str, Any]) -> dict[str, Any]:
    return canonical_config(source) if isinstance(source, KdbenchConfig) else source


def report_settings(source: KdbenchConfig | dict[str, Any]) -> dict[str, Any]:
    """Every setting of a cell, by short label: the record's `config` block and the report's
    grouping, from one function of the canonical config (a config, or a record's `resolved`).

    Two cells that differ in any setting but the seed differ here, so a report that groups
    by these never pools them. Includes `seed` (reports average over it).
    """
    return {label: value for label, _, value in _setting_table(_canonical(source))}


def setting_paths(source: KdbenchConfig | dict[str, Any]) -> dict[str, str]:
    """label -> where the setting lives in the config (`epochs` -> `train.epochs`)."""
    return {label: path for label, path, _ in _setting_table(_canonical(source))}


def cell_key(cfg: KdbenchConfig) -> str:
    """The hash of the canonical config, recipe settings added later left out at their
    defaults (`recipe_identity`): adding a setting renames no existing cell."""
    d = canonical_config(cfg)
    d["train"] = recipe_identity(d["train"])
    if "recipe" in d.get("teacher", {}):  # a logits file has no recipe
        d["teacher"]["recipe"] = recipe_identity(d["teacher"]["recipe"])
    return config_hash(d)


def cell_dir(cfg: KdbenchConfig, key: str) -> Path:
    """results/<experiment>/cells/<student>-<method>-s<seed>-<key prefix>/

    The key prefix finds the cell: a folder named under an earlier model-name scheme
    (`cnn-w0.25-...`, now `cnn_small-...`) is the same cell, reused rather than retrained.
    """
    method = cfg.distill.label or cfg.distill.name
    cells = Path(cfg.results_dir) / cfg.name / "cells"
    path = cells / f"{model_label(cfg.student)}-{method}-s{cfg.seed}-{key[:10]}"
    if not path.is_dir() and cells.is_dir():
        earlier = sorted(cells.glob(f"*-{method}-s{cfg.seed}-{key[:10]}"))
        if earlier:
            return earlier[0]
    return path


CORRUPT_SUFFIX = ".corrupt"


def record_problem(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(record, None) for a readable record, else (None, what is wrong with the file).

    A record is a JSON object in UTF-8; anything else (a truncated or garbled
    file, a file from another tool, `[]`) is a problem, never a crash.
    """
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at line {exc.lineno})"
    if not isinstance(record, dict):
        return None, f"a JSON {type(record).__name__}, not a record object"
    return record, None


def read_record(directory: Path) -> dict[str, Any] | None:
    """The cell's record, or None when the cell has to run.

    A corrupt or foreign record is named in a warning and moved aside to
    `record.json.corrupt` (kept for inspection, out of the report's way), so the
    cell is rerun instead of crashing every sweep that meets it.
    """
    path = directory / "record.json"
    if not path.is_file():
        return None
    record, problem = record_problem(path)
    if problem is None:
        return record
    aside = path.with_name(path.name + CORRUPT_SUFFIX)
    os.replace(path, aside)
    warnings.warn(
        f"record {path} is {problem}; moved to {aside.name}, rerunning the cell", stacklevel=2
    )
    return None


def find_records(root: Path) -> list[Path]:
    """Every record.json below `root`, in a stable order."""
    return sorted(Path(root).rglob("record.json"))
