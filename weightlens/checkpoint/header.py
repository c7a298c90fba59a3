"""Parse and validate a safetensors header, without touching the tensor data.

A safetensors file is: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON (the header),
then the data buffer. The header maps tensor names to {"dtype", "shape", "data_offsets"},
offsets relative to the start of the data buffer; an optional "__metadata__" maps str to str.
Every check here runs on the header alone, so a hostile file (a 1 TB tensor declared in a
1 KB file, overlapping ranges, ...) is rejected before anything is allocated for its data.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weightlens.checkpoint.dtypes import DTYPES, DType
from weightlens.checkpoint.safeload import open_regular
from weightlens.errors import HeaderError, InputError
from weightlens.errors import quote as _short  # the one capped, escaped quoting of hostile values

MAX_HEADER_BYTES = 100 * 1024 * 1024
"""Largest header accepted, as in the reference implementation (100 MB)."""

MAX_DIMS = 32
"""Most dimensions a tensor may have (numpy's limit is 32 or 64 depending on its version)."""

_PICKLE_HINT = (
    "weightlens never unpickles; convert it first: python -c \"import torch; "
    "from safetensors.torch import save_file; "
    "save_file(torch.load('IN', weights_only=True), 'OUT.safetensors')\""
)


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives and what it is, as declared by its file's header.

    Attributes
    ----------
    name : tensor name (any string; printed literally).
    dtype : safetensors dtype name.
    shape : dimensions.
    file : the file that holds it.
    offset : absolute byte offset of its first element in ``file``.
    nbytes : stored byte length.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path
    offset: int
    nbytes: int

    @property
    def parameters(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype_info(self) -> DType:
        return DTYPES[self.dtype]


@dataclass(frozen=True)
class FileHeader:
    """A validated header.

    Attributes
    ----------
    path : the file.
    size : file size in bytes.
    header_size : N, the JSON header's byte length.
    sha256 : SHA-256 of the header bytes (identifies the layout, cheap to compute).
    metadata : the "__metadata__" entries.
    tensors : the tensors in header order.
    """

    path: Path
    size: int
    header_size: int
    sha256: str
    metadata: dict[str, str] = field(default_factory=dict)
    tensors: tuple[TensorInfo, ...] = ()
    invalid: tuple[tuple[str, str], ...] = ()
    """(name, problem) of entries that failed validation (only with ``strict=False``)."""


def _sniff(path: Path, head: bytes) -> str | None:
    """Recognize common non-safetensors content by its first bytes."""
    if head.startswith(b"PK\x03\x04"):
        return "this is a ZIP archive (a PyTorch .pt/.bin checkpoint?), not safetensors; " + _PICKLE_HINT
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "this is a Python pickle, not safetensors; " + _PICKLE_HINT
    if head.startswith(b"\x93NUMPY"):
        return "this is a numpy .npy file, not safetensors"
    if head.startswith(b"\xef\xbb\xbf") or (head and all(32 <= b < 127 or b in b"\t\r\n" for b in head)):
        return "this looks like a text file, not safetensors (which starts with an 8-byte header length)"
    return None


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {_short(key)}")
        out[key] = value
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def read_header(path: str | os.PathLike[str], strict: bool = True) -> FileHeader:
    """Read and validate the header of one safetensors file.

    Parameters
    ----------
    path : a ``.safetensors`` file.
    strict : raise on the first invalid tensor entry. With ``strict=False`` (used for the shards
        of a multi-file checkpoint) an invalid entry — unknown dtype, bad shape, offsets past the
        end of a truncated file — is listed in ``FileHeader.invalid`` and the other tensors stay
        readable; problems of the file as a whole (length prefix, JSON, overlaps) still raise.

    Returns
    -------
    FileHeader with every tensor's absolute offset and byte length.

    Raises
    ------
    InputError
        When the file cannot be opened.
    HeaderError
        When the header is malformed, in one line that names the file and the problem.
    """
    path = Path(path)
    try:
        with open_regular(path, "safetensors file") as f:
            size = os.fstat(f.fileno()).st_size
            prefix = f.read(8)
            if len(prefix) < 8:
                hint = _sniff(path, prefix)
                raise HeaderError(path, hint or f"file is {size} bytes; a safetensors file starts with an 8-byte header length")
            (n,) = struct.unpack("<Q", prefix)
            if n > MAX_HEADER_BYTES or 8 + n > size:
                hint = _sniff(path, prefix)
                if hint:
                    raise HeaderError(path, hint)
                if n > MAX_HEADER_BYTES:
                    raise HeaderError(path, f"declared header length {n} bytes exceeds the 100 MB limit (not a safetensors file?)")
                raise HeaderError(path, f"declared header length {n} bytes exceeds the file size {size} bytes (truncated or not a safetensors file)")
            raw = f.read(n)
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from None

    if len(raw) != n:
        raise HeaderError(path, f"header truncated: expected {n} bytes, got {len(raw)}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HeaderError(path, f"header is not valid UTF-8 (byte {e.start})") from None
    try:
        doc = json.loads(text, object_pairs_hook=_unique_object)
    except ValueError as e:
        raise HeaderError(path, f"header is not valid JSON: {e}") from None
    except RecursionError:
        raise HeaderError(path, "header is not a safetensors header: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise HeaderError(path, f"header must be a JSON object, got {type(doc).__name__}")

    metadata = doc.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise HeaderError(path, "__metadata__ must be an object of string values")

    data_start = 8 + n
    data_len = size - data_start
    tensors: list[TensorInfo] = []
    invalid: list[tuple[str, str]] = []
    for name, entry in doc.items():
        try:
            tensors.append(_tensor_info(path, name, entry, data_start, data_len))
        except HeaderError as e:
            if strict:
                raise
            invalid.append((name, e.problem))
    _check_overlaps(path, tensors, data_start)
    return FileHeader(
        path=path,
        size=size,
        header_size=n,
        sha256=hashlib.sha256(raw).hexdigest(),
        metadata=dict(metadata),
        tensors=tuple(tensors),
        invalid=tuple(invalid),
    )


def _tensor_info(path: Path, name: str, entry: Any, data_start: int, data_len: int) -> TensorInfo:
    where = f"tensor {_short(name)}"
    if not isinstance(entry, dict):
        raise HeaderError(path, f"{where}: expected an object with dtype, shape, data_offsets, got {type(entry).__name__}")
    missing = {"dtype", "shape", "data_offsets"} - entry.keys()
    if missing:
        raise HeaderError(path, f"{where}: missing {', '.join(sorted(missing))}")
    dtype_name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype_name, str) or dtype_name not in DTYPES:
        raise HeaderError(path, f"{where}: unknown dtype {_short(dtype_name)} (expected one of {', '.join(DTYPES)})")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise HeaderError(path, f"{where}: shape must be a list of non-negative integers, got {_short(shape)}")
    if len(shape) > MAX_DIMS:
        raise HeaderError(path, f"{where}: {len(shape)} dimensions, at most {MAX_DIMS} are supported")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(o) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise HeaderError(path, f"{where}: data_offsets must be [begin, end] with 0 <= begin <= end, got {_short(offsets)}")
    begin, end = offsets
    if end > data_len:
        raise HeaderError(path, f"{where}: data_offsets [{begin}, {end}] run past the data buffer ({data_len} bytes; file truncated?)")
    dtype = DTYPES[dtype_name]
    count = math.prod(shape)
    expected = dtype.nbytes(count)
    if expected is None or expected != end - begin:
        raise HeaderError(
            path,
            f"{where}: shape {_short(shape)} of {dtype_name} needs "
            f"{f'{expected} bytes' if expected is not None else f'{count * dtype.bits} bits, not whole bytes'}, "
            f"data_offsets give {end - begin}",
        )
    return TensorInfo(name, dtype_name, tuple(shape), path, data_start + begin, end - begin)


def _check_overlaps(path: Path, tensors: list[TensorInfo], data_start: int) -> None:
    spans = sorted((t.offset, t.offset + t.nbytes, t.name) for t in tensors if t.nbytes > 0)
    for (b0, e0, n0), (b1, _e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise HeaderError(
                path,
                f"tensors {_short(n0)} and {_short(n1)} overlap (bytes {b0 - data_start}-{e0 - data_start} and from {b1 - data_start})",
            )
