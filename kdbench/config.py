"""Typed configuration: the schema of every Hydra config node, and its validation.

The dataclasses are registered in Hydra's ConfigStore, so the YAML files in
`conf/` and command-line overrides are type-checked at compose time (a string
for `distill.T` fails there). Range and name checks live in `validate`, which
turns the composed config into these dataclasses and raises a `ConfigError`
naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from kdbench.errors import ConfigError


@dataclass
class DataConfig:
    name: str = "digits"
    root: str | None = None  # for data sets read from disk
    val_fraction: float = 0.1  # share of the training set held out for model selection
    test_fraction: float = 0.2  # for data sets without an official test split (digits)
    split_seed: int = 0  # the split is fixed across cells, independent of the run seed
    augment: bool = False  # random crop (4-pixel padding) + horizontal flip, on the device
    # A sample's view in an epoch is a function of (aug_seed, epoch, index); null: the cell's seed
    aug_seed: int | None = None
    # synthetic data (tests): samples, classes and image shape
    num_samples: int = 600
    num_classes: int | None = 10  # image folders: the expected class count (null: as found)
    channels: int = 1  # image folders: 1 (grey) or 3 (RGB)
    image_size: int = 8  # image folders: images are resized to image_size x image_size
    # image data sets: fixed, class-stratified subsets (null = all)
    train_subset: int | None = None  # of the official training set, before val is held out
    test_subset: int | None = None


@dataclass
class OptimConfig:
    name: str = "sgd"  # sgd | adamw
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # cosine | constant


@dataclass
class RecipeConfig:
    """How a network is trained: epochs, batch size, optimizer."""

    epochs: int = 20
    batch_size: int = 64
    optim: OptimConfig = field(default_factory=OptimConfig)


@dataclass
class ModelConfig:
    name: str = "cnn"
    depth: int | None = None  # size keys; None keeps the architecture's default
    width: float | None = None


def model_label(m: ModelConfig) -> str:
    """A model's name with its size overrides, e.g. `cnn-w0.25` or `resnet20`."""
    parts = [m.name]
    if m.depth is not None:
        parts.append(f"d{m.depth}")
    if m.width is not None and m.width != 1.0:
        parts.append(f"w{m.width:g}")
    return "-".join(parts)


@dataclass
class TeacherConfig(ModelConfig):
    seed: int = 0  # teachers are shared across student seeds unless this is set per cell
    recipe: RecipeConfig = field(default_factory=RecipeConfig)
    # Non-empty: an ensemble of these members (each trained with `recipe`, stored like a
    # single teacher); soft targets are the mean of their softened distributions.
    ensemble: list[ModelConfig] = field(default_factory=list)


def teacher_label(t: TeacherConfig) -> str:
    """`cnn-w2`, or for an ensemble its members joined by `+`."""
    if t.ensemble:
        return "+".join(model_label(m) for m in t.ensemble)
    return model_label(t)


@dataclass
class DistillConfig:
    """Loss = w1 * CE(student, label) + w2 * method term.

    Give either `alpha` (w1 = 1 - alpha, w2 = alpha) or both `w1` and `w2`.
    """

    name: str = "kd"
    T: float = 4.0
    alpha: float | None = 0.9
    w1: float | None = None
    w2: float | None = None
    t2_scaling: bool = True  # multiply the soft term by T^2 (Hinton et al.)
    # Method-specific keys (kdbench/distill/*): each method's `params` names the ones it reads.
    logit_stand: bool = False  # KD/DKD: z-score logits per sample before /T (Sun et al., 2024)
    dkd_alpha: float = 1.0  # DKD: weight of the target-class part (TCKD)
    dkd_beta: float = 8.0  # DKD: weight of the non-target part (NCKD)
    warmup: int = 0  # DKD: epochs over which the term ramps up linearly from 0
    dist_beta: float = 1.0  # DIST: weight of the inter-class (per-sample) relation
    dist_gamma: float = 1.0  # DIST: weight of the intra-class (per-class) relation
    hint_layer: int | None = None  # FitNet: student stage of the hint; None = the middle one
    at_p: float = 2.0  # AT: power of the activation map
    rkd_distance: float = 25.0  # RKD: weight of the distance term
    rkd_angle: float = 50.0  # RKD: weight of the angle term
    crd_feat_dim: int = 128  # CRD: embedding size
    crd_nce_k: int = 16384  # CRD: negatives per positive (capped at the training set size)
    crd_nce_t: float = 0.07  # CRD: temperature of the critic
    crd_momentum: float = 0.5  # CRD: memory bank update momentum


