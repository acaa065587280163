"""Data held in memory as tensors, served in batches by slicing.

A per-sample `Dataset` plus collate costs a Python call per image; on small
images that dominates a training step (measured 1.6x slower on digits). Here a
batch is one index into a tensor: the sampler yields index lists and the
dataset returns `x[idx], y[idx]`.

Image data sets stay uint8 (on the GPU too: moved there once in `setup`);
`TensorData.prepare` turns a batch into what models take (augmented when
training, float, normalized with the data set's own statistics) on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from kdbench.data.augment import normalize, to_float, view_keys

Split = tuple[torch.Tensor, torch.Tensor]  # images (N, C, H, W), labels (N,)
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # images, labels, sample indices
# (images) -> images, drawing from torch's generator; or (images, per-sample keys) -> images,
# fixed by the keys (`kdbench.data.augment.view_keys`). Training always passes keys.
BatchTransform = Callable[..., torch.Tensor]


def epoch_view(
    x: torch.Tensor,
    index: torch.Tensor,
    epoch: int,
    aug_seed: int,
    augment: BatchTransform | None,
) -> torch.Tensor:
    """Stored training images `x` (samples `index`) as augmented in `epoch`, still uint8.

    A function of (aug_seed, epoch, index) only, so the teacher stream
    (kdbench/teacher_stream.py) and a training batch see the same views.
    """
    if augment is None:
        return x
    return augment(x, view_keys(aug_seed, epoch, index))


@dataclass
class TensorData:
    """A data set split into train / val / test, with what models need to know of it."""

    train: Split
    val: Split
    test: Split
    num_classes: int
    display_name: str  # how reports name it, e.g. "CIFAR-10 (JPEG)"
    mean: tuple[float, ...] | None = None  # per-channel statistics of the training split,
    std: tuple[float, ...] | None = None  # on the [0, 1] scale; None: no normalization
    augment: BatchTransform | None = None  # applied to training batches only

    def prepare(self, x: torch.Tensor, training: bool = False) -> torch.Tensor:
        """A stored batch -> model input: augment (training), uint8 -> float, normalize."""
        if training and self.augment is not None:
            x = self.augment(x)
        x = to_float(x)
        if self.mean is not None and self.std is not None:
            x = normalize(x, self.mean, self.std)
        return x

    def example(self, n: int = 2) -> torch.Tensor:
        """The first `n` training images as model input (methods size their adapters on it)."""
        return self.prepare(self.train[0][:n])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train[0].shape[1:])  # type: ignore[return-value]

    @property
    def in_channels(self) -> int:
        return self.input_shape[0]


def stratified_splits(
    x: np.ndarray, y: np.ndarray, fractions: tuple[float, ...], seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split (x, y) into len(fractions) + 1 stratified parts, fixed by `seed`.

    Each fraction is a share of the whole set; the remainder is the first part.
    """
    parts, rest_x, rest_y, rest_share = [], x, y, 1.0
    for frac in fractions:
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
        augment: BatchTransform | None = None,
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
            yield index, self.data.prepare(x, training=False)

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
        x = self.data.prepare(x, training=False)  # float + normalization; augmented above
        return x, y, index
