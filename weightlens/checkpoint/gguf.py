"""Read a GGUF (llama.cpp) file's metadata and tensor table, without touching the tensor data.

A GGUF file (versions 2 and 3, little-endian) is::

    "GGUF"  u32 version  u64 tensor_count  u64 kv_count
    kv_count     × (string key, u32 value type, value)
    tensor_count × (string name, u32 n_dims, n_dims × u64 ne, u32 ggml type, u64 offset)
    padding to general.alignment (default 32), then the data section

A string is a u64 byte length and its UTF-8 bytes; an array is a u32 item type, a u64 count and
the items. ``ne`` lists dimensions fastest first (ggml order): ``ne[0]`` is a row's length, the
input features of a weight, so the (out, in) shape is ``ne`` reversed. Each tensor's offset is
relative to the data section and a multiple of the alignment; quantized types store whole
blocks of ``block_size`` weights in ``type_size`` bytes along ``ne[0]``.

The parser reads the header with plain reads (no memory map) through one bounded cursor: every
count is checked against the bytes left before anything is looped over or allocated, so a
truncated or hostile file is one :class:`~weightlens.errors.HeaderError`. gguf's own
``GGUFReader`` is the reference the tests compare this parser with; it is not used to read
untrusted files (it maps the whole file, and loops ``count`` times over an array whose count
runs past the end of the file). Types, block sizes, names and the dequantizers are gguf's.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import math
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import gguf
import numpy as np

from weightlens.checkpoint.dtypes import DTYPES, DType, Kind
from weightlens.checkpoint.gguf_names import hf_namer
from weightlens.checkpoint.header import MAX_ELEMENTS, MAX_TENSORS, FileHeader, FileStamp, TensorInfo, _check_overlaps
from weightlens.checkpoint.safeload import open_regular
from weightlens.errors import HeaderError, InputError, quote

MAGIC = b"GGUF"

VERSIONS = (2, 3)
"""GGUF versions read (version 1, of 2023, had 32-bit counts; gguf's reader refuses it too)."""

MAX_HEADER_BYTES = 256 * 1024 * 1024
"""Largest metadata + tensor table accepted (a 256k-token vocabulary with its merges is ~10 MB)."""

MAX_NAME_BYTES = 1 << 16
"""Longest key or tensor name (llama.cpp allows 63-byte tensor names)."""

MAX_KEPT_BYTES = 1 << 16
"""Longest string value kept in memory; a longer one (an embedded tokenizer.json) is hashed and
skipped, and known by its length."""

MAX_KEPT_ITEMS = 4096
"""Longest array of numbers kept (per-layer head counts, rope sections); longer arrays (token
scores) and every array of strings (the vocabulary) are skipped and known by their length."""

MAX_STRING_ITEMS = 1 << 22
"""Most strings in one array: each is walked one by one (4M ≈ 16× the largest vocabularies)."""

MAX_DIMS = 4
"""ggml tensors have at most 4 dimensions (GGML_MAX_DIMS); llama.cpp refuses more."""

_SCALARS: dict[int, tuple[str, struct.Struct]] = {
    gguf.GGUFValueType.UINT8: ("UINT8", struct.Struct("<B")),
    gguf.GGUFValueType.INT8: ("INT8", struct.Struct("<b")),
    gguf.GGUFValueType.UINT16: ("UINT16", struct.Struct("<H")),
    gguf.GGUFValueType.INT16: ("INT16", struct.Struct("<h")),
    gguf.GGUFValueType.UINT32: ("UINT32", struct.Struct("<I")),
    gguf.GGUFValueType.INT32: ("INT32", struct.Struct("<i")),
    gguf.GGUFValueType.FLOAT32: ("FLOAT32", struct.Struct("<f")),
    gguf.GGUFValueType.BOOL: ("BOOL", struct.Struct("<B")),
    gguf.GGUFValueType.UINT64: ("UINT64", struct.Struct("<Q")),
    gguf.GGUFValueType.INT64: ("INT64", struct.Struct("<q")),
    gguf.GGUFValueType.FLOAT64: ("FLOAT64", struct.Struct("<d")),
}
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")

Scalar = int | float | bool | str


@dataclass(frozen=True)
class Skipped:
    """A metadata value too long to keep: its type ("STRING", "ARRAY[STRING]", ...) and length."""

    type: str
    length: int


MetaValue = Scalar | tuple[Scalar, ...] | Skipped


# --- types -----------------------------------------------------------------------------------

CODE_BITS: dict[str, int] = {
    "Q4_0": 4, "Q4_1": 4, "Q5_0": 5, "Q5_1": 5, "Q8_0": 8, "Q8_1": 8,
    "Q2_K": 2, "Q3_K": 3, "Q4_K": 4, "Q5_K": 5, "Q6_K": 6, "Q8_K": 8,
    "IQ1_S": 1, "IQ1_M": 1, "IQ2_XXS": 2, "IQ2_XS": 2, "IQ2_S": 2, "IQ3_XXS": 3, "IQ3_S": 3, "IQ4_NL": 4, "IQ4_XS": 4,
    "TQ1_0": 1, "TQ2_0": 1, "Q1_0": 1,
    "MXFP4": 4, "NVFP4": 4,
}  # fmt: skip
"""b, the bits of each weight's code (ternary TQ types: 1, their grid being {-1, 0, 1})."""

_FP4 = frozenset({"MXFP4", "NVFP4"})
"""Block-scaled E2M1 floats: their unit roundoff is E2M1's, 2^-2, as for the F8 dtypes."""


@dataclass(frozen=True)
class QuantType(DType):
    """A block-quantized ggml type: ``block_size`` weights stored in ``type_size`` bytes.

    ``bits`` is b, the width of one weight's code; ``unit_roundoff`` is 2^-b, half the spacing of
    a b-bit grid relative to the largest magnitude it holds (2^-2 for the E2M1 types). Its
    values are what ``gguf.quants.dequantize`` makes of the blocks, exactly (float32).
    """

    block_size: int = 1
    type_size: int = 1
    ggml_type: int = 0

    @property
    def bits_per_weight(self) -> float:
        """8·type_size/block_size: stored bits per weight, block scales included."""
        return 8 * self.type_size / self.block_size

    def nbytes(self, count: int) -> int | None:
        return count // self.block_size * self.type_size if count % self.block_size == 0 else None

    def dequantize(self, blocks: np.ndarray) -> np.ndarray:
        """float32 values of whole blocks (uint8, a multiple of ``type_size`` bytes).

        A scale that is inf or NaN gives non-finite values, which the health pass counts (as for
        any decoded tensor), without a RuntimeWarning.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            values: np.ndarray = gguf.quants.dequantize(blocks, gguf.GGMLQuantizationType(self.ggml_type))
        return values


@functools.cache
def dequantizable(ggml_type: gguf.GGMLQuantizationType) -> bool:
    """Whether the installed gguf can dequantize the type (asked with one all-zero block)."""
    _, type_size = gguf.GGML_QUANT_SIZES[ggml_type]
    try:
        gguf.quants.dequantize(np.zeros(type_size, np.uint8), ggml_type)
    except NotImplementedError:
        return False
    return True


def _ggml_dtypes() -> dict[str, DType]:
    """Every ggml type gguf knows: the plain ones as the safetensors dtype of the same name and
    encoding (F32, F16, BF16, F64, I8…I64), the others as QuantType ("unsupported" when gguf
    cannot dequantize them)."""
    out: dict[str, DType] = {}
    for t in gguf.GGMLQuantizationType:
        block, size = gguf.GGML_QUANT_SIZES[t]
        if t.name in DTYPES and block == 1:
            out[t.name] = DTYPES[t.name]
            continue
        bits = CODE_BITS.get(t.name, 8 * size // block)
        u = 2.0**-2 if t.name in _FP4 else 2.0**-bits
        kind: Kind = "float" if dequantizable(t) else "unsupported"
        out[t.name] = QuantType(t.name, bits, kind, np.dtype("u1"), u, block_size=block, type_size=size, ggml_type=int(t))
    return out


GGML_DTYPES = _ggml_dtypes()


@dataclass(frozen=True, slots=True)
class GGUFTensorInfo(TensorInfo):
    """One tensor of a GGUF file: ``dtype`` is its ggml type name ("Q4_K", "F16", ...), ``shape``
    is (out, in) — ggml's ``ne`` reversed — and ``hf_name`` its Hugging Face name, when the
    file's architecture maps it (see :mod:`weightlens.checkpoint.gguf_names`)."""

    hf_name: str | None = None

    @property
    def dtype_info(self) -> DType:
        return GGML_DTYPES[self.dtype]

    @property
    def bits_per_weight(self) -> float:
        """Stored bits per weight: 8·type_size/block_size (4.5 for Q4_K, 16 for F16)."""
        d = self.dtype_info
        return d.bits_per_weight if isinstance(d, QuantType) else float(d.bits)


@dataclass(frozen=True)
class GGUFFile(FileHeader):
    """A validated GGUF header (the fields of :class:`FileHeader`, and what is GGUF's own).

    ``header_size`` is the byte length of magic, metadata and tensor table, ``sha256`` their
    hash; ``invalid`` lists the tensors that cannot be read — always those of a type gguf cannot
    dequantize or does not know, and with ``strict=False`` those whose entry is invalid.
    """

    version: int = 3
    alignment: int = gguf.GGUF_DEFAULT_ALIGNMENT
    data_offset: int = 0
    """Absolute offset of the data section."""
    kv: dict[str, MetaValue] = field(default_factory=dict)
    """Every metadata key in file order: numbers, bools, strings, short arrays as tuples; long ones as Skipped."""
    kv_types: dict[str, str] = field(default_factory=dict)
    """The GGUF value type of each key ("UINT32", "STRING", "ARRAY[FLOAT32]", ...)."""

    @property
    def architecture(self) -> str | None:
        arch = self.kv.get("general.architecture")
        return arch if isinstance(arch, str) else None

    def arch_value(self, key: str) -> MetaValue | None:
        """``{architecture}.{key}`` ("block_count", "context_length", ...), when present."""
        return self.kv.get(f"{self.architecture}.{key}") if self.architecture else None

    @property
    def block_count(self) -> int | None:
        n = self.arch_value("block_count")
        return n if isinstance(n, int) and not isinstance(n, bool) else None

    @property
    def split(self) -> tuple[int, int] | None:
        """(split.no, split.count) of a part of a split model (gguf-split), None for a whole model."""
        no, count = self.kv.get("split.no"), self.kv.get("split.count")
        if isinstance(no, int) and isinstance(count, int) and count > 1:
            return no, count
        return None

    def summary(self) -> dict[str, Any]:
        """What ``inspect`` shows of the file: format, architecture, the keys that say how it
        was quantized, and every metadata value (long ones as {"type", "length"})."""
        file_type = self.kv.get("general.file_type")
        names = {int(t): t.name for t in gguf.LlamaFileType}
        return {
            "version": self.version,
            "alignment": self.alignment,
            "architecture": self.architecture,
            "name": self.kv.get("general.name"),
            "block_count": self.block_count,
            "context_length": self.arch_value("context_length"),
            "quantization_version": self.kv.get("general.quantization_version"),
            "file_type": file_type,
            "file_type_name": names.get(file_type) if isinstance(file_type, int) else None,
            "metadata": {k: {"type": v.type, "length": v.length} if isinstance(v, Skipped) else _finite(v) for k, v in self.kv.items()},
        }


def _finite(v: Scalar | tuple[Scalar, ...]) -> Any:
    """JSON-safe value: a non-finite float32/64 metadata value becomes None."""
    if isinstance(v, tuple):
        return [_finite(x) for x in v]
    return None if isinstance(v, float) and not math.isfinite(v) else v


# --- detection ---------------------------------------------------------------------------------


def has_gguf_magic(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a regular file that starts with the GGUF magic (opened without blocking,
    not recorded as an input: the reader opens it again for that)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode) and os.pread(fd, 4, 0) == MAGIC
    except OSError:
        return False
    finally:
        os.close(fd)


# --- parsing -----------------------------------------------------------------------------------


class _Cursor:
    """Sequential reads of the header region, each checked against what is left of it and hashed."""

    def __init__(self, path: Path, f: IO[bytes], size: int) -> None:
        self.path, self.f, self.size = path, f, size
        self.end = min(size, MAX_HEADER_BYTES)
        self.pos = 0
        self.sha = hashlib.sha256()

    def error(self, problem: str) -> HeaderError:
        return HeaderError(self.path, problem)

    def need(self, n: int, what: str) -> None:
        """Raise unless ``n`` more bytes lie within the file and the header limit."""
        if n <= self.end - self.pos:
            return
        if self.pos + n > self.size:
            raise self.error(f"{what} at byte {self.pos} needs {n:,} bytes, past the end of the file ({self.size:,} bytes; truncated?)")
        raise self.error(f"{what} at byte {self.pos} would take the GGUF header past {MAX_HEADER_BYTES >> 20} MiB")

    def take(self, n: int, what: str) -> bytes:
        self.need(n, what)
        data = self.f.read(n)
        if len(data) != n:  # the file shrank while it was read
            raise self.error(f"{what} at byte {self.pos}: the file ended after {len(data)} of {n} bytes")
        self.sha.update(data)
        self.pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        """Read past ``n`` bytes in 1 MiB chunks (hashed, never held at once)."""
        self.need(n, what)
        while n:
            self.take(min(n, 1 << 20), what)
            n -= min(n, 1 << 20)

    def u32(self, what: str) -> int:
        value: int = _U32.unpack(self.take(4, what))[0]
        return value

    def u64(self, what: str) -> int:
        value: int = _U64.unpack(self.take(8, what))[0]
        return value

    def count(self, what: str, least: int, limit: int | None = None) -> int:
        """A u64 count of items of at least ``least`` bytes each, checked against the bytes left."""
        n = self.u64(what)
        if limit is not None and n > limit:
            raise self.error(f"{what} is {n:,}; at most {limit:,} are supported")
        self.need(n * least, f"{what} ({n:,})")
        return n

    def name(self, what: str) -> str:
        """A key or tensor name: at most MAX_NAME_BYTES of valid UTF-8."""
        n = self.u64(f"{what} length")
        if n > MAX_NAME_BYTES:
            self.need(n, what)  # a length past the end of the file is named as such first
            raise self.error(f"{what} is {n:,} bytes long; at most {MAX_NAME_BYTES:,} are supported")
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.error(f"{what} is not valid UTF-8 (byte {e.start}): {quote(raw.decode('utf-8', 'surrogateescape'))}") from None

    def string(self, what: str) -> str | Skipped:
        """A string value; invalid UTF-8 kept as surrogate escapes, a long one skipped."""
        n = self.u64(f"{what} length")
        if n > MAX_KEPT_BYTES:
            self.skip(n, what)
            return Skipped("STRING", n)
        return self.take(n, what).decode("utf-8", "surrogateescape")


def _value(cur: _Cursor, vtype: int, what: str) -> tuple[str, MetaValue]:
    """(type name, value) of one metadata value of type ``vtype``."""
    if vtype in _SCALARS:
        type_name, fmt = _SCALARS[vtype]
        (value,) = fmt.unpack(cur.take(fmt.size, what))
        return type_name, bool(value) if vtype == gguf.GGUFValueType.BOOL else value
    if vtype == gguf.GGUFValueType.STRING:
        return "STRING", cur.string(what)
    if vtype != gguf.GGUFValueType.ARRAY:
        raise cur.error(f"{what}: unknown value type {vtype}")
    item = cur.u32(f"{what}: array item type")
    if item == gguf.GGUFValueType.ARRAY:
        raise cur.error(f"{what}: an array of arrays (llama.cpp does not read them either)")
    if item == gguf.GGUFValueType.STRING:
        n = cur.count(f"{what}: array length", 8, MAX_STRING_ITEMS)
        for i in range(n):
            cur.skip(cur.u64(f"{what}[{i}] length"), f"{what}[{i}]")
        return "ARRAY[STRING]", Skipped("ARRAY[STRING]", n)
    if item not in _SCALARS:
        raise cur.error(f"{what}: unknown array item type {item}")
    type_name, fmt = _SCALARS[item]
    n = cur.count(f"{what}: array length", fmt.size)
    if n > MAX_KEPT_ITEMS:
        cur.skip(n * fmt.size, what)
        return f"ARRAY[{type_name}]", Skipped(f"ARRAY[{type_name}]", n)
    values = tuple(v[0] for v in fmt.iter_unpack(cur.take(n * fmt.size, what)))
    return f"ARRAY[{type_name}]", tuple(bool(v) for v in values) if item == gguf.GGUFValueType.BOOL else values


@dataclass(frozen=True)
class _Entry:
    name: str
    ne: tuple[int, ...]
    type_id: int
    offset: int


def read_gguf(path: str | os.PathLike[str], strict: bool = True) -> GGUFFile:
    """Read and validate the metadata and tensor table of one GGUF file (no tensor data is read).

    Parameters
    ----------
    path : a GGUF file.
    strict : raise on the first invalid tensor entry (bad dimensions, offset not aligned, data
        past the end of the file); with ``strict=False`` (the parts of a split model) such an
        entry is listed in ``GGUFFile.invalid`` and the other tensors stay readable. Tensors of a
        type gguf cannot dequantize (Q8_K, ...) or does not know (a newer type) are listed in
        ``invalid`` either way. Problems of the file as a whole (magic, version, counts, lengths,
        duplicate names, overlapping data) always raise.

    Returns
    -------
    GGUFFile with every readable tensor as a :class:`GGUFTensorInfo`: absolute offset, stored
    byte length (ne[0]/block_size·type_size per row), (out, in) shape, Hugging Face name.

    Raises
    ------
    InputError
        When the file cannot be opened.
    HeaderError
        When the header is malformed, in one line that names the file and the problem.

    Notes
    -----
    Every count is checked against the bytes left before it is looped over: a tensor count or an
    array length of 2^64−1 in a 100-byte file is refused at once, and memory stays bounded by
    the limits above whatever the file claims.
    """
    path = Path(path)
    try:
        with open_regular(path, "GGUF file") as f:
            stamp = FileStamp.of(os.fstat(f.fileno()))
            cur = _Cursor(path, f, stamp.size)
            version, kv, kv_types, entries = _parse(cur)
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror or e}") from None
    alignment = kv.get("general.alignment", gguf.GGUF_DEFAULT_ALIGNMENT)
    assert isinstance(alignment, int)
    data_offset = cur.pos + (-cur.pos % alignment)
    arch = kv.get("general.architecture")
    blocks = kv.get(f"{arch}.block_count") if isinstance(arch, str) else None
    namer = hf_namer(arch if isinstance(arch, str) else None, blocks if isinstance(blocks, int) else None)
    tensors: list[GGUFTensorInfo] = []
    invalid: list[tuple[str, str]] = []
    unreadable: set[str] = set()
    for entry in entries:
        try:
            info = _tensor_info(path, entry, data_offset, alignment, stamp, namer(entry.name))
        except HeaderError as err:
            if strict and not isinstance(err, _UnknownType):
                raise
            invalid.append((entry.name, err.problem))
            continue
        tensors.append(info)
        if info.dtype_info.kind == "unsupported":
            invalid.append((entry.name, f"ggml type {info.dtype}: gguf {_gguf_version()} cannot dequantize it"))
            unreadable.add(entry.name)
    _check_overlaps(path, list(tensors), data_offset)  # the unreadable types' bytes count too
    return GGUFFile(
        path=path,
        size=stamp.size,
        header_size=cur.pos,
        sha256=cur.sha.hexdigest(),
        tensors=tuple(t for t in tensors if t.name not in unreadable),
        invalid=tuple(invalid),
        stamp=stamp,
        version=version,
        alignment=alignment,
        data_offset=data_offset,
        kv=kv,
        kv_types=kv_types,
    )