@dataclass
class TrainerConfig:
    accelerator: str = "cpu"
    devices: Any = 1
    precision: str = "32-true"
    threads: int = 0  # torch intra-op threads for training; 0 keeps torch's default
    max_epochs_cap: int | None = None  # caps teacher and student epochs (smoke tests)
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    select: str = "best_val"  # checkpoint evaluated on test: best_val | last
    channels_last: bool = False  # NHWC memory format for models and batches (faster convs on GPU)
    compile: bool = False  # torch.compile the student and teacher (nn.Module.compile)
    # Logit methods read the teacher's logits of each epoch's views from one shared pass,
    # kept in the teacher store (kdbench/teacher_stream.py); false: run the teacher live.
    teacher_stream: bool = True
    teacher_stream_max_mb: float = 2048.0  # streams beyond this much disk: live teacher instead


@dataclass
class EfficiencyConfig:
    """How the student alone is measured (kdbench.efficiency)."""

    enabled: bool = True
    threads: int = 1  # as on a small device
    warmup: int = 10  # untimed runs before timing
    min_time_s: float = 1.0  # timed runs cover at least this long ...
    min_runs: int = 5  # ... and number at least this many
    batch_sizes: list[int] = field(default_factory=lambda: [1, 32])
    backends: list[str] = field(default_factory=lambda: ["torch_fp32", "ort_fp32", "ort_int8"])
    calibration_size: int = 256  # training images that calibrate the static int8 model
    int8_per_channel: bool = False
    exporter: str = "torchscript"  # torchscript (fast) | dynamo


