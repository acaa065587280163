"""A restricted unpickler for data files: plain containers and numpy arrays, no code.

`pickle.load` calls whatever callable a file names, so a downloaded "data set"
can run any command on load. CIFAR's python batches need only dicts, lists,
numbers, strings, bytes and numpy arrays; this unpickler resolves exactly the
few globals numpy arrays are rebuilt from and refuses every other one, so a
malicious file raises `UnsafePickleError` before anything it names is called.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from kdbench.errors import KdbenchError


class UnsafePickleError(KdbenchError):
    """The file names a global that plain data never needs."""


def _safe_dtype(*args: Any) -> np.dtype:
    """`numpy.dtype`, refusing object dtypes (their elements would be arbitrary objects)."""
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError("object arrays are not plain data")
    return dtype


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """`_codecs.encode` as protocol-2 pickles use it for bytes, limited to latin-1."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return text.encode("latin-1")


def _reconstruct(*args: Any) -> Any:
    try:
        from numpy._core.multiarray import _reconstruct as reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct as reconstruct

    if args and args[0] is not np.ndarray:
        raise pickle.UnpicklingError("only numpy.ndarray may be reconstructed")
    return reconstruct(*args)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """numpy's protocol-5 array constructor (`numpy._core.numeric._frombuffer`)."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError("object arrays are not plain data")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # numpy 1.x pickles
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # numpy 2.x pickles
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,  # protocol 5
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


def safe_load(path: str | Path) -> Any:
    """Unpickle `path` allowing only plain data and numpy arrays.

    Bytes pickled by Python 2 (CIFAR's official files) come back as `bytes`
    (keys such as b"data"), as with `pickle.load(f, encoding="bytes")`.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise UnsafePickleError(
            f"refusing to load {path}: {exc}; only plain arrays, lists, dicts, numbers, "
            "strings and bytes are read (re-create the file from a trusted source)"
        ) from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise KdbenchError(
            f"{path} is not a readable pickle ({type(exc).__name__}: {exc}); "
            "re-download or re-create it"
        ) from None
