"""Parse and validate a safetensors header, without touching the tensor data.

A safetensors file is: 8 bytes little-endian u64 N, then N bytes of UTF-8 JSON (the header),
then the data buffer. The header maps tensor names to {"dtype", "shape", "data_offsets"},
offsets relative to the start of the data buffer; an optional "__metadata__" maps str to str.
Every check here runs on the header alone, so a hostile file (a 1 TB tensor declared in a
1 KB file, overlapping ranges, ...) is rejected before anything is allocated for its data.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import json
import math
import operator
import os
import struct
from collections.abc import Iterator
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

MAX_ELEMENTS = 2**60
"""Largest product of a shape's non-zero dimensions: numpy needs it times the item size (≤ 8 bytes
once decoded) to fit in int64, even for a zero-size tensor, which has no bytes to check it against."""

MAX_TENSORS = 1_000_000
"""Most tensor entries one file may declare. The largest real checkpoints have ~10⁵ tensors in all
(10³–10⁴ per shard); parsing is linear, ≈ 10 s and 0.5 GB per million entries on one core."""

_PICKLE_HINT = (
    "weightlens never unpickles; convert it first: python -c \"import torch; "
    "from safetensors.torch import save_file; "
    "save_file(torch.load('IN', weights_only=True), 'OUT.safetensors')\""
)


@dataclass(frozen=True, slots=True)
class FileStamp:
    """Which version of a file a header was read from: size, modification time, inode.

    The device number is left out: it differs between the machines that mount one shared file
    system, where Dask workers read the tensors a header parsed on the client describes.
    """

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStamp:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)

    def change(self, now: FileStamp) -> str | None:
        """What differs in ``now``, in words (None: the same file, unchanged)."""
        if now.inode != self.inode:
            return "the file was replaced (another inode)"
        if now.size != self.size:
            return f"the file changed size ({self.size} -> {now.size} bytes)"
        if now.mtime_ns != self.mtime_ns:
            return "the file was modified (its mtime changed)"
        return None


@dataclass(frozen=True, slots=True)
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
    stamp : the file's stamp when the header was read; the reader refuses to read the tensor
        from a file whose stamp differs (None: not checked).
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path
    offset: int
    nbytes: int
    stamp: FileStamp | None = field(default=None, compare=False)

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
    stamp: FileStamp | None = None
    """Size, mtime and inode of the file when the header was read."""


def _sniff(path: Path, head: bytes) -> str | None:
    """Recognize common non-safetensors content by its first bytes."""
    if head.startswith(b"GGUF"):
        return "this is a GGUF file (llama.cpp), not safetensors; weightlens reads it as GGUF when it is given as a file or in a directory without .safetensors files"
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
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError(f"duplicate key {_short(_first_duplicate(k for k, _ in pairs))}")
    return out


def _first_duplicate(keys: Iterator[str]) -> str:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no duplicate key")


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
    FileHeader with every tensor's absolute offset and byte length, and the file's stamp (size,
    mtime, inode) that the reader checks before it reads a tensor.

    Raises
    ------
    InputError
        When the file cannot be opened.
    HeaderError
        When the header is malformed, in one line that names the file and the problem.

    Notes
    -----
    Time and memory are linear in the number of entries: one JSON parse (with the cyclic garbage
    collector paused: the millions of small containers it builds hold no cycles), each entry
    freed as soon as its :class:`TensorInfo` is built, and no sort when the data offsets are
    already in header order (as every writer lays them out).
    """
    path = Path(path)
    text, n, sha256, stamp = _read_text(path)
    with _gc_paused():
        doc = _parse(path, text)
        del text
        metadata = _metadata(path, doc.pop("__metadata__", None))
        if len(doc) > MAX_TENSORS:
            raise HeaderError(path, f"{len(doc):,} tensors in one file; at most {MAX_TENSORS:,} are supported")
        tensors, invalid = _entries(path, doc, 8 + n, stamp, strict)
    _check_overlaps(path, tensors, 8 + n)
    return FileHeader(
        path=path,
        size=stamp.size,
        header_size=n,
        sha256=sha256,
        metadata=metadata,
        tensors=tuple(tensors),
        invalid=tuple(invalid),
        stamp=stamp,
    )


