"""One cell of a sweep, start to finish: the data flow of DESIGN.md.

config -> key (skip if done) -> data -> teacher (store) -> student training ->
test once -> efficiency of the student alone -> record, written atomically.
A cell that raises still leaves a record, with status "failed" and the error,
and a traceback file beside it, so a sweep never loses track of a cell.
"""

from __future__ import annotations

import platform
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning as L
import torch
from filelock import FileLock, Timeout

import kdbench
from kdbench import interrupts
from kdbench.config import EfficiencyConfig, KdbenchConfig, RecipeConfig
from kdbench.data import TensorData, TensorDataModule, load_data
from kdbench.data.base import drop_classes
from kdbench.distill import METHODS
from kdbench.efficiency import profile_student
from kdbench.efficiency.files import INPUTS_PT, STUDENT_PT
from kdbench.errors import Diverged, KdbenchError
from kdbench.fileio import (
    remove_stale_temp_files,
    write_atomic,
    write_json_atomic,
    write_text_atomic,
)
from kdbench.models import FeatureModel, build_model
from kdbench.module import DistillationModule, test_split_metrics
from kdbench.records import canonical_config, cell_dir, cell_key, read_record, report_settings
from kdbench.remeasure import (
    artifact_listing,
    has_student,
    latency_only,
    load_student,
    needs_measuring,
    remeasure_latency,
)
from kdbench.stage_runner import run_stages
from kdbench.stages import STAGES, FitResult, StageContext
from kdbench.sweep import job_threads
from kdbench.teacher_stream import TeacherStream
from kdbench.teachers import TeacherStore
from kdbench.trackers import tracker_loggers
from kdbench.training import fit_and_test

BUSY = "busy"  # run_cell's status for a cell another live process is training
CALIBRATION_SEED = 0  # every cell of a data set calibrates its int8 model on the same inputs
KEPT_INPUTS = 8  # real inputs kept beside the student (inputs.pt) for re-measuring


def versions() -> dict[str, str]:
    import hydra
    import torchmetrics

    return {
        "kdbench": kdbench.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "torchmetrics": torchmetrics.__version__,
        "hydra": hydra.__version__,
        "platform": platform.platform(),
    }


