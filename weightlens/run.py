"""Map "analyze one tensor" over the selected tensors of one or more checkpoints.

The unit of work is a *job*: one tensor, an unreadable entry, or one LoRA pair (lora_A +
lora_B of an adapter, analyzed together as ΔW = s·B·A). All are pure data, analyzed by pure
functions.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from weightlens.analysis import analyze_tensor
from weightlens.checkpoint import Checkpoint, TensorInfo, Unreadable, open_checkpoint
from weightlens.checkpoint.peft import LoraPair, pair_lora
from weightlens.lora import analyze_lora
from weightlens.options import AnalysisOptions
from weightlens.report import FileEntry, InputEntry, Report, TensorRecord, summarize

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


def iter_records(jobs: Sequence[Job], options: AnalysisOptions) -> Iterator[TensorRecord]:
    """Records for the jobs, in the given order, computed one at a time."""
    for job in jobs:
        yield analyze_job(job, options)


def analyze(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    options: AnalysisOptions | None = None,
    *,
    on_record: Callable[[TensorRecord], None] | None = None,
) -> Report:
    """Analyze the matrices of one or more safetensors checkpoints.

    Parameters
    ----------
    paths : a checkpoint path (file, sharded directory, index file) or several.
    options : what to compute; defaults to every pass with default settings.
    on_record : called with each record as soon as it is done (for streaming output).

    Returns
    -------
    Report
        One record per selected tensor, in checkpoint order, and a summary.

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
    for r in iter_records(p.jobs, options):
        if on_record is not None:
            on_record(r)
        records.append(r)
    return Report(p.inputs(), options, records, summarize(records, p.excluded))
