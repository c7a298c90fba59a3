"""Options and helpers shared by the commands."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from weightlens.errors import UsageError
from weightlens.render.escape import visible
from weightlens.output import atomic_writer

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


def split_list(text: str | None) -> tuple[str, ...]:
    """'a, b,c' -> ('a', 'b', 'c')."""
    return tuple(p.strip() for p in (text or "").split(",") if p.strip())


def guard_output(output: Path | None, inputs: list[Path]) -> None:
    """Refuse an output path that is one of the inputs: weightlens never writes to a checkpoint."""
    if output is None:
        return
    target = output.resolve()
    for p in inputs:
        q = p.resolve()
        if target == q or (q.is_dir() and target.parent == q and target.suffix == ".safetensors"):
            raise UsageError(f"{output}: refusing to write the report over an input checkpoint")


@contextmanager
def output_stream(output: Path | None, keep_on_interrupt: bool = False) -> Iterator[IO[str]]:
    """stdout, or an atomic writer on ``output`` (see :func:`weightlens.output.atomic_writer`)."""
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
