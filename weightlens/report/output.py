"""Writing reports, figures and stdout: atomic files, and write failures as one-line errors.

Every byte weightlens writes goes through a :class:`GuardedStream`, which turns an ``OSError``
of the stream (full disk, read-only file system, quota, I/O error) into an
:class:`~weightlens.errors.OutputError` naming the file, and a pipe whose reader went away
into :class:`~weightlens.errors.OutputClosed`; the CLI prints the first as one line (exit 2)
and exits quietly on the second.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from weightlens.errors import OutputClosed, OutputError, UsageError

STDOUT_NAME = "<stdout>"


def write_failure(name: str | os.PathLike[str], e: OSError, action: str = "cannot write") -> OutputError:
    """The OutputError for ``e`` on ``name``: OutputClosed for a closed pipe, else "ACTION: REASON"."""
    cls = OutputClosed if e.errno == errno.EPIPE else OutputError
    return cls(name, f"{action}: {e.strerror or e}")


class GuardedStream:
    """A text or binary stream whose write, flush and close raise OutputError instead of OSError.

    Everything else (``isatty``, ``fileno``, ``encoding`` ...) is the wrapped stream's, so a
    rich Console or ``print`` use it as they would the stream itself.
    """

    def __init__(self, stream: IO[Any], name: str | os.PathLike[str]) -> None:
        self._stream = stream
        self.name = str(name)
        buffer = getattr(stream, "buffer", None)
        self._raw = buffer if isinstance(stream, io.TextIOBase) and isinstance(buffer, io.RawIOBase) else None

    def write(self, data: Any) -> int:
        try:
            if self._raw is not None and isinstance(data, str):
                return self._write_through(data)
            return self._stream.write(data)
        except OSError as e:
            raise write_failure(self.name, e) from None

    def _write_through(self, text: str) -> int:
        """Write ``text`` whole to an unbuffered stream (``python -u``, PYTHONUNBUFFERED=1).

        There, TextIOWrapper hands the bytes to one raw ``write`` and ignores a short count: the
        rest of a report is silently lost when the disk fills up or a pipe's reader leaves.
        """
        assert self._raw is not None
        self._stream.flush()
        view = memoryview(text.encode(self._stream.encoding, self._stream.errors or "strict"))
        while view:
            n = self._raw.write(view)
            if not n:  # a non-blocking descriptor that is full
                raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN))
            view = view[n:]
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as e:
            raise write_failure(self.name, e) from None

    def close(self) -> None:
        try:
            self._stream.close()
        except OSError as e:
            raise write_failure(self.name, e) from None

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._stream, attr)


@contextmanager
def atomic_writer(path: str | os.PathLike[str], keep_on_interrupt: bool = False, binary: bool = False) -> Iterator[IO[Any]]:
    """Open a text (with ``binary``, a bytes) stream whose content replaces ``path`` only when the block succeeds.

    Readers never see a half-written report: the data goes to a hidden temporary file in the
    same directory, which is flushed, synced and renamed over ``path`` at the end (an atomic
    rename on POSIX). On an exception the temporary file is removed and ``path`` is untouched —
    except on KeyboardInterrupt with ``keep_on_interrupt`` (JSON Lines, written a whole line at a
    time), where what was written so far replaces ``path``, still by one rename. A ``path``
    that exists but is not a regular file (``/dev/stdout``, a FIFO) is written to directly.

    Raises
    ------
    UsageError
        When ``path`` is a directory or its directory does not exist.
    OutputError
        When the file cannot be created, written, synced or renamed (read-only file system,
        no space left, permission denied ...); no temporary file is left behind.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: cannot write the report, it is a directory")
    if path.exists() and not path.is_file():  # /dev/stdout, /dev/null, a FIFO: nothing to rename over
        with _open_special(path, binary) as f:
            yield cast("IO[Any]", f)  # GuardedStream forwards all but write/flush/close to the stream (__getattr__)
        return
    fd, tmp = _make_temp(path)
    try:
        with _closing(os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n"), path) as f:
            yield cast("IO[Any]", f)  # as above
            f.flush()
            _guarded(os.fsync, path, "cannot write")(f.fileno())
    except KeyboardInterrupt:
        if keep_on_interrupt:
            _replace(tmp, path)
        else:
            Path(tmp).unlink(missing_ok=True)
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _replace(tmp, path)


def _guarded(fn: Any, path: Path, action: str) -> Any:
    """``fn`` with its OSError raised as the OutputError of ``path``."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OSError as e:
            raise write_failure(path, e, action) from None

    return call


@contextmanager
def _open_special(path: Path, binary: bool) -> Iterator[GuardedStream]:
    """A device or FIFO opened for writing, guarded (``-o /dev/full``: no space left on device)."""
    opener = _guarded(open, path, "cannot open for writing")
    with _closing(opener(path, "wb") if binary else opener(path, "w", encoding="utf-8", newline="\n"), path) as f:
        yield f


def _make_temp(path: Path) -> tuple[int, str]:
    """Create the hidden temporary file beside ``path``, with the permissions ``path`` will get."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        problem = "is not a directory" if directory.exists() else "does not exist"
        raise UsageError(f"{path}: cannot write the report, directory {directory} {problem}")
    fd, tmp = _guarded(tempfile.mkstemp, path, "cannot create")(f".{path.name}.", ".tmp", directory)
    try:
        _guarded(os.fchmod, path, "cannot create")(fd, _mode_for(path))
    except OutputError:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


@contextmanager
def _closing(stream: IO[Any], path: Path) -> Iterator[GuardedStream]:
    """Yield ``stream`` guarded; close it at the end. When the block failed, the data is being
    discarded, so an error while closing must not hide the block's own exception."""
    guarded = GuardedStream(stream, path)
    try:
        yield guarded
    except BaseException:
        with contextlib.suppress(OSError):
            stream.close()
        raise
    guarded.close()


def _replace(tmp: str, path: Path) -> None:
    """Rename ``tmp`` over ``path``; on failure remove ``tmp`` and raise OutputError."""
    try:
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise write_failure(path, e, "cannot rename the written file into place") from None


def _mode_for(path: Path) -> int:
    """The permissions the report gets: those of the file it replaces, else 0o666 less the umask
    (what ``open(path, "w")`` would give; mkstemp's own 0o600 would hide reports from the team)."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def guarded_stdout() -> Iterator[None]:
    """Run a command with ``sys.stdout`` guarded, and flush it before leaving.

    Write errors of stdout surface inside the command as OutputError (``> /dev/full``) or
    OutputClosed (``| head -1``), never at interpreter exit as "Exception ignored ...". A
    failed final flush replaces whatever the command raised: the output is lost either way.
    """
    original = sys.stdout
    guarded = GuardedStream(original, STDOUT_NAME)
    sys.stdout = guarded
    try:
        yield
    finally:
        sys.stdout = original
        _flush_stdout(guarded, original)


def _flush_stdout(guarded: GuardedStream, original: IO[Any]) -> None:
    """Flush stdout; when that fails, point its file descriptor at /dev/null (so that Python's own
    flush at exit, of what is still buffered, has nowhere to fail) and raise the OutputError."""
    try:
        guarded.flush()
    except OutputError:
        _silence(original)
        raise


def _silence(stream: IO[Any]) -> None:
    """Point the file descriptor under ``stream`` at /dev/null (when it has one: the real stdout)."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # a test runner's in-memory stdout: its buffer cannot fail later
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
