"""Typed configuration: the schema of every Hydra config node.

The dataclasses are registered in Hydra's ConfigStore, so the YAML files in
`conf/` and command-line overrides are type-checked at compose time (a string
for `train.epochs` fails there; `distill` is typed by the chosen method's own
schema, in `kdbench.distill.parse_params`). This module is the schema only: it imports
nothing of kdbench, so every layer can read it. Range and name checks, which
need the registries, live one floor up in `kdbench.validate`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore

# The Hydra config tree shipped with the package (conf/ beside kdbench/).
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@dataclass
class DataConfig:
    name: str = "digits"
    root: str | None = None  # for data sets read from disk
    # share of the training set held out for model selection; 0: none (mnist, digits), which
    # needs trainer.select=last
    val_fraction: float = 0.1
    test_fraction: float = 0.2  # for data sets without an official test split (digits)
    split_seed: int = 0  # the split is fixed across cells, independent of the run seed
    # Keyed training augmentation, in order: names or {name: ..., <param>: ...}
    # (kdbench.data.augment: crop, flip, jitter, ...); [] for none
    augment: list[Any] = field(default_factory=list)
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
    # Classes removed from the student's training and validation splits (a transfer set
    # without them, Hinton et al. 2015 sec. 3); the test split and the teacher keep them.
    drop_classes: list[int] = field(default_factory=list)


def data_identity(d: DataConfig) -> dict[str, Any]:
    """What a data config contributes to an identity (cells, teachers, streams).

    `aug_seed` is left out (given resolved where it matters) and `drop_classes`
    when empty, so results from before the key existed keep their keys.
    """
    out = {k: v for k, v in asdict(d).items() if k != "aug_seed"}
    if not out["drop_classes"]:
        out.pop("drop_classes")
    return out


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
    """A model: its registered name and its size keys (None keeps the architecture's default).

    Every family accepts a subset of the size keys (`kdbench.models.registry.check_model`
    names the ones a model takes); the rest stay None.
    """

    name: str = "cnn"
    depth: int | None = None  # layers, blocks or stages
    width: float | None = None  # a width multiplier (CNNs, MLPs) or hidden units / 100 (RNNs)
    hidden: int | None = None  # MLPs: units per hidden layer (overrides 256 * width)
    input_side: int | None = None  # MLPs: inputs are average-pooled to this side first (8)
    embed_dim: int | None = None  # token / frame embedding size (transformers, text models)
    heads: int | None = None  # attention heads
    mlp_ratio: float | None = None  # transformer MLP hidden size / embed_dim
    patch_size: int | None = None  # vision transformers: patch side
    kernel_size: int | None = None  # 1-D / tokenizer convolutions
    bidirectional: bool | None = None  # recurrent models
    dropout: float | None = None  # on hidden layers
    input_dropout: float | None = None  # on the inputs (Hinton et al.'s MLPs)
    max_norm: float | None = None  # max-norm constraint on each unit's incoming weights
    pooling: str | None = None  # how a sequence becomes one vector: cls | mean | last


def model_size(m: ModelConfig) -> dict[str, Any]:
    """The size keys a model config sets (not None), by name: what `create_model` receives."""
    return {
        f.name: getattr(m, f.name)
        for f in fields(ModelConfig)
        if f.name != "name" and getattr(m, f.name) is not None
    }


def model_label(m: ModelConfig) -> str:
    """A model's name with its size overrides, e.g. `cnn-w0.25` or `resnet20`."""
    parts = [m.name]
    for key, value in model_size(m).items():
        if key == "depth":
            parts.append(f"d{value}")
        elif key == "width":
            if value != 1.0:
                parts.append(f"w{value:g}")
        else:
            parts.append(f"{key}{value:g}" if isinstance(value, float) else f"{key}{value}")
    return "-".join(parts)


@dataclass
class TeacherConfig(ModelConfig):
    seed: int = 0  # teachers are shared across student seeds unless this is set per cell
    recipe: RecipeConfig = field(default_factory=RecipeConfig)
    # Non-empty: an ensemble of these members (each trained with `recipe`, stored like a
    # single teacher); soft targets are the mean of their softened distributions.
    ensemble: list[ModelConfig] = field(default_factory=list)
    # The teacher's own training augmentation (same form as `data.augment`); null: the
    # data's. Hinton et al. (2015) jittered the teacher's MNIST inputs, not the student's.
    augment: list[Any] | None = None


# The defaults of kdbench.distill.base.MethodParams (a test keeps the two equal).
DISTILL_SHARED = {
    "name": "kd",
    "T": 4.0,
    "alpha": 0.9,
    "w1": None,
    "w2": None,
    "t2_scaling": True,
    "label": None,
}


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
    test: bool = True  # evaluate the selected checkpoint on the test split (off while tuning)
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
    # Keep student.pt, student.onnx and student.int8.onnx beside each record (off for huge
    # grids; without them a change of these settings retrains instead of re-measuring).
    keep_models: bool = True


@dataclass
class LoggerConfig:
    """Experiment tracker beside the always-written metrics.csv (kdbench.trackers)."""

    name: str = "csv"  # csv | tensorboard | mlflow


@dataclass
class TuneConfig:
    """`kdbench-tune` (kdbench/tune/): equal Optuna budgets per method, then fresh seeds.

    Not part of a cell's identity (records.py): it says how cells are chosen, not
    what one computes.
    """

    methods: list[str] = field(default_factory=list)  # distill options; empty: the sweep's
    trials: int = 20  # per method, the same for every method
    seeds: list[int] = field(default_factory=lambda: [0])  # a trial's value: mean over these
    final_seeds: list[int] = field(default_factory=lambda: [100, 101, 102])  # disjoint
    sampler_seed: int = 0  # TPE's seed; each method's sampler mixes in its name
    startup_trials: int | None = None  # TPE's random start; None: a third of the trials
    defaults: bool = True  # also run each method at its yaml defaults on the final seeds
    space_dir: str | None = None  # search spaces, <dir>/<method>.yaml; None: conf/tune


@dataclass
class EvalConfig:
    """How the trained student is evaluated on the test split, beside the plain metrics."""

    # class -> logit bias: the test metrics are also computed with these added to the
    # student's logits (`biased_*` metrics; Hinton et al. raised the 3's by 3.5 after a
    # transfer set without 3s). Evaluation only: training and the kept model are unbiased.
    class_bias: dict[int, float] = field(default_factory=dict)


@dataclass
class KdbenchConfig:
    name: str = "default"  # experiment name: records go to <results_dir>/<name>/
    seed: int = 0
    results_dir: str = "results"
    teacher_store: str = "${results_dir}/teachers"
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: ModelConfig = field(default_factory=ModelConfig)
    # Untyped here: each method has its own schema (kdbench/distill/<method>.py), applied by
    # `validate`, which turns this node into the method's parameter dataclass. The shared keys
    # (kdbench.distill.base.MethodParams) are present for every method, so `distill.T=...`
    # composes with any `distill=` option; conf/distill/<option>.yaml adds the method's own.
    distill: Any = field(default_factory=lambda: dict(DISTILL_SHARED))
    train: RecipeConfig = field(default_factory=RecipeConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    efficiency: EfficiencyConfig = field(default_factory=EfficiencyConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    # Stages after training, in order (kdbench/stages/): [{name: finetune, epochs: 5}, ...];
    # untyped here, each entry is checked against its stage's own dataclass by `validate`.
    stages: list[Any] = field(default_factory=list)
    progress: str = "auto"  # auto (a bar on a terminal, else a line per epoch) | bar | lines | off


def register_configs() -> None:
    """Make the schema available to the `defaults` lists in conf/."""
    cs = ConfigStore.instance()
    cs.store(name="kdbench_schema", node=KdbenchConfig)