def _parse(cur: _Cursor) -> tuple[int, dict[str, MetaValue], dict[str, str], list[_Entry]]:
    magic = cur.take(4, "GGUF magic") if cur.size >= 4 else b""
    if magic != MAGIC:
        raise cur.error(f"not a GGUF file (it starts with {quote(magic.decode('latin-1'))}, not 'GGUF')")
    version = cur.u32("GGUF version")
    if version & 0xFFFF == 0 and version:
        raise cur.error("a big-endian GGUF file; only little-endian GGUF files are read")
    if version not in VERSIONS:
        raise cur.error(f"GGUF version {version} is not supported (versions {', '.join(map(str, VERSIONS))} are)")
    # Each tensor entry takes ≥ 24 bytes (empty name, no dimension), each metadata entry ≥ 13.
    tensor_count = cur.count("tensor count", 0, MAX_TENSORS)
    kv_count = cur.count("metadata count", 13, MAX_TENSORS)
    cur.need(tensor_count * 24, f"tensor count ({tensor_count:,})")
    kv: dict[str, MetaValue] = {}
    kv_types: dict[str, str] = {}
    for i in range(kv_count):
        key = cur.name(f"metadata key {i}")
        where = f"metadata {quote(key)}"
        vtype = cur.u32(f"{where}: value type")
        type_name, value = _value(cur, vtype, where)
        if key in kv:
            raise cur.error(f"duplicate metadata key {quote(key)}")
        if key == "general.alignment" and (vtype != gguf.GGUFValueType.UINT32 or not isinstance(value, int) or value <= 0 or value & (value - 1)):
            raise cur.error(f"general.alignment must be a UINT32 power of two, got {type_name} {quote(value)}")
        kv[key], kv_types[key] = value, type_name
    cur.need(tensor_count * 24, f"tensor count ({tensor_count:,})")
    entries: list[_Entry] = []
    names: set[str] = set()
    for i in range(tensor_count):
        name = cur.name(f"tensor {i} name")
        where = f"tensor {quote(name)}"
        n_dims = cur.u32(f"{where}: dimension count")
        if n_dims > MAX_DIMS:
            raise cur.error(f"{where}: {n_dims} dimensions; ggml tensors have at most {MAX_DIMS}")
        ne = struct.unpack(f"<{n_dims}Q", cur.take(8 * n_dims, f"{where}: dimensions"))
        type_id = cur.u32(f"{where}: type")
        offset = cur.u64(f"{where}: offset")
        if name in names:
            raise cur.error(f"duplicate tensor name {quote(name)}")
        names.add(name)
        entries.append(_Entry(name, ne, type_id, offset))
    return version, kv, kv_types, entries