def _train_cell(cfg: KdbenchConfig, directory: Path) -> dict[str, Any]:
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    threads = job_threads(cfg.trainer.threads)
    if threads:
        torch.set_num_threads(threads)
    full = load_data(cfg.data)  # the teacher's: data.drop_classes shapes the student's only
    data = drop_classes(full, cfg.data.drop_classes)
    timing["data_s"] = time.perf_counter() - t0
    method_cls = METHODS.get(cfg.distill.name)
    for params in cfg.stages:  # a stage that cannot work on these models: one line, no training
        STAGES.get(params.name)(params).check_cell(cfg, data.spec, data.num_classes)

    teacher, teacher_meta = None, None
    if method_cls.uses_teacher or any(p.uses_teacher() for p in cfg.stages):
        t0 = time.perf_counter()
        teacher, teacher_meta = TeacherStore(cfg.teacher_store).get(cfg, full)
        timing["teacher_s"] = time.perf_counter() - t0

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    student = build_model(cfg.student, data.spec, data.num_classes)
    aug_seed = cfg.seed if cfg.data.aug_seed is None else cfg.data.aug_seed
    stream = None
    if (
        teacher_meta
        and cfg.trainer.teacher_stream
        and not method_cls.needs_teacher_features
        and "logits_file" not in teacher_meta  # its logits are read from the file itself
    ):
        stream = TeacherStream.for_cell(cfg, data, teacher_meta, aug_seed)
    label = progress_label(report_settings(cfg))
    loggers = tracker_loggers(cfg.logger.name, _sweep_folder(cfg), cfg.name, directory.name)

    def fit(
        model: FeatureModel, method: str, recipe: RecipeConfig, workdir: Path, stage: str
    ) -> FitResult:
        """Train `model` in place with the cell's method ("cell") or on labels ("none")."""
        params = cfg.distill if method == "cell" else METHODS.get("none").Params()
        cls = METHODS.get(params.name)
        built = cls(params, model, teacher, data.example(), len(data.train[1]), data.train[1])
        module = DistillationModule(
            model,
            teacher if cls.uses_teacher else None,
            built,
            recipe,
            data.num_classes,
            teacher_stream=stream if stage == "train" else None,  # its epochs are training's
            class_bias=cfg.eval.class_bias,
            count_classes=counted_classes(cfg),
        )
        dm = TensorDataModule(data, recipe.batch_size, seed=cfg.seed, aug_seed=aug_seed)
        metrics, training = fit_and_test(
            module,
            dm,
            recipe.epochs,
            cfg.trainer,
            workdir,
            label=label if stage == "train" else f"{label} {stage}",
            progress=cfg.progress,
            loggers=loggers if stage == "train" else (),
        )
        return FitResult(metrics, training)

    t0 = time.perf_counter()

    def evaluate(model: FeatureModel) -> dict[str, float]:
        """Test metrics of `model` as it is (a stage that does not train: pruning alone)."""
        return test_split_metrics(model, data, cfg.train.batch_size) if cfg.trainer.test else {}

    context = StageContext(cfg, data, teacher, fit, evaluate=evaluate)
    student, stages = run_stages(student, cfg, context, directory)
    final = stages[-1]
    metrics, training = final["metrics"], dict(stages[0]["training"])
    training["threads"] = torch.get_num_threads()
    if stream is not None:
        training["teacher_stream"] = {
            "key": stream.key,
            "produced_epochs": stream.produced,
            "over_limit_epochs": stream.over_limit,
        }
    timing["train_test_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    e = cfg.efficiency
    student = student.cpu().eval()  # the selected checkpoint's weights of the last stage
    calibration, histogram = data.calibration(e.calibration_size, seed=CALIBRATION_SEED)
    examples = calibration[:KEPT_INPUTS].clone()  # its own storage: inputs.pt stays small
    if e.keep_models:
        state = {k: v.detach().contiguous() for k, v in student.state_dict().items()}
        write_atomic(directory / STUDENT_PT, lambda f: torch.save(state, f))
        write_atomic(directory / INPUTS_PT, lambda f: torch.save({"inputs": examples}, f))
        for name, blob in (data.artifacts or {}).items():  # e.g. the tokenizer it was trained with
            write_atomic(directory / name, lambda f, b=blob: f.write(b))
    efficiency = {}
    if e.enabled:
        efficiency = _measure(student, data, e, directory, cfg.trainer.test, calibration, examples)
        efficiency["calibration"] = {"size": len(calibration), "class_counts": histogram}
    timing["efficiency_s"] = time.perf_counter() - t0
    return {
        "artifacts": artifact_listing(directory),
        "metrics": metrics,
        "training": training,
        "stages": stages if cfg.stages else None,
        "teacher_metrics": teacher_meta["metrics"] if teacher_meta else None,
        "teacher": (
            {
                k: teacher_meta[k]
                for k in ("key", "sha256", "cached", "train_s", "logits_file")
                if k in teacher_meta
            }
            if teacher_meta
            else None
        ),
        "data_info": {
            "display_name": data.display_name,
            "num_classes": data.num_classes,
            "input_shape": list(data.input_shape),
            "input_spec": data.spec.to_dict(),
            "sizes": {k: len(getattr(data, k)[1]) for k in ("train", "val", "test")},
        },
        "efficiency": efficiency,
        "timing": timing,
    }


def counted_classes(cfg: KdbenchConfig) -> tuple[int, ...]:
    """Classes whose test errors a record names: those dropped from training or biased."""
    return tuple(sorted({*cfg.data.drop_classes, *(int(c) for c in cfg.eval.class_bias)}))


def _stage_distills(params: Any) -> bool:
    return bool(getattr(params, "distill", False))


def _sweep_folder(cfg: KdbenchConfig) -> Path:
    return Path(cfg.results_dir) / cfg.name


def _measure(
    student: torch.nn.Module,
    data: TensorData,
    e: EfficiencyConfig,
    directory: Path,
    tested: bool,
    calibration: torch.Tensor,
    examples: torch.Tensor,
) -> dict[str, Any]:
    """The efficiency block; the ONNX files measured are kept when `e.keep_models`.

    Int8 accuracy is measured on the test split only when the cell is tested (never while
    tuning)."""
    return profile_student(
        student,
        data.spec,
        e,
        calibration=calibration,
        test=(data.prepare(data.test[0]), data.test[1]) if tested else None,
        out_dir=directory if e.keep_models else None,
        examples=examples,
    )


def remeasure_cell(cfg: KdbenchConfig, record: dict[str, Any], directory: Path) -> dict[str, Any]:
    """A finished cell measured again under `cfg.efficiency` from its kept student, no training.

    Only timing settings changed: latency from the kept files. Export settings
    changed (exporter, int8 calibration): the ONNX files are made again, which
    needs the data set (calibration images, int8 accuracy on the test split).
    """
    start = time.perf_counter()
    e = cfg.efficiency
    if latency_only(record, directory, e):
        record = remeasure_latency(record, directory, e)
    else:
        data = drop_classes(load_data(cfg.data), cfg.data.drop_classes)
        calibration, histogram = data.calibration(e.calibration_size, seed=CALIBRATION_SEED)
        student = load_student(record, directory)
        efficiency = _measure(
            student, data, e, directory, True, calibration, calibration[:KEPT_INPUTS].clone()
        )
        efficiency["calibration"] = {"size": len(calibration), "class_counts": histogram}
        record = {**record, "efficiency": efficiency}
    record["efficiency"]["measure_s"] = time.perf_counter() - start
    record["artifacts"] = artifact_listing(directory)
    write_json_atomic(directory / "record.json", record)
    return record


def cell_lock(directory: Path) -> FileLock:
    """The lock a cell is trained under, one per cell.

    It lives beside the cells (`<experiment>/.locks/`), not in the cell's folder,
    and is never deleted: removing a lock file that another process waits on
    would let two processes hold "the" lock at once. The OS releases it when
    its holder dies, so a killed sweep never leaves a cell locked.
    """
    folder = directory.parent.parent / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(str(folder / f"{directory.name}.lock"))


def run_cell(cfg: KdbenchConfig, wait: bool = False) -> dict[str, Any]:
    """Run one cell unless a finished record exists; always leave a record behind.

    The check, the training and the write happen under the cell's lock, so a
    cell is trained by one process at a time and nobody resumes from a
    `last.ckpt` that a live process is still writing. A cell locked by another
    process is waited for (`wait`, a single run) or left to it: the returned
    stand-in has status "busy" and nothing is written.

    A finished cell measured with other efficiency settings is re-measured from
    its kept student (`remeasured` in the returned record), not retrained.
    """
    key = cell_key(cfg)
    directory = cell_dir(cfg, key)
    existing = read_record(directory)
    if (
        existing is not None
        and existing.get("status") == "ok"
        and not needs_measuring(existing, cfg.efficiency)
    ):
        return {**existing, "skipped": True}  # the common rerun case, without the lock
    lock = cell_lock(directory)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            return {"key": key, "config": report_settings(cfg), "status": BUSY}
        log_line(f"waiting: another process is training this cell ({directory})")
        lock.acquire()
    try:
        existing = read_record(directory)  # the other process may have finished it meanwhile
        if existing is not None and existing.get("status") == "ok":
            finished = _finished(cfg, existing, directory)
            if finished is not None:
                return finished
        return _run_locked(cfg, key, directory)
    finally:
        lock.release()


def _finished(
    cfg: KdbenchConfig, existing: dict[str, Any], directory: Path
) -> dict[str, Any] | None:
    """A finished cell as it is, or re-measured; None when it must be trained again."""
    if not needs_measuring(existing, cfg.efficiency):
        return {**existing, "skipped": True}
    if has_student(directory):
        return {**remeasure_cell(cfg, existing, directory), "remeasured": True}
    return None  # without a kept student (efficiency.keep_models=false): train it again


def _run_locked(cfg: KdbenchConfig, key: str, directory: Path) -> dict[str, Any]:
    remove_stale_temp_files(directory, "record.json")  # left by a kill during a write
    base = {
        "schema": 1,
        "key": key,
        "config": report_settings(cfg),
        "resolved": canonical_config(cfg),
        "experiment": cfg.name,
        "versions": versions(),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    start = time.perf_counter()
    try:
        result = _train_cell(cfg, directory)
    except Exception as exc:  # noqa: BLE001 - any failure becomes a failed record
        if interrupts.received() is not None:
            raise KeyboardInterrupt from exc  # the interrupt surfaced as an error: not a result
        write_text_atomic(directory / "traceback.txt", traceback.format_exc())
        record = {
            **base,
            "status": "diverged" if isinstance(exc, Diverged) else "failed",
            "error": error_info(exc),
            "timing": {"total_s": time.perf_counter() - start},
        }
        write_json_atomic(directory / "record.json", record)
        return record
    if interrupts.received() is not None:
        # Lightning swallowed the interrupt and returned: what it trained is not a finished cell.
        raise KeyboardInterrupt
    result["timing"]["total_s"] = time.perf_counter() - start
    record = {**base, "status": "ok", **result}
    write_json_atomic(directory / "record.json", record)
    (directory / "traceback.txt").unlink(missing_ok=True)
    return record


def error_info(exc: BaseException) -> dict[str, Any]:
    """The record's `error`: type and first line; `user_error` marks input the user can fix."""
    info: dict[str, Any] = {"type": type(exc).__name__, "message": first_line(exc)}
    if isinstance(exc, KdbenchError):
        info["user_error"] = True
    elif isinstance(exc, torch.OutOfMemoryError):
        # Free the device so the sweep's next cell in this process starts clean.
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        info["message"] = (
            f"out of memory: {info['message']} (lower train.batch_size or the model size)"
        )
    return info


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def progress_label(c: dict[str, Any]) -> str:
    """What trains, in the per-epoch progress lines: `cnn_tiny kd T=4 w2=0.9 s0`."""
    label = f"{c['student']} {c['method']}"
    if c.get("T") is not None:
        label += f" T={c['T']:g} w2={c['w2']:g}"
    return f"{label} s{c['seed']}"


def describe(record: dict[str, Any]) -> str:
    """One progress line for a finished cell."""
    c = record["config"]
    settings = f"{c['student']:<12} {c['method']:<6}"
    if c.get("T") is not None:
        settings += f" T={c['T']:<4g} w2={c['w2']:<4g}"
    else:
        settings += " " * 15
    settings += f" seed={c['seed']}"
    if record.get("skipped"):
        return f"{settings}  skipped (already recorded)"
    if record.get("remeasured"):
        return f"{settings}  re-measured (efficiency settings changed; not retrained)"
    if record["status"] == "diverged":
        return f"{settings}  DIVERGED {record['error']['message']}"
    if record["status"] == BUSY:
        return f"{settings}  skipped (another process is training it)"
    if record["status"] != "ok":
        err = record["error"]
        return f"{settings}  FAILED {err['type']}: {err['message']}"
    top1 = record["metrics"].get("top1")
    score = f"top1={top1:6.2f}%" if top1 is not None else "(untested)"
    return f"{settings}  {score}  {record['timing']['total_s']:5.1f}s"


def log_line(line: str) -> None:
    print(line, file=sys.stdout, flush=True)
