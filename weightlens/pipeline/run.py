"""Map "analyze one tensor" over the selected tensors of one or more checkpoints.

The unit of work is a *job*: one tensor, an unreadable entry, or one LoRA pair (lora_A +
lora_B of an adapter, analyzed together as ΔW = s·B·A). All are pure data, analyzed by pure
functions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import functools
import os
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from weightlens.checkpoint import Checkpoint, TensorInfo, Unreadable, open_checkpoint
from weightlens.checkpoint.peft import LoraPair, pair_lora
from weightlens.passes import PASSES
from weightlens.passes.options import AnalysisOptions
from weightlens.pipeline.analyze import analyze_tensor, blank_record
from weightlens.pipeline.executors import map_tasks
from weightlens.pipeline.lora import analyze_lora
from weightlens.report.records import FileEntry, InputEntry, Report, TensorRecord, summarize
from weightlens.views.matrix import layout_of

Job = TensorInfo | Unreadable | LoraPair
"""What one record is computed from."""


@dataclass(frozen=True)
class Plan:
    """The checkpoints opened and the tensors selected from them, in checkpoint order.

    Unreadable entries (shards of a multi-file checkpoint that failed validation) are selected
    like tensors, so that the report lists them with their problem.
    """

    checkpoints: tuple[Checkpoint, ...]
    selected_per_checkpoint: tuple[tuple[TensorInfo | Unreadable, ...], ...]

    @property
    def tensors(self) -> tuple[TensorInfo | Unreadable, ...]:
        return tuple(t for chosen in self.selected_per_checkpoint for t in chosen)

    @property
    def jobs(self) -> tuple[Job, ...]:
        """The selected tensors as units of analysis: in an adapter, each selected lora_A/lora_B
        pair becomes one job (a factor selected without its partner stays a plain tensor)."""
        out: list[Job] = []
        for c, chosen in zip(self.checkpoints, self.selected_per_checkpoint):
            out.extend(pair_lora(chosen, c.adapter) if c.layout == "adapter" else chosen)
        return tuple(out)

    @property
    def excluded(self) -> int:
        return sum(len(c.items()) - len(s) for c, s in zip(self.checkpoints, self.selected_per_checkpoint))

    def inputs(self) -> list[InputEntry]:
        return [
            InputEntry(
                path=str(c.path),
                layout=c.layout,
                files=tuple(FileEntry(str(h.path), h.size, h.sha256, len(h.tensors)) for h in c.files),
                tensors=len(c.items()),
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
    chosen = tuple(tuple(t for t in c.items() if selected(t.name, include, exclude)) for c in checkpoints)
    return Plan(checkpoints, chosen)


def analyze_job(job: Job, options: AnalysisOptions) -> TensorRecord:
    """The record of one job (a pure function: safe for process pools)."""
    return analyze_lora(job, options) if isinstance(job, LoraPair) else analyze_tensor(job, options)


def cost(job: Job, spectral: bool = True) -> float:
    """Relative work of a job: m·n·min(m, n) for a matrix when ``spectral`` passes run (its SVD),
    its element count otherwise (one elementwise scan)."""
    if isinstance(job, LoraPair):
        return float(job.a.parameters + job.b.parameters) * job.rank
    if isinstance(job, Unreadable):
        return 0.0
    shape = layout_of(job).matrix_shape
    return float(shape[0] * shape[1] * min(shape)) if shape and spectral else float(job.parameters)


def _absolute(job: Job) -> Job:
    """The job with absolute file paths (a Dask worker may run in another directory)."""
    if isinstance(job, LoraPair):
        return dataclasses.replace(job, a=_absolute(job.a), b=_absolute(job.b))  # type: ignore[arg-type]  # a LoraPair's factors are TensorInfo, and _absolute keeps the kind it is given
    return dataclasses.replace(job, file=Path(os.path.abspath(job.file)))


def _lost(job: Job, problem: str) -> TensorRecord:
    """The record of a job whose worker process died."""
    message = f"not analyzed: {problem}"
    if isinstance(job, TensorInfo):
        record = blank_record(job)
        record.error = message
        return record
    return TensorRecord(job.name, str(_files(job)[0]), "unknown", (), 0, "unreadable", error=message)


def iter_records(
    jobs: Sequence[Job],
    options: AnalysisOptions,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    on_complete: Callable[[Job], None] | None = None,
) -> Generator[TensorRecord, None, None]:
    """Records for the jobs, in the given order.

    Parameters
    ----------
    jobs, options : what to analyze, and how.
    workers : jobs run at once (``--jobs``; see :func:`weightlens.pipeline.executors.make_executor`).
    scheduler : None, "local" or a Dask scheduler address.
    on_complete : called with each job as soon as it is done, in completion order.

    Notes
    -----
    Workers get absolute file paths; the records keep the paths as given. A job whose worker
    process died gets a record with ``error`` set.
    """
    spectral = any(PASSES[name].scope == "matrix" for name in options.passes)
    given = {os.path.abspath(f): str(f) for j in jobs for f in _files(j)}
    records = map_tasks(
        functools.partial(analyze_job, options=options),
        [_absolute(j) for j in jobs],
        [cost(j, spectral) for j in jobs],
        workers=workers,
        scheduler=scheduler,
        on_complete=on_complete,
        on_lost=_lost,
    )
    with contextlib.closing(records):  # a consumer that stops early stops the workers too
        for record in records:
            record.file = given.get(record.file, record.file)
            yield record


def _files(job: Job) -> tuple[Path, ...]:
    return (job.a.file, job.b.file) if isinstance(job, LoraPair) else (job.file,)


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
        Wherever it runs, a matrix below :data:`weightlens.linalg.blas.MULTI_THREAD_WORK` gets one
        BLAS thread.
        With jobs ≠ 1 or a scheduler, call from under ``if __name__ == "__main__":`` (workers
        are spawned, and import the main module).
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
    with contextlib.closing(iter_records(p.jobs, options, workers=jobs, scheduler=scheduler)) as results:
        for r in results:
            if on_record is not None:
                on_record(r)
            records.append(r)
    return Report(p.inputs(), options, records, summarize(records, p.excluded))