class _UnknownType(HeaderError):
    """A tensor of a type id the installed gguf does not know: listed, never fatal."""


@functools.cache
def _gguf_version() -> str:
    return importlib.metadata.version("gguf")


def _tensor_info(path: Path, e: _Entry, data_offset: int, alignment: int, stamp: FileStamp, hf_name: str | None) -> GGUFTensorInfo:
    where = f"tensor {quote(e.name)}"
    try:
        ggml_type = gguf.GGMLQuantizationType(e.type_id)
    except ValueError:
        raise _UnknownType(path, f"ggml type {e.type_id} is unknown to gguf {_gguf_version()} (a newer quantization type?)") from None
    dtype = GGML_DTYPES[ggml_type.name]
    if any(d >= 2**63 for d in e.ne) or math.prod(d for d in e.ne if d) > MAX_ELEMENTS:
        raise HeaderError(path, f"{where}: dimensions {list(e.ne)} are beyond what numpy can hold (product of the non-zero dimensions > 2**60)")
    count = math.prod(e.ne)
    nbytes = dtype.nbytes(count)
    block = dtype.block_size if isinstance(dtype, QuantType) else 1
    if not e.ne and block > 1:
        raise HeaderError(path, f"{where}: a 0-dimensional {ggml_type.name} tensor (its blocks run along ne[0])")
    if e.ne and e.ne[0] % block or nbytes is None:
        raise HeaderError(path, f"{where}: ne[0] = {e.ne[0]} is not a multiple of {ggml_type.name}'s block size {block}")
    if e.offset % alignment:
        raise HeaderError(path, f"{where}: offset {e.offset} is not a multiple of the alignment {alignment}")
    data_len = stamp.size - data_offset
    if nbytes and e.offset + nbytes > data_len:
        raise HeaderError(path, f"{where}: data [{e.offset}, {e.offset + nbytes}] runs past the data section ({max(data_len, 0)} bytes; file truncated?)")
    return GGUFTensorInfo(e.name, ggml_type.name, tuple(reversed(e.ne)), path, data_offset + e.offset, nbytes, stamp, hf_name=hf_name)
