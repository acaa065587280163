"""Data held in memory as tensors, served in batches by slicing.

A per-sample `Dataset` plus collate costs a Python call per image; on small
images that dominates a training step (measured 1.6x slower on digits). Here a
batch is one index into a tensor: the sampler yields index lists and the
dataset returns `x[idx], y[idx]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

Split = tuple[torch.Tensor, torch.Tensor]  # images (N, C, H, W), labels (N,)
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # images, labels, sample indices


@dataclass
class TensorData:
    """A data set split into train / val / test, with what models need to know of it."""

    train: Split
    val: Split
    test: Split
    num_classes: int
    display_name: str  # how reports name it, e.g. "CIFAR-10 (JPEG)"

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
        index = torch.as_tensor(idx)
        return self.x[index], self.y[index], index


BatchTransform = Callable[[torch.Tensor], torch.Tensor]


class TensorDataModule(L.LightningDataModule):
    """Serves a `TensorData` in batches; `augment` runs on whole batches on the device."""

    def __init__(
        self, data: TensorData, batch_size: int, seed: int, augment: BatchTransform | None = None
    ) -> None:
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.augment = augment

    def _loader(self, split: Split, shuffle: bool) -> DataLoader:
        dataset = _SliceDataset(split)
        if shuffle:
            generator = torch.Generator().manual_seed(self.seed)
            order = RandomSampler(dataset, generator=generator)
        else:
            order = SequentialSampler(dataset)
        sampler = BatchSampler(order, self.batch_size, drop_last=False)
        return DataLoader(dataset, sampler=sampler, batch_size=None)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.data.train, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.data.val, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.data.test, shuffle=False)

    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        x, y, index = batch
        if self.augment is not None and self.trainer is not None and self.trainer.training:
            x = self.augment(x)
        return x, y, index
