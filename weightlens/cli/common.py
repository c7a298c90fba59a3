"""Options and helpers shared by the commands."""

from __future__ import annotations

import io
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from weightlens.checkpoint.discover import would_join
from weightlens.checkpoint.safeload import ReadLog, active_read_log
from weightlens.errors import UsageError
from weightlens.report.output import atomic_writer
from weightlens.text import visible

PATHS = typer.Argument(..., help="Checkpoints: .safetensors files, sharded directories or index files.", show_default=False)
INCLUDE = typer.Option([], "--include", "-i", metavar="GLOB", help="Only tensors whose name matches this glob (repeatable).", show_default=False)
EXCLUDE = typer.Option([], "--exclude", "-e", metavar="GLOB", help="Skip tensors whose name matches this glob (repeatable).", show_default=False)
OUTPUT = typer.Option(None, "--output", "-o", help="Write the output to FILE (atomically) instead of stdout.", show_default=False)
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or notes on stderr.")
JOBS = typer.Option(
    None,
    "--jobs",
    "-j",
    min=1,
    help="Tensors analyzed at once, in worker processes with cores/jobs BLAS threads each; 1 = in this process [default: all cores; small checkpoints run in this process].",
    show_default=False,
)


def _read_log() -> ReadLog:
    log = active_read_log()
    if log is None:
        raise RuntimeError("output guards need the files read: run the command inside recording_reads()")
    return log


def guard_output(output: Path | None, inputs: Sequence[Path], option: str = "-o") -> None:
    """Refuse an output that would replace a file this run read, or join an input checkpoint.

    Call it after every input is opened (checkpoint headers, index, adapter config, baseline,
    config files, saved report) and before anything is written. A file read is matched by
    resolved path and by device and inode, so symbolic and hard links to it are refused too;
    an existing device or FIFO is no file read (those are refused as inputs) and stays a valid
    output. ``output=None`` checks stdout, when it is redirected to a file.
    """
    log = _read_log()
    if output is None:
        _guard_stdout(log)
        return
    found = log.find(output)
    if found is not None:
        raise UsageError(f"{output}: refusing to write the report over an input of this run, the {found.what} {found.opened} ({option})")
    for checkpoint in inputs:
        if would_join(checkpoint, output):
            raise UsageError(f"{output}: refusing to write the report into the input checkpoint {checkpoint}: the file would become part of it ({option})")


def guard_outputs(outputs: Sequence[tuple[str, Path | None]], inputs: Sequence[Path]) -> None:
    """:func:`guard_output` for each (option, path); two options naming one file are refused too."""
    given = [(option, path) for option, path in outputs if path is not None]
    for i, (option, path) in enumerate(given):
        guard_output(path, inputs, option)
        for other, other_path in given[:i]:
            if path.resolve() == other_path.resolve():
                raise UsageError(f"{path}: refusing to write two outputs to one file ({other} and {option})")
    if not any(option == "-o" for option, _ in given):
        guard_output(None, inputs)


def guard_directory(directory: Path, suffix: str) -> None:
    """Refuse an output directory in which a file this run read has a name the outputs may take (``*suffix``)."""
    target = directory.resolve()
    for f in _read_log():
        if f.path.parent == target and f.path.name.endswith(suffix):
            raise UsageError(f"{directory}: refusing to write {suffix} files into a directory holding an input of this run, the {f.what} {f.opened}")


def _guard_stdout(log: ReadLog) -> None:
    """Refuse a stdout redirected onto a file the run read (``weightlens analyze m.safetensors >> m.safetensors``)."""
    try:
        st = os.fstat(sys.stdout.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):  # captured or closed stdout: no file to protect
        return
    found = log.find_stat(st) if stat.S_ISREG(st.st_mode) else None
    if found is not None:
        raise UsageError(f"stdout: refusing to write the report over an input of this run, the {found.what} {found.opened}")


@contextmanager
def output_stream(output: Path | None, keep_on_interrupt: bool = False) -> Iterator[IO[str]]:
    """stdout, or an atomic writer on ``output`` (see :func:`weightlens.report.output.atomic_writer`)."""
    if output is None:
        yield sys.stdout
    else:
        with atomic_writer(output, keep_on_interrupt) as f:
            yield f


@contextmanager
def progress_bar(total: int, quiet: bool, label: str = "analyzing", streaming: IO[str] | None = None) -> Iterator[Callable[[str], None]]:
    """A transient progress bar on stderr when it is a terminal; yields ``advance(name)``.

    The bar is erased when the block ends: print data after it, never inside it. ``streaming``
    is the stream data is written to during the block; when that is a terminal too, the data
    itself shows progress and no bar is drawn (the two would share lines).
    """
    if quiet or not sys.stderr.isatty() or total == 0 or (streaming is not None and streaming.isatty()):
        yield lambda _name: None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[last]}", markup=False),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with progress:
        task = progress.add_task(label, total=total, last="")
        yield lambda name: progress.update(task, advance=1, last=visible(name))
