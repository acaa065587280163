"""`data=audiofolder data.root=DIR`: a user's own WAV files, `DIR/<class>/*.wav`.

Layouts: `DIR/<class>/*.wav` (a test split is drawn stratified, `data.test_fraction`),
or `DIR/train/<class>/*.wav` + `DIR/test/<class>/*.wav` as for image folders.
Every non-hidden file under a class folder counts. PCM/float WAV of any rate, bit
depth and channel count (kdbench/data/audio/wav.py), resampled to `data.sample_rate`,
padded/cut to `data.duration` s at `data.pad_side`, then the front-end. Features
are cached, keyed by every file's path, size and mtime and the front-end settings.

Bad files (the policy): a few files that cannot be read (not WAV, truncated) are
skipped with ONE warning line giving their count and the first one; more than
`MAX_BAD_SHARE` of the files, a class folder with no readable file, a single
class, or no files at all stop the run with one line naming the path and the fix.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from kdbench.config import DataConfig
from kdbench.data.audio.wav import read_wav, resample
from kdbench.data.audio_features import feature_tag, featurize, frontend_config
from kdbench.data.base import TensorData, check_class_count
from kdbench.data.feature_cache import cached_arrays, frontend_settings, source_stats
from kdbench.data.registry import DATA_CHECKS, DATASETS
from kdbench.data.sequences import hold_out, sequence_data
from kdbench.errors import DataError, KdbenchError

MAX_BAD_SHARE = 0.1  # unreadable files beyond this share of the folder are an error
LAYOUT = (
    "give data.root=<folder> with <class>/*.wav (or train/<class>/*.wav and test/<class>/*.wav)"
)


def _class_files(folder: Path) -> dict[str, list[Path]]:
    """Files of each class folder under `folder`, sorted; DataError for empty class folders."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    out = {}
    for c in classes:
        files = sorted(f for f in c.rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise DataError(f"class folder {c} has no files; add .wav files to it or remove it")
        out[c.name] = files
    return out


def scan(root: Path) -> dict[str, dict[str, list[Path]]]:
    """{split: {class: files}} with split "all" (no train/test level) or "train" and "test"."""
    if not root.is_dir():
        raise KdbenchError(f"data.root={root} is not a folder; {LAYOUT}")
    if (root / "train").is_dir():
        if not (root / "test").is_dir():
            raise DataError(f"{root} has train/ but no test/; add test/<class>/*.wav")
        splits = {s: _class_files(root / s) for s in ("train", "test")}
        unknown = sorted(set(splits["test"]) - set(splits["train"]))
        if unknown:
            raise DataError(
                f"{root / 'test'} has classes not in train/: {', '.join(unknown)}; "
                "give both splits the same class folders"
            )
    else:
        splits = {"all": _class_files(root)}
    train = splits.get("train", splits.get("all"))
    if not train:
        raise DataError(f"{root} has no class folders with files; {LAYOUT}")
    if len(train) < 2:
        raise DataError(
            f"{root} has a single class ({next(iter(train))}); classification needs "
            "2 or more class folders"
        )
    return splits


def _read_split(
    files: dict[str, list[Path]], classes: list[str], rate: int
) -> tuple[list[np.ndarray], list[int], list[str]]:
    """Waveforms at `rate`, labels, and the messages of files that could not be read."""
    waves, labels, bad = [], [], []
    for c, paths in files.items():
        for f in paths:
            try:
                x, r = read_wav(f)
            except DataError as exc:
                bad.append(str(exc))
                continue
            waves.append(resample(x, r, rate))
            labels.append(classes.index(c))
    return waves, labels, bad


def decode(cfg: DataConfig, root: Path) -> dict[str, np.ndarray]:
    """Features and labels per split (`x_<split>`, `y_<split>`), classes, skipped files."""
    frontend_config(cfg)
    splits = scan(root)
    classes = sorted(splits.get("train", splits.get("all")))
    every = [f for s in splits.values() for fs in s.values() for f in fs]

    def build() -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {"classes": np.asarray(classes)}
        read = {
            split: _read_split(files, classes, cfg.sample_rate) for split, files in splits.items()
        }
        bad_all = [msg for _, _, bad in read.values() for msg in bad]
        if len(bad_all) > MAX_BAD_SHARE * len(every):
            raise DataError(
                f"{len(bad_all)} of {len(every)} files under {root} cannot be read; "
                f"first: {bad_all[0]}"
            )
        for split, (waves, labels, _) in read.items():
            y = np.asarray(labels, dtype=np.int64)
            for c, paths in splits[split].items():
                if not np.any(y == classes.index(c)):
                    raise DataError(
                        f"no file in {paths[0].parent} can be read; "
                        "convert its files to PCM WAV or remove the folder"
                    )
            arrays[f"x_{split}"], arrays[f"y_{split}"] = featurize(waves, cfg), y
        arrays["bad"] = np.asarray(bad_all, dtype=str)
        return arrays

    parts = {"root": str(root.resolve()), "files": source_stats(every), **frontend_settings(cfg)}
    return cached_arrays("audiofolder", parts, build)


@DATA_CHECKS.register("audiofolder")
def check_audiofolder(cfg: DataConfig) -> None:
    """data.root is a folder (its files are read, and checked, by the loader)."""
    if not cfg.root:
        raise KdbenchError(f"data.root is not set for audiofolder; {LAYOUT}")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise KdbenchError(f"data.root={root} is not a folder; {LAYOUT}")


@DATASETS.register("audiofolder")
def audiofolder(cfg: DataConfig) -> TensorData:
    check_audiofolder(cfg)
    root = Path(cfg.root).expanduser()
    a = decode(cfg, root)
    classes = [str(c) for c in a["classes"]]
    if len(a["bad"]):
        warnings.warn(
            f"{len(a['bad'])} unreadable files under {root} were skipped; first: {a['bad'][0]}",
            stacklevel=2,
        )
    check_class_count(root, len(classes), cfg.num_classes)
    if "x_all" in a:
        train, test = hold_out(a["x_all"], a["y_all"], cfg.test_fraction, cfg.split_seed, "test")
    else:
        train, test = (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])
    name = f"audio folder {root.name} ({feature_tag(cfg, *train[0].shape[1:])})"
    return sequence_data(cfg, train, test, len(classes), name, classes)