@dataclass
class KdbenchConfig:
    name: str = "default"  # experiment name: records go to <results_dir>/<name>/
    seed: int = 0
    results_dir: str = "results"
    teacher_store: str = "${results_dir}/teachers"
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: ModelConfig = field(default_factory=ModelConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    train: RecipeConfig = field(default_factory=RecipeConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    efficiency: EfficiencyConfig = field(default_factory=EfficiencyConfig)


def register_configs() -> None:
    """Make the schema available to the `defaults` lists in conf/."""
    cs = ConfigStore.instance()
    cs.store(name="kdbench_schema", node=KdbenchConfig)


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: {allowed}")


def _check_recipe(prefix: str, recipe: RecipeConfig, optimizers: list[str]) -> None:
    _check(recipe.epochs >= 1, f"{prefix}.epochs", recipe.epochs, "must be >= 1")
    _check(recipe.batch_size >= 1, f"{prefix}.batch_size", recipe.batch_size, "must be >= 1")
    _check(recipe.optim.lr > 0, f"{prefix}.optim.lr", recipe.optim.lr, "must be > 0")
    _check(
        recipe.optim.name in optimizers,
        f"{prefix}.optim.name",
        recipe.optim.name,
        f"one of {', '.join(optimizers)}",
    )
    _check(
        recipe.optim.schedule in SCHEDULES,
        f"{prefix}.optim.schedule",
        recipe.optim.schedule,
        f"one of {', '.join(SCHEDULES)}",
    )


def _check_efficiency(e: EfficiencyConfig) -> None:
    from kdbench.efficiency import BACKENDS, EXPORTERS

    for b in e.backends:
        _check(b in BACKENDS, "efficiency.backends", b, f"known backends: {', '.join(BACKENDS)}")
    _check(
        e.exporter in EXPORTERS, "efficiency.exporter", e.exporter, f"one of {', '.join(EXPORTERS)}"
    )
    _check(e.warmup >= 0, "efficiency.warmup", e.warmup, "must be >= 0")
    _check(e.min_time_s >= 0, "efficiency.min_time_s", e.min_time_s, "must be >= 0")
    _check(e.min_runs >= 1, "efficiency.min_runs", e.min_runs, "must be >= 1")
    _check(
        e.calibration_size >= 1, "efficiency.calibration_size", e.calibration_size, "must be >= 1"
    )


SCHEDULES = ("cosine", "constant")
SELECTIONS = ("best_val", "last")


def loss_weights(d: DistillConfig) -> tuple[float, float]:
    """(w1, w2) from either form; `validate` has already checked the form is complete."""
    if d.w1 is not None and d.w2 is not None:
        return float(d.w1), float(d.w2)
    return 1.0 - float(d.alpha), float(d.alpha)  # type: ignore[arg-type]


def validate(cfg: DictConfig | KdbenchConfig) -> KdbenchConfig:
    """Return the config as dataclasses, or raise ConfigError naming the bad key."""
    from kdbench.data import DATASETS
    from kdbench.distill import METHODS
    from kdbench.models import MODELS
    from kdbench.module import OPTIMIZERS

    c: KdbenchConfig = cfg if isinstance(cfg, KdbenchConfig) else OmegaConf.to_object(cfg)  # type: ignore[assignment]
    members = [(f"teacher.ensemble[{i}]", m) for i, m in enumerate(c.teacher.ensemble)]
    models = members or [("teacher", c.teacher)]
    for key, model in (*models, ("student", c.student)):
        _check(
            model.name in MODELS, f"{key}.name", model.name, f"known models: {', '.join(MODELS)}"
        )
        if model.width is not None:
            _check(model.width > 0, f"{key}.width", model.width, "must be > 0")
    _check(
        c.data.name in DATASETS, "data.name", c.data.name, f"known data sets: {', '.join(DATASETS)}"
    )
    _check(
        0 < c.data.val_fraction < 1, "data.val_fraction", c.data.val_fraction, "must be in (0, 1)"
    )
    d = c.distill
    _check(d.name in METHODS, "distill.name", d.name, f"known methods: {', '.join(METHODS)}")
    _check(d.T > 0, "distill.T", d.T, "the temperature must be > 0")
    if d.w1 is not None or d.w2 is not None:
        _check(
            d.w1 is not None and d.w2 is not None,
            "distill.w1/w2",
            (d.w1, d.w2),
            "give both w1 and w2, or alpha",
        )
        _check(d.w1 >= 0, "distill.w1", d.w1, "must be >= 0")  # type: ignore[operator]
        _check(d.w2 >= 0, "distill.w2", d.w2, "must be >= 0")  # type: ignore[operator]
    else:
        _check(d.alpha is not None, "distill.alpha", d.alpha, "set alpha in [0, 1], or w1 and w2")
        _check(0 <= d.alpha <= 1, "distill.alpha", d.alpha, "must be in [0, 1]")  # type: ignore[operator]
    _check_recipe("train", c.train, sorted(OPTIMIZERS))
    _check_recipe("teacher.recipe", c.teacher.recipe, sorted(OPTIMIZERS))
    _check(
        c.trainer.select in SELECTIONS,
        "trainer.select",
        c.trainer.select,
        f"one of {', '.join(SELECTIONS)}",
    )
    if c.trainer.max_epochs_cap is not None:
        _check(
            c.trainer.max_epochs_cap >= 1,
            "trainer.max_epochs_cap",
            c.trainer.max_epochs_cap,
            "must be >= 1",
        )
    _check(
        all(b >= 1 for b in c.efficiency.batch_sizes),
        "efficiency.batch_sizes",
        c.efficiency.batch_sizes,
        "every batch size must be >= 1",
    )
    _check(c.efficiency.threads >= 1, "efficiency.threads", c.efficiency.threads, "must be >= 1")
    _check_efficiency(c.efficiency)
    return c
