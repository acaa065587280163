"""Data held in memory as tensors, served in batches by slicing.

A per-sample `Dataset` plus collate costs a Python call per image; on small
images that dominates a training step (measured 1.6x slower on digits). Here a
batch is one index into a tensor: the sampler yields index lists and the
dataset returns `x[idx], y[idx]`.

Image data sets stay uint8 (on the GPU too: moved there once in `setup`);
`TensorData.prepare` turns a batch into what models take (float, normalized
with the data set's own statistics) on the device; training batches are
augmented first, by keyed transforms (kdbench.data.augment).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import lightning as L
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from kdbench.data.augment import Transform, channel_axis, normalize, to_float, view_keys
from kdbench.errors import KdbenchError
from kdbench.inputs import InputSpec

Split = tuple[torch.Tensor, torch.Tensor]  # stored inputs (N, ...), labels (N,)
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # inputs, labels, sample indices


def epoch_view(
    x: torch.Tensor,
    index: torch.Tensor,
    epoch: int,
    aug_seed: int,
    augment: Transform | None,
) -> torch.Tensor:
    """Stored training inputs `x` (samples `index`) as augmented in `epoch`, still stored dtype.

    A function of (aug_seed, epoch, index) only, so the teacher stream
    (kdbench/teacher_stream.py) and a training batch see the same views.
    """
    if augment is None:
        return x
    return augment(x, view_keys(aug_seed, epoch, index))


@dataclass(frozen=True)
class SourceRows:
    """Where each sample of the splits came from in the ORIGINAL files, before any subset or
    validation split: what a logits file's rows are aligned with (kdbench/models/precomputed.py).

    `train[i]` is the row of the training file of the i-th training-split sample (the file has
    `train_size` rows); `test[i]` likewise in the test file, or in the training file when
    the test split was drawn from it (`test_in_train`).
    """

    train: torch.Tensor
    train_size: int
    test: torch.Tensor
    test_size: int
    test_in_train: bool = False


@dataclass
class TensorData:
    """A data set split into train / val / test, with what models need to know of it.

    `spec` describes one model input (kind, shape, vocabulary); loaders of image
    data may leave it out, it is then read off the stored images.
    """

    train: Split
    val: Split
    test: Split
    num_classes: int
    display_name: str  # how reports name it, e.g. "CIFAR-10 (JPEG)"
    mean: tuple[float, ...] | None = None  # per-channel statistics of the training split
    std: tuple[float, ...] | None = None  # (images: on the [0, 1] scale); None: not normalized
    augment: Transform | None = None  # keyed, applied to training batches only (build_augment)
    spec: InputSpec | None = None
    classes: list[str] | None = None  # class names by label, where the data set has them
    # Files a deployed model needs besides its weights (a text set's tokenizer.json): the
    # runner writes them beside every kept student.
    artifacts: dict[str, bytes] | None = None
    # Where samples came from (what a logits file is aligned with); None: not tracked
    rows: SourceRows | None = None

    def __post_init__(self) -> None:
        if self.spec is None:
            self.spec = InputSpec("image", tuple(self.train[0].shape[1:]))

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """A stored batch -> model input: uint8 -> float, per-channel normalization.

        Token ids pass unchanged.
        """
        x = to_float(x)
        if self.mean is not None and self.std is not None and self.spec.kind != "tokens":
            x = normalize(x, self.mean, self.std, channel_axis(self.spec.kind))
        return x

    def example(self, n: int = 2) -> torch.Tensor:
        """The first `n` training inputs as model input (methods size their adapters on it)."""
        return self.prepare(self.train[0][:n])

    def calibration_index(self, n: int, seed: int = 0) -> torch.Tensor:
        """Indices of `n` training samples, class-balanced and seeded.

        Each class's samples are shuffled (fixed by `seed`) and the classes are
        taken in turn, so any prefix holds every class as evenly as the counts
        allow. Never the first n: folder data sets store their training split
        sorted by class, and the first n would be one class.
        """
        y = self.train[1].cpu()
        g = torch.Generator().manual_seed(seed)
        per_class = [
            idx[torch.randperm(len(idx), generator=g)]
            for idx in (torch.nonzero(y == c).flatten() for c in torch.unique(y))
        ]
        rounds = max((len(p) for p in per_class), default=0)
        order = [p[r] for r in range(rounds) for p in per_class if r < len(p)]
        return torch.stack(order[:n]) if order and n > 0 else torch.zeros(0, dtype=torch.long)

    def calibration(self, n: int, seed: int = 0) -> tuple[torch.Tensor, dict[str, int]]:
        """`n` class-balanced training inputs (model input) and their class histogram."""
        index = self.calibration_index(n, seed)
        labels = self.train[1].cpu()[index]
        counts = torch.bincount(labels, minlength=self.num_classes).tolist()
        return self.prepare(self.train[0][index]), {str(c): int(k) for c, k in enumerate(counts)}

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.spec.shape

    @property
    def in_channels(self) -> int:
        return self.spec.channels


def drop_classes(data: TensorData, classes: list[int]) -> TensorData:
    """`data` without samples of `classes` in its training and validation splits.

    The transfer-set experiment of Hinton et al. (2015, sec. 3): the student never
    sees a 3, the test split keeps all of them. Validation is carved from the
    training split, so it loses them too. Indices are renumbered: a sample's index
    (augmentation keys, the teacher stream) is its position in the reduced split.
    """
    if not classes:
        return data
    drop = torch.as_tensor(sorted(set(classes)), dtype=torch.long)

    def keep(split: Split) -> Split:
        x, y = split
        mask = ~torch.isin(y, drop.to(y.device))
        return x[mask], y[mask]

    return replace(data, train=keep(data.train), val=keep(data.val))


def check_class_count(where: object, found: int, expected: int | None) -> None:
    """KdbenchError unless a folder data set found the classes `data.num_classes` expects."""
    if expected is not None and expected != found:
        raise KdbenchError(
            f"{where} has {found} classes but data.num_classes={expected}; "
            f"set data.num_classes={found} (or null to take it from the folders)"
        )


def stratified_splits(
    x: np.ndarray, y: np.ndarray, fractions: tuple[float, ...], seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split (x, y) into len(fractions) + 1 stratified parts, fixed by `seed`.

    Each fraction is a share of the whole set; the remainder is the first part. A fraction
    of 0 gives an empty part.
    """
    parts, rest_x, rest_y, rest_share = [], x, y, 1.0
    for frac in fractions:
        if frac == 0:  # e.g. no validation split (data.val_fraction=0)
            parts.append((rest_x[:0], rest_y[:0]))
            continue
        rest_x, part_x, rest_y, part_y = train_test_split(
            rest_x, rest_y, test_size=frac / rest_share, stratify=rest_y, random_state=seed
        )
        parts.append((part_x, part_y))
        rest_share -= frac
    return [(rest_x, rest_y), *parts]


