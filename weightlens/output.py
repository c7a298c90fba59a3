"""Atomic report files: written to a temporary file beside the target, then renamed."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from weightlens.errors import UsageError


@contextmanager
def atomic_writer(path: str | os.PathLike[str], keep_on_interrupt: bool = False, binary: bool = False) -> Iterator[IO[Any]]:
    """Open a text (with ``binary``, a bytes) stream whose content replaces ``path`` only when the block succeeds.

    Readers never see a half-written report: the data goes to a hidden temporary file in the
    same directory, which is flushed, synced and renamed over ``path`` at the end (an atomic
    rename on POSIX). On an exception the temporary file is removed and ``path`` is untouched —
    except on KeyboardInterrupt with ``keep_on_interrupt`` (JSON Lines, written a whole line at a
    time), where what was written so far replaces ``path``, still by one rename. A ``path``
    that exists but is not a regular file (``/dev/stdout``, a FIFO) is written to directly.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: cannot write the report, it is a directory")
    if path.exists() and not path.is_file():  # /dev/stdout, /dev/null, a FIFO: nothing to rename over
        with open(path, "wb") if binary else open(path, "w", encoding="utf-8", newline="\n") as f:
            yield f
        return
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"{path}: cannot write the report, directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
    except KeyboardInterrupt:
        if keep_on_interrupt:
            os.replace(tmp, path)
        else:
            Path(tmp).unlink(missing_ok=True)
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _mode_for(path: Path) -> int:
    """The permissions the report gets: those of the file it replaces, else 0o666 less the umask
    (what ``open(path, "w")`` would give; mkstemp's own 0o600 would hide reports from the team)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
