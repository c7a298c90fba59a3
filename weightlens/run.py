"""Map "analyze one tensor" over the selected tensors of one or more checkpoints."""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from weightlens.analysis import analyze_tensor, blank_record
from weightlens.checkpoint import Checkpoint, TensorInfo, open_checkpoint
from weightlens.executors import make_executor
from weightlens.matrix import layout_of
from weightlens.options import AnalysisOptions
from weightlens.report import FileEntry, InputEntry, Report, TensorRecord, summarize


@dataclass(frozen=True)
class Plan:
    """The checkpoints opened and the tensors selected from them, in checkpoint order."""

    checkpoints: tuple[Checkpoint, ...]
    selected_per_checkpoint: tuple[tuple[TensorInfo, ...], ...]

    @property
    def tensors(self) -> tuple[TensorInfo, ...]:
        return tuple(t for chosen in self.selected_per_checkpoint for t in chosen)

    @property
    def excluded(self) -> int:
        return sum(len(c.tensors) - len(s) for c, s in zip(self.checkpoints, self.selected_per_checkpoint))

    def inputs(self) -> list[InputEntry]:
        return [
            InputEntry(
                path=str(c.path),
                layout=c.layout,
                files=tuple(FileEntry(str(h.path), h.size, h.sha256, len(h.tensors)) for h in c.files),
                tensors=len(c.tensors),
                selected=len(chosen),
            )
            for c, chosen in zip(self.checkpoints, self.selected_per_checkpoint)
        ]


def selected(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """A name passes the filters when it matches an include glob (or none is given) and no exclude glob."""
    if include and not any(fnmatch.fnmatchcase(name, g) for g in include):
        return False
    return not any(fnmatch.fnmatchcase(name, g) for g in exclude)


def plan(paths: Iterable[str | os.PathLike[str]], include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Plan:
    """Open every checkpoint (headers only) and select tensors by the name filters."""
    checkpoints = tuple(open_checkpoint(p) for p in paths)
    chosen = tuple(tuple(t for t in c.tensors if selected(t.name, include, exclude)) for c in checkpoints)
    return Plan(checkpoints, chosen)


def cost(info: TensorInfo) -> float:
    """Relative work of analyzing a tensor: m·n·min(m, n) for a matrix (its SVD), N otherwise."""
    shape = layout_of(info).matrix_shape
    return float(shape[0] * shape[1] * min(shape)) if shape else float(info.parameters)


def _lost(info: TensorInfo, problem: str) -> TensorRecord:
    record = blank_record(info)
    record.error = f"not analyzed: {problem}"
    return record


def iter_records(
    tensors: Sequence[TensorInfo],
    options: AnalysisOptions,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    on_complete: Callable[[TensorInfo], None] | None = None,
) -> Iterator[TensorRecord]:
    """Records for the tensors, in the given order.

    Parameters
    ----------
    tensors, options : what to analyze, and how.
    jobs : tensors analyzed at once (see :func:`weightlens.executors.make_executor`).
    scheduler : None, "local" or a Dask scheduler address.
    on_complete : called with each tensor as soon as it is done, in completion order.

    Notes
    -----
    Workers get absolute file paths (a Dask worker may run elsewhere); the records keep the
    paths as given. A tensor whose worker process died gets a record with ``error`` set.
    """
    costs = [cost(t) for t in tensors]
    executor = make_executor(jobs, scheduler, work=sum(costs))
    tasks = [dataclasses.replace(t, file=Path(os.path.abspath(t.file))) for t in tensors]
    done = None if on_complete is None else (lambda i: on_complete(tensors[i]))
    records = executor.map_ordered(
        functools.partial(analyze_tensor, options=options),
        tasks,
        costs=costs,
        on_complete=done,
        on_lost=_lost,
    )
    for info, record in zip(tensors, records):
        record.file = str(info.file)
        yield record


def analyze(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    options: AnalysisOptions | None = None,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    on_record: Callable[[TensorRecord], None] | None = None,
) -> Report:
    """Analyze the matrices of one or more safetensors checkpoints.

    Parameters
    ----------
    paths : a checkpoint path (file, sharded directory, index file) or several.
    options : what to compute; defaults to every pass with default settings.
    jobs : tensors analyzed at once, each in its own worker process with cores/jobs BLAS
        threads; None = all cores (in-process when the checkpoint is small); 1 = in-process.
    scheduler : run on a Dask cluster instead: "local" starts one on this machine, an address
        (tcp://HOST:PORT) connects to one whose workers see the same checkpoint paths.
    on_record : called with each record as soon as it is done (for streaming output).

    Returns
    -------
    Report
        One record per selected tensor, in checkpoint order (whatever runs them), and a summary.

    Raises
    ------
    weightlens.errors.WeightlensError
        For a path or header that cannot be read (before any tensor is analyzed).

    Examples
    --------
    >>> report = weightlens.analyze("model.safetensors")            # doctest: +SKIP
    >>> report["lm_head.weight"]["numerical_rank"]                   # doctest: +SKIP
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    options = options or AnalysisOptions()
    p = plan(paths, options.include, options.exclude)
    records = []
    for r in iter_records(p.tensors, options, jobs=jobs, scheduler=scheduler):
        if on_record is not None:
            on_record(r)
        records.append(r)
    return Report(p.inputs(), options, records, summarize(records, p.excluded))