class _SliceDataset(torch.utils.data.Dataset):
    def __init__(self, split: Split) -> None:
        self.x, self.y = split

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, idx: list[int]) -> Batch:
        """A whole batch; the indices let methods keep per-sample state (CRD's memory bank)."""
        index = torch.as_tensor(idx, device=self.y.device)
        return self.x[index], self.y[index], index


class TensorDataModule(L.LightningDataModule):
    """Serves a `TensorData` in batches; `augment` runs on whole batches on the device."""

    def __init__(
        self,
        data: TensorData,
        batch_size: int,
        seed: int,
        augment: Transform | None = None,
        aug_seed: int | None = None,
    ) -> None:
        """`seed` fixes the batch order; `aug_seed` (default: `seed`) the augmented views."""
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.aug_seed = seed if aug_seed is None else aug_seed
        self.augment = augment if augment is not None else data.augment
        self._resident: dict[str, Split] = {}

    def setup(self, stage: str) -> None:
        """Move the splits this stage uses to the compute device once (uint8), so batches
        are sliced there; fitting leaves the test split untouched (tuning never reads it)."""
        device = self.trainer.strategy.root_device if self.trainer is not None else None
        names = ("test",) if stage == "test" else ("train", "val")
        for name in names:
            x, y = getattr(self.data, name)
            self._resident[name] = (x.to(device), y.to(device)) if device is not None else (x, y)

    def _split(self, name: str) -> Split:
        return self._resident.get(name) or getattr(self.data, name)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        dataset = _SliceDataset(self._split(name))
        if shuffle:
            generator = torch.Generator().manual_seed(self.seed)
            order = RandomSampler(dataset, generator=generator)
        else:
            order = SequentialSampler(dataset)
        sampler = BatchSampler(order, self.batch_size, drop_last=False)
        return DataLoader(dataset, sampler=sampler, batch_size=None)

    def epoch_views(
        self, epoch: int, chunk: int = 1024
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(sample indices, model input) of the whole training split as seen in `epoch`.

        The same views training batches get, in large chunks: what the teacher
        stream is computed from.
        """
        x_all, _ = self._split("train")
        for start in range(0, len(x_all), chunk):
            index = torch.arange(start, min(start + chunk, len(x_all)), device=x_all.device)
            x = epoch_view(x_all[index], index, epoch, self.aug_seed, self.augment)
            yield index, self.data.prepare(x)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        x, y, index = batch
        training = self.trainer is not None and self.trainer.training
        if training:
            x = epoch_view(x, index, self.trainer.current_epoch, self.aug_seed, self.augment)
        x = self.data.prepare(x)  # float + normalization; augmented above
        return x, y, index
