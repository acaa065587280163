"""Typed configuration: the schema of every Hydra config node.

The dataclasses are registered in Hydra's ConfigStore, so the YAML files in
`conf/` and command-line overrides are type-checked at compose time (a string
for `train.epochs` fails there; `distill` is typed by the chosen method's own
schema, in `kdbench.distill.parse_params`). This module is the schema only: it imports
nothing of kdbench, so every layer can read it. Range and name checks, which
need the registries, live one floor up in `kdbench.validate`.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
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
    # a data file: arrays (the .npz with x [N, T, C], y [N], optional x_test, y_test, classes)
    # or textfile (the training CSV/TSV: .tsv tab-separated, else comma)
    path: str | None = None
    # audio (fsdd, audiofolder): clips resampled to sample_rate, padded/cut to duration seconds
    # at pad_side (end: keep the start; center), then the front-end (kdbench.data.audio.frontend)
    sample_rate: int = 8000
    duration: float = 1.0
    pad_side: str = "end"  # end | center
    features: str = "mfcc"  # mfcc | logmel
    n_mfcc: int = 10
    n_mels: int = 40
    window_ms: float = 40.0
    hop_ms: float = 20.0
    fmin: float = 20.0
    fmax: float | None = None  # null: sample_rate / 2
    log_floor: float = 1e-6  # ln(max(mel energy, log_floor)), as TF's KWS example's log(x + 1e-6)
    # text data sets (kdbench/data/text/): labelled texts and their tokenizer
    test_path: str | None = None  # textfile: a separate test file; null: drawn from `path`
    text_column: str = "sentence"
    label_column: str = "label"
    vocab_size: int = 8000  # WordPiece vocabulary, trained on the training split only
    max_length: int = 64  # tokens per sample (longer texts are cut, shorter ones padded)
    lowercase: bool = True
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
    warmup_epochs: float = 0.0  # linear warm-up from 0 to lr over these epochs, then `schedule`
    # no weight decay on norms, biases, class/distillation tokens and positional embeddings
    decay_exempt: bool = False


@dataclass
class RecipeConfig:
    """How a network is trained: epochs, batch size, optimizer."""

    epochs: int = 20
    batch_size: int = 64
    optim: OptimConfig = field(default_factory=OptimConfig)
    label_smoothing: float = 0.0  # on the cross-entropy with the labels (every method's `ce`)


# Recipe settings added after results existed: left out of a cell's or teacher's identity
# while at these defaults, so adding them changed no existing key (`recipe_identity`).
_LATER_RECIPE = {"label_smoothing": 0.0}
_LATER_OPTIM = {"warmup_epochs": 0.0, "decay_exempt": False}


def recipe_identity(recipe: dict[str, Any]) -> dict[str, Any]:
    """A recipe (as a dict) without the later-added settings that are at their defaults."""
    out = {k: v for k, v in recipe.items() if _LATER_RECIPE.get(k, object()) != v}
    out["optim"] = {k: v for k, v in recipe["optim"].items() if _LATER_OPTIM.get(k, object()) != v}
    return out


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
    conv_layers: int | None = None  # CCT: convolutions of the tokenizer
    positional: str | None = None  # vision transformers: learnable | sine positional embedding


def model_size(m: ModelConfig) -> dict[str, Any]:
    """The size keys a model config sets (not None), by name: what `create_model` receives."""
    return {
        f.name: getattr(m, f.name)
        for f in fields(ModelConfig)
        if f.name != "name" and getattr(m, f.name) is not None
    }


# How a true / false size flag shows in a label (`lstm-d1-w1.28-bi`).
_BOOL_TAGS = {"bidirectional": ("bi", "uni")}


def model_label(m: ModelConfig) -> str:
    """The one name a model has in every output (tables, folders, progress lines, README).

    The `student=`/`teacher=` option that selects exactly this model (`cnn_small` for cnn
    at width 0.25, however it was asked for), so the name printed is a name to type.
    A size no option has is `<model>-d<depth>-w<width>` (`cnn-w0.3`: type `student=cnn
    student.width=0.3`). A pure function of (name, depth, width), so records written
    before this scheme print the same names.
    """
    option = model_options().get(_size_key(m.name, model_size(m)))
    if option is not None:
        return option
    parts = [m.name]
    for key, value in model_size(m).items():
        if key == "depth":
            parts.append(f"d{value}")
        elif key == "width":
            if value != 1.0:
                parts.append(f"w{value:g}")
        elif isinstance(value, bool):
            parts.append(_BOOL_TAGS.get(key, (key, f"no_{key}"))[0 if value else 1])
        else:
            parts.append(f"{key}{value:g}" if isinstance(value, float) else f"{key}{value}")
    return "-".join(parts)


MODEL_GROUPS = ("student", "teacher")


SizeKey = tuple[str, tuple[tuple[str, Any], ...]]


def _size_key(name: Any, sizes: dict[str, Any]) -> SizeKey:
    """A model's identity for naming: its name and the size keys it sets (numbers as float)."""
    norm = {
        k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        for k, v in sizes.items()
        if v is not None
    }
    if norm.get("width") == 1.0:
        norm.pop("width")  # width 1.0 is every family's default
    return str(name), tuple(sorted(norm.items()))


@functools.cache
def model_options(conf_dir: str = CONF_DIR) -> dict[SizeKey, str]:
    """(name, size keys) -> the conf/student|teacher option holding exactly that model.

    A test keeps this one-to-one: an option name means the same model in both groups.
    """
    out: dict[SizeKey, str] = {}
    size_fields = {f.name for f in fields(ModelConfig)} - {"name"}
    for group in MODEL_GROUPS:
        for path in sorted((Path(conf_dir) / group).glob("*.yaml")):
            node = yaml.safe_load(path.read_text()) or {}
            if not isinstance(node, dict) or "name" not in node or node.get("ensemble"):
                continue
            sizes = {k: v for k, v in node.items() if k in size_fields}
            out.setdefault(_size_key(node["name"], sizes), path.stem)
    return out


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
    # name=logits_file: the teacher is a file of its training logits (kdbench/models/precomputed.py)
    path: str | None = None


# The teacher that is a file of logits, not a network (a model too large to run here).
LOGITS_FILE = "logits_file"


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
    defaults: bool = False  # opt-in: also run each method at its yaml defaults (defaults/)
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
