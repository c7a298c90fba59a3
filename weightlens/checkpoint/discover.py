"""From the paths a user gives to an ordered list of tensors.

One path is one checkpoint: a ``.safetensors`` file; a directory with an HF shard index
(``*.safetensors.index.json``); a directory of ``*.safetensors`` files; or an index file itself.
Any of these whose tensors include lora_A/lora_B pairs is a PEFT LoRA adapter (layout
"adapter"), scaled by the ``adapter_config.json`` of its directory when there is one.
A GGUF file (recognised by its magic bytes, whatever its name), or a directory of ``*.gguf``
files without safetensors — one model, or the parts of one split model — has layout "gguf".
PyTorch pickle files are refused with a conversion hint: weightlens never unpickles.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from weightlens.checkpoint.gguf import GGUFFile, has_gguf_magic, read_gguf
from weightlens.checkpoint.header import _PICKLE_HINT, FileHeader, TensorInfo, read_header
from weightlens.checkpoint.peft import ADAPTER_CONFIG, AdapterConfig, find_adapter_config, has_lora_pairs, read_adapter_config
from weightlens.checkpoint.safeload import load_json
from weightlens.errors import HeaderError, InputError, quote

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
INDEX_SUFFIX = ".safetensors.index.json"
GGUF_SUFFIX = ".gguf"
Layout = Literal["file", "index", "directory", "adapter", "gguf"]


@dataclass(frozen=True)
class Unreadable:
    """A tensor (or a whole shard, when its tensors' names are unknown) that cannot be read.

    In a multi-file checkpoint a shard that fails validation does not stop the run: its tensors
    are reported with ``problem`` and the others are analyzed.
    """

    name: str
    file: Path
    problem: str
    nbytes: int = 0
    parameters: int = 0


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint: its files and its tensors in checkpoint order.

    Checkpoint order is the natural order of tensor names (``layers.2`` before ``layers.10``),
    which follows the depth of the network for the usual naming schemes, whatever the order of
    the shards or of the JSON keys.

    Attributes
    ----------
    path : the path as given.
    layout : "file", "index", "directory", "adapter" (a PEFT LoRA adapter: the tensors
        include lora_A/lora_B pairs), or "gguf" (a GGUF file, or the parts of a split one).
    files : validated headers, in shard order.
    tensors : every readable tensor of every file, in checkpoint order.
    unreadable : tensors or shards of a multi-file checkpoint that failed validation.
    adapter : the adapter's ``adapter_config.json``, when it is an adapter and has one.
    """

    path: Path
    layout: Layout
    files: tuple[FileHeader, ...]
    tensors: tuple[TensorInfo, ...]
    unreadable: tuple[Unreadable, ...] = ()
    adapter: AdapterConfig | None = None

    def items(self) -> list[TensorInfo | Unreadable]:
        """Readable and unreadable tensors together, in checkpoint order."""
        if not self.unreadable:
            return list(self.tensors)  # already in checkpoint order: no second sort of 10⁵ names
        return sorted([*self.tensors, *self.unreadable], key=lambda t: natural_key(t.name))

    @property
    def parameters(self) -> int:
        return sum(t.parameters for t in self.tensors)

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


_DIGIT_RUNS = re.compile(r"([0-9]+)")


def natural_key(name: str) -> tuple[str | int, ...]:
    """Sort key that orders digit runs by value: ``h.2.w`` < ``h.10.w``.

    The split alternates text and digit runs, text first (empty when the name starts with a
    digit), so keys compare text with text and numbers with numbers at every position.
    """
    parts: list[str | int] = _DIGIT_RUNS.split(name)
    parts[1::2] = map(int, parts[1::2])
    return tuple(parts)


def open_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Find, read and validate the headers of one checkpoint (no tensor data is read).

    Raises
    ------
    InputError
        When the path is missing, a pickle, holds no safetensors, or a header/index/adapter
        config is invalid.
    """
    ckpt = _open(Path(path))
    if not has_lora_pairs(ckpt.tensors):
        return ckpt
    config = find_adapter_config(ckpt.path)
    return replace(ckpt, layout="adapter", adapter=read_adapter_config(config) if config else None)


def would_join(checkpoint: str | os.PathLike[str], new_file: str | os.PathLike[str]) -> bool:
    """Whether creating ``new_file`` would change what :func:`open_checkpoint` reads from ``checkpoint``.

    A directory reads its ``*.safetensors`` files, its shard index and its adapter_config.json;
    a file or an index file reads the adapter_config.json beside it.
    """
    ckpt, new = Path(checkpoint).resolve(), Path(new_file).resolve()
    if ckpt.is_dir():
        return new.parent == ckpt and (new.suffix in (".safetensors", GGUF_SUFFIX) or new.name.endswith(INDEX_SUFFIX) or new.name == ADAPTER_CONFIG)
    return new.parent == ckpt.parent and new.name == ADAPTER_CONFIG


def _open(path: Path) -> Checkpoint:
    if not path.exists():
        raise InputError(path, "no such file or directory")
    if path.is_dir():
        indexes = sorted(path.glob("*" + INDEX_SUFFIX))
        if len(indexes) > 1:
            raise InputError(path, f"several shard indexes ({', '.join(p.name for p in indexes)}); pass one of them")
        if indexes:
            return _from_index(path, indexes[0])
        files = sorted(path.glob("*.safetensors"), key=lambda p: natural_key(p.name))
        if not files and (ggufs := sorted(path.glob("*" + GGUF_SUFFIX), key=lambda p: natural_key(p.name))):
            return _from_gguf(path, ggufs)
        if not files:
            pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
            if pickles:
                raise InputError(path, f"no .safetensors files, only PyTorch pickles ({', '.join(pickles[:3])}); " + _PICKLE_HINT)
            raise InputError(path, "no .safetensors files in this directory")
        links = {f: broken_link(f) for f in files}  # an incomplete HF snapshot: listed, not fatal
        broken = [Unreadable(f.name, f, f"cannot read: {problem}") for f, problem in links.items() if problem]
        headers, unreadable = _read_shards([f for f, problem in links.items() if not problem], {})
        return _assemble(path, "directory", headers, [*broken, *unreadable])
    if path.name.endswith(INDEX_SUFFIX):
        return _from_index(path, path)
    if path.suffix == GGUF_SUFFIX or has_gguf_magic(path):
        return _from_gguf(path, [path])
    if path.suffix in PICKLE_SUFFIXES:
        raise InputError(path, "PyTorch pickle checkpoints are not read (unpickling can run code); " + _PICKLE_HINT)
    return _assemble(path, "file", [read_header(path)])


def _from_index(path: Path, index: Path) -> Checkpoint:
    doc = load_json(index, "shard index")
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise InputError(index, 'shard index must have a "weight_map" object of tensor name -> shard file')
    shards = []
    for name in dict.fromkeys(weight_map.values()):
        shard = index.parent / name
        if Path(name).name != name:
            raise InputError(index, f"shard {quote(name)} is not a file name in the index's directory")
        try:
            exists = shard.exists()  # a FIFO or device is refused when read, as any input
        except OSError as e:  # ENAMETOOLONG: exists() only swallows "does not exist"
            raise InputError(index, f"names shard {quote(name)}, which cannot be looked up ({e.strerror})") from None
        if not exists:
            raise InputError(index, f"names shard {quote(name)}, {broken_link(shard) or 'which does not exist'}")
        shards.append(shard)
    by_shard: dict[str, list[str]] = {}
    for tensor, shard_name in weight_map.items():
        by_shard.setdefault(shard_name, []).append(tensor)
    headers, unreadable = _read_shards(shards, by_shard)
    present = {h.path.name: {t.name for t in h.tensors} | {n for n, _ in h.invalid} for h in headers}
    for tensor, shard_name in weight_map.items():
        if shard_name in present and tensor not in present[shard_name]:
            raise InputError(index, f"maps tensor {quote(tensor)} to {quote(shard_name)}, which does not contain it")
    return _assemble(path, "index", headers, unreadable)


def _from_gguf(path: Path, files: list[Path]) -> Checkpoint:
    """One GGUF file (strict: a bad entry fails it), or the parts of one split model (gguf-split:
    each part a GGUF of its own with split.no/split.count; a part that fails is listed, the others
    read, a missing one listed too)."""
    if len(files) == 1:
        header = read_gguf(files[0])
        return _assemble(path, "gguf", [header], _gguf_unreadable(header))
    headers: list[FileHeader] = []
    unreadable: list[Unreadable] = []
    counts: set[int | None] = set()
    for f in files:
        try:
            if problem := broken_link(f):
                raise HeaderError(f, f"cannot read: {problem}")
            header = read_gguf(f, strict=False)
        except HeaderError as e:
            unreadable.append(Unreadable(f.name, f, e.problem))
            continue
        counts.add(header.split[1] if header.split else None)
        headers.append(header)
        unreadable += _gguf_unreadable(header)
    if None in counts or len(counts) > 1:
        names = ", ".join(f.name for f in files[:3]) + (", ..." if len(files) > 3 else "")
        raise InputError(path, f"{len(files)} GGUF files that are not the parts of one split model ({names}); pass one of them")
    count = counts.pop() or len(files) if counts else len(files)
    if count > len(files):
        unreadable.append(Unreadable(f"{count - len(files)} of {count} split parts", path, "not in the directory (a split GGUF model has split.count parts)"))
    return _assemble(path, "gguf", headers, unreadable)


def _gguf_unreadable(header: GGUFFile) -> list[Unreadable]:
    """A GGUF file's tensors that cannot be read (types gguf cannot dequantize, invalid entries)."""
    return [Unreadable(n, header.path, problem) for n, problem in header.invalid]


def broken_link(path: Path) -> str | None:
    """What is wrong with ``path`` when it is a symlink that leads nowhere, else None.

    "a symlink to 'TARGET', which does not exist" (dangling: in a Hugging Face cache snapshot,
    a blob that was never downloaded) or "a symlink loop".
    """
    if not path.is_symlink():
        return None
    try:
        os.stat(path)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"a symlink to {os.readlink(path)!r}, which does not exist"
        if e.errno == errno.ELOOP:
            return "a symlink loop"
        return None  # EACCES ...: reading the shard reports it
    return None


def _read_shards(shards: list[Path], names_by_shard: dict[str, list[str]]) -> tuple[list[FileHeader], list[Unreadable]]:
    """Headers of the shards that can be read; the rest, and their invalid entries, as Unreadable.

    A shard that fails as a whole yields one Unreadable per tensor the index assigns to it, or one
    named after the file when there is no index.
    """
    headers, unreadable = [], []
    for shard in shards:
        try:
            header = read_header(shard, strict=False)
        except HeaderError as e:
            names = names_by_shard.get(shard.name) or [shard.name]
            unreadable += [Unreadable(n, shard, e.problem) for n in names]
            continue
        headers.append(header)
        unreadable += [Unreadable(n, shard, problem) for n, problem in header.invalid]
    return headers, unreadable


def _assemble(
    path: Path,
    layout: Literal["file", "index", "directory", "gguf"],
    headers: list[FileHeader],
    unreadable: list[Unreadable] | None = None,
) -> Checkpoint:
    seen: dict[str, Path] = {}
    for h in headers:
        for t in h.tensors:
            if t.name in seen:
                raise InputError(path, f"tensor {quote(t.name)} is in both {seen[t.name].name} and {h.path.name}")
            seen[t.name] = h.path
    tensors = sorted((t for h in headers for t in h.tensors), key=lambda t: natural_key(t.name))
    return Checkpoint(path=path, layout=layout, files=tuple(headers), tensors=tuple(tensors), unreadable=tuple(unreadable or ()))
