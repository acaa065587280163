"""What a model takes as input, described by the data: the input spec.

A data set is images, frames (speech features, sensor windows) or tokens. The
spec says which, the shape of one sample as the model sees it, and what a
model needs to be built for it (channels, feature size, vocabulary, padding).
Models are built from (spec, classes, size keys); FLOPs, ONNX export, latency
and int8 calibration run on inputs of this spec, so nothing downstream assumes
images.

Variable-length sequences are padded to a fixed length kept in the spec
(`shape[0]`). Token ids use `pad_index` for padding and models derive their mask
from `x != pad_index`, so a model has exactly one input tensor, which keeps
ONNX export, latency and int8 calibration one code path for every modality.
The only dynamic axis of an exported model is the batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from kdbench.errors import ConfigError

KINDS = ("image", "sequence", "tokens")


@dataclass(frozen=True)
class InputSpec:
    """One sample as the model takes it (after `TensorData.prepare`).

    * image: `shape = (C, H, W)`, float32;
    * sequence: `shape = (T, F)`, float32: T frames of F features (MFCCs, sensor channels);
    * tokens: `shape = (L,)`, int64 ids in [0, vocab_size), `pad_index` marks padding.
    """

    kind: str
    shape: tuple[int, ...]
    vocab_size: int | None = None
    pad_index: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        want = {"image": 3, "sequence": 2, "tokens": 1}.get(self.kind)
        if want is None:
            raise ConfigError(f"input kind {self.kind!r} is unknown; kinds: {', '.join(KINDS)}")
        if len(self.shape) != want or min(self.shape) < 1:
            raise ConfigError(f"a {self.kind} input needs {want} positive sizes, got {self.shape}")
        if self.kind == "tokens" and (self.vocab_size is None or self.vocab_size < 2):
            raise ConfigError("a tokens input needs vocab_size >= 2")

    @property
    def dtype(self) -> torch.dtype:
        return torch.int64 if self.kind == "tokens" else torch.float32

    @property
    def channels(self) -> int:
        """Image channels, or features per frame of a sequence (1 for tokens)."""
        if self.kind == "image":
            return self.shape[0]
        return self.shape[1] if self.kind == "sequence" else 1

    @property
    def length(self) -> int | None:
        """Frames or tokens per sample; None for images."""
        return None if self.kind == "image" else self.shape[0]

    def random(self, n: int, seed: int = 0) -> torch.Tensor:
        """`n` valid inputs drawn at random (dry runs that need no data)."""
        g = torch.Generator().manual_seed(seed)
        if self.kind == "tokens":
            assert self.vocab_size is not None
            return torch.randint(1, self.vocab_size, (n, *self.shape), generator=g)
        return torch.randn((n, *self.shape), generator=g)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        return cls(d["kind"], tuple(d["shape"]), d.get("vocab_size"), int(d.get("pad_index", 0)))


def image_spec(channels: int = 3, size: int = 32) -> InputSpec:
    return InputSpec("image", (channels, size, size))


def repeat_to(examples: torch.Tensor, n: int) -> torch.Tensor:
    """`n` inputs made by cycling through `examples` (a few real ones stand for a batch)."""
    reps = -(-n // len(examples))
    return examples.repeat(reps, *([1] * (examples.dim() - 1)))[:n].contiguous()
