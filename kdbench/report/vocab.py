"""The report's vocabulary, defined once: what tables and figures both need to know.

Kept below `stats`, `tables` and `figures` so none of them imports another for a name.
"""

from __future__ import annotations

from typing import Any

BASELINE = "none"  # the method that is "the same student trained alone"
# Settings that never split a group: the seed is what we average over.
NOT_GROUPING = ("seed",)
# Settings a baseline record is not matched on when pairing a method with its
# student alone (the baseline has no teacher and its own loss weights).
NOT_BASELINE_IDENTITY = ("method", "base_method", "teacher", "w1", "w2", "seed")
IDENTITY = ("data", "teacher", "student", "method")
# Parts of the student's label (`cnn-d2-w0.5`): never a column of their own in the tables.
STUDENT_PARTS = ("student_name", "student_depth", "student_width")
# Parts of the teacher's label (`cnn-w2`, `resnet8+wrn_16_2`).
TEACHER_PARTS = ("teacher_name", "teacher_depth", "teacher_width", "teacher_ensemble")
# label -> the settings it is made of: shown as the label only, never twice. `method` (the
# option the user chose, e.g. `kd_ls`) determines its base method (`kd`).
LABEL_PARTS = {"student": STUDENT_PARTS, "teacher": TEACHER_PARTS, "method": ("base_method",)}
PARTS = tuple(p for parts in LABEL_PARTS.values() for p in parts)
# Loss-weight forms that may restate one another (alpha = w2, w1 = 1 - w2): shown only
# where they split the rows differently from a shown column.
WEIGHT_FORMS = ("w2", "w1", "alpha")
# Settings of the method, for records written before `resolved` carried their paths:
# everything else in such an old `config` block is here.
OLD_CONTEXT = ("data", "teacher", "student", *STUDENT_PARTS)
# The data settings (report labels) each built-in data set reads (kdbench/data/*.py): a
# table never says "Same in every row: num_samples=600" of digits, a setting of the synthetic
# set only. A data set not named here (a plugin) is taken to read them all.
_SPLIT = ("val_fraction", "split_seed", "drop_classes")
_IMAGES = (*_SPLIT, "root", "augment", "aug_seed", "train_subset", "test_subset")
_FOLDER = (*_IMAGES, "num_classes", "channels", "image_size")
_AUDIO = (*_SPLIT, "augment", "aug_seed", "sample_rate", "duration", "pad_side", "features")
_AUDIO += ("n_mfcc", "n_mels", "window_ms", "hop_ms", "fmin", "fmax", "log_floor")
_TEXT = (*_SPLIT, "vocab_size", "max_length", "lowercase")
DATA_READS: dict[str, tuple[str, ...]] = {
    "digits": (*_SPLIT, "test_fraction"),
    "synthetic": (*_SPLIT, "test_fraction", "augment", "aug_seed", "num_samples")
    + ("num_classes", "channels", "image_size"),
    "cifar10": _IMAGES,
    "cifar100": _IMAGES,
    "cifar10_jpeg": _FOLDER,
    "imagefolder": _FOLDER,
    "mnist": _IMAGES,  # a fixed test set: no test_fraction
    "fsdd": (*_AUDIO, "train_subset", "test_subset"),
    "audiofolder": (*_AUDIO, "root", "num_classes"),
    "arrays": (*_SPLIT, "path", "augment", "aug_seed"),
    "sst2": (*_TEXT, "root", "train_subset", "test_subset"),
    "textfile": (*_TEXT, "path", "test_path", "text_column", "label_column", "test_fraction"),
}
DATA_SETTINGS = frozenset(s for reads in DATA_READS.values() for s in reads)
SIGNIFICANCE = 0.05  # † marks Holm-adjusted p below this
DAGGER = "†"


def is_number(value: Any) -> bool:
    """A real number (bools are settings, not measurements)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
