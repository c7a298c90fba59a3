"""Opening untrusted files: regular files only, never blocking, each one recorded.

Every file weightlens reads — safetensors files and shards, shard indexes, adapter configs,
baselines, saved reports, TOML configs — is opened by :func:`open_regular`. It opens with
``O_NONBLOCK``, so a FIFO cannot block the ``open`` call, refuses anything ``fstat`` does not
call a regular file, and records the file's identity (device, inode and resolved path) in
the active :class:`ReadLog`: the CLI checks each output path against that log before it
writes anything, so a run never writes over a file it read.

The auxiliary JSON and TOML files are parsed by :func:`load_json` and :func:`load_toml`,
which turn every way such a file can be malformed — invalid UTF-8 or syntax, NaN/Infinity
(not JSON, though Python's parser accepts them), numbers beyond the float range, integers of
more digits than any count in these files has, nesting too deep — into one
:class:`~weightlens.errors.FileFormatError`.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from weightlens.errors import FileFormatError, InputError, cut

MAX_DEPTH = 100
"""Deepest nesting of arrays and objects accepted in an auxiliary file (reports nest 5 deep)."""

MAX_INT_DIGITS = 20
"""Most digits of an integer in an auxiliary file: 2**64 - 1 has 20; no count or size has more."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True)
class FileId:
    """A file that was read: its resolved path, its (device, inode), what it was read as, and
    its path as opened (for messages)."""

    path: Path
    device: int
    inode: int
    what: str
    opened: Path


class ReadLog:
    """The files opened through :func:`open_regular` while the log is active (see :func:`recording_reads`)."""

    def __init__(self) -> None:
        self._files: dict[tuple[int, int], FileId] = {}

    def __iter__(self) -> Iterator[FileId]:
        return iter(self._files.values())

    def __len__(self) -> int:
        return len(self._files)

    def add(self, path: Path, st: os.stat_result, what: str) -> None:
        self._files.setdefault((st.st_dev, st.st_ino), FileId(path.resolve(), st.st_dev, st.st_ino, what, path))

    def find_stat(self, st: os.stat_result) -> FileId | None:
        """The file read that has the device and inode of ``st``, if any."""
        return self._files.get((st.st_dev, st.st_ino))

    def find(self, target: str | os.PathLike[str]) -> FileId | None:
        """The file read that writing ``target`` would replace: the same inode (through a hard
        or symbolic link) or the same resolved path; None when there is none."""
        target = Path(target)
        try:
            found = self.find_stat(target.stat())
        except OSError:  # does not exist (yet), or a dangling link: only the path can match
            found = None
        resolved = target.resolve()
        return found or next((f for f in self if f.path == resolved), None)


_ACTIVE: ContextVar[ReadLog | None] = ContextVar("weightlens_read_log", default=None)


@contextmanager
def recording_reads() -> Iterator[ReadLog]:
    """Record in a fresh :class:`ReadLog` every file opened in this block (in this thread or task)."""
    log = ReadLog()
    token = _ACTIVE.set(log)
    try:
        yield log
    finally:
        _ACTIVE.reset(token)


def active_read_log() -> ReadLog | None:
    """The log of the innermost :func:`recording_reads` block, None outside any."""
    return _ACTIVE.get()


def file_kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", ...), None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike[str], what: str) -> IO[bytes]:
    """Open a regular file for reading in binary mode, without ever blocking in ``open``.

    Parameters
    ----------
    path : the file.
    what : what it should be, for messages ("shard index", "baseline").

    Raises
    ------
    InputError
        When it cannot be opened, or is a directory, FIFO, device or socket (reading a FIFO
        would wait for a writer forever; a device may never end).
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise InputError(path, f"cannot read {what}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        kind = file_kind(st.st_mode)
        if kind is not None:
            raise InputError(path, f"cannot read {what}: it is {kind}, not a regular file")
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    log = _ACTIVE.get()
    if log is not None:
        log.add(path, st, what)
    return f


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """The content of a regular file, decoded as UTF-8 (FileFormatError when it is not)."""
    path = Path(path)
    with open_regular(path, what) as f:
        try:
            raw = f.read()
        except OSError as e:
            raise InputError(path, f"cannot read {what}: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FileFormatError(path, f"cannot read {what}: not UTF-8 text (byte {e.start})") from None


class _Rejected(ValueError):
    """A value the JSON grammar or this module's limits exclude (raised inside the parser)."""


def _constant(name: str) -> Any:
    raise _Rejected(f"{name} is not a JSON number (non-finite values are not standard JSON)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Rejected(f"number {cut(text, 40)} is beyond the float range")
    return value


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Rejected(f"an integer of {digits} digits is out of range (at most {MAX_INT_DIGITS})")
    return int(text)


def _too_deep(doc: Any) -> bool:
    """Whether arrays/objects nest more than MAX_DEPTH deep (checked without recursion)."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_DEPTH:
                    return True
                stack.append((child, depth + 1))
    return False


def load_json(path: str | os.PathLike[str], what: str) -> Any:
    """Parse an untrusted JSON file (shard index, adapter config, baseline, saved report).

    Standard JSON only: NaN and ±Infinity, numbers that overflow a float, integers of more than
    :data:`MAX_INT_DIGITS` digits and nesting deeper than :data:`MAX_DEPTH` are errors.

    Raises
    ------
    InputError
        When the file cannot be opened or is not a regular file.
    FileFormatError
        When it is not UTF-8, not JSON, or breaks one of the limits above; the message names
        ``what`` and the problem.
    """
    return _parse(Path(path), what, "JSON", lambda text: json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int))


def load_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """Parse an untrusted TOML file (pyproject.toml, ``--config``).

    TOML's own ``inf`` and ``nan`` are kept (a config decides what they mean); integers beyond
    Python's digit limit and nesting deeper than :data:`MAX_DEPTH` are errors.

    Raises
    ------
    InputError
        When the file cannot be opened or is not a regular file.
    FileFormatError
        When it is not UTF-8, not TOML, or nests too deeply.
    """
    doc: dict[str, Any] = _parse(Path(path), what, "TOML", tomllib.loads)
    return doc


def _parse(path: Path, what: str, kind: str, parse: Callable[[str], Any]) -> Any:
    """``parse`` of the file's text, every way it can fail (a limit, bad syntax, ``int()`` past
    the digit limit, recursion, nesting beyond :data:`MAX_DEPTH`) as one FileFormatError."""
    text = read_text(path, what)
    try:
        doc = parse(text)
    except _Rejected as e:
        raise FileFormatError(path, f"cannot read {what}: {e}") from None
    except ValueError as e:  # JSONDecodeError, TOMLDecodeError, and int() past the digit limit
        raise FileFormatError(path, f"cannot read {what}: invalid {kind} ({cut(str(e), 200)})") from None
    except RecursionError:
        raise FileFormatError(path, f"cannot read {what}: {kind} nested too deeply") from None
    if _too_deep(doc):
        raise FileFormatError(path, f"cannot read {what}: {kind} nested more than {MAX_DEPTH} deep")
    return doc