def _read_text(path: Path) -> tuple[str, int, str, FileStamp]:
    """The header (after the 8-byte length) as text, its byte length and SHA-256, and the stamp
    of the file it was read from (the bytes themselves are freed before the JSON is parsed)."""
    try:
        with open_regular(path, "safetensors file") as f:
            stamp = FileStamp.of(os.fstat(f.fileno()))
            size = stamp.size
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
    return text, n, hashlib.sha256(raw).hexdigest(), stamp


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (parsing a million entries otherwise spends half its
    time tracing containers that cannot be in a cycle); resumed on exit if it was running."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text, object_pairs_hook=_unique_object)
    except ValueError as e:
        raise HeaderError(path, f"header is not valid JSON: {e}") from None
    except RecursionError:
        raise HeaderError(path, "header is not a safetensors header: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise HeaderError(path, f"header must be a JSON object, got {type(doc).__name__}")
    return doc


def _metadata(path: Path, metadata: Any) -> dict[str, str]:
    """The "__metadata__" object; absent or null (as the reference implementation allows) is empty."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise HeaderError(path, "__metadata__ must be an object of string values")
    return metadata


def _entries(path: Path, doc: dict[str, Any], data_start: int, stamp: FileStamp, strict: bool) -> tuple[list[TensorInfo], list[tuple[str, str]]]:
    """TensorInfo of every valid entry, in header order, and (name, problem) of the others.

    Each entry is popped from ``doc`` as it is converted, so the parsed JSON and the TensorInfos
    are not both held in full.
    """
    data_len = stamp.size - data_start
    tensors: list[TensorInfo] = []
    invalid: list[tuple[str, str]] = []
    for name in list(doc):
        try:
            tensors.append(_tensor_info(path, name, doc.pop(name), data_start, data_len, stamp))
        except HeaderError as e:
            if strict:
                raise
            invalid.append((name, e.problem))
    return tensors, invalid


def _tensor_info(path: Path, name: str, entry: Any, data_start: int, data_len: int, stamp: FileStamp | None = None) -> TensorInfo:
    where = f"tensor {_short(name)}"
    if not isinstance(entry, dict):
        raise HeaderError(path, f"{where}: expected an object with dtype, shape, data_offsets, got {type(entry).__name__}")
    missing = {"dtype", "shape", "data_offsets"} - entry.keys()
    if missing:
        raise HeaderError(path, f"{where}: missing {', '.join(sorted(missing))}")
    dtype_name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    dtype = DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
    if dtype is None:
        raise HeaderError(path, f"{where}: unknown dtype {_short(dtype_name)} (expected one of {', '.join(DTYPES)})")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise HeaderError(path, f"{where}: shape must be a list of non-negative integers, got {_short(shape)}")
    if len(shape) > MAX_DIMS:
        raise HeaderError(path, f"{where}: {len(shape)} dimensions, at most {MAX_DIMS} are supported")
    if math.prod(d for d in shape if d) > MAX_ELEMENTS:
        raise HeaderError(path, f"{where}: shape {_short(shape)} is beyond what numpy can hold (product of the non-zero dimensions > 2**60)")
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
    count = math.prod(shape)
    expected = dtype.nbytes(count)
    if expected is None or expected != end - begin:
        raise HeaderError(
            path,
            f"{where}: shape {_short(shape)} of {dtype_name} needs "
            f"{f'{expected} bytes' if expected is not None else f'{count * dtype.bits} bits, not whole bytes'}, "
            f"data_offsets give {end - begin}",
        )
    return TensorInfo(name, dtype.name, tuple(shape), path, data_start + begin, end - begin, stamp)


def _check_overlaps(path: Path, tensors: list[TensorInfo], data_start: int) -> None:
    """No two non-empty byte ranges may overlap (sorted by offset only when not already in order)."""
    spans = [t for t in tensors if t.nbytes > 0]
    if any(a.offset > b.offset for a, b in itertools.pairwise(spans)):
        spans.sort(key=operator.attrgetter("offset"))
    for a, b in itertools.pairwise(spans):
        if b.offset < a.offset + a.nbytes:
            b0, e0 = a.offset - data_start, a.offset + a.nbytes - data_start
            raise HeaderError(path, f"tensors {_short(a.name)} and {_short(b.name)} overlap (bytes {b0}-{e0} and from {b.offset - data_start})")
