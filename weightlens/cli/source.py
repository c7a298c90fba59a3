"""The report a drawing command starts from: a saved JSON report, or a new analysis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from weightlens.cli.common import progress_bar
from weightlens.errors import UsageError
from weightlens.passes.options import AnalysisOptions
from weightlens.pipeline.run import iter_records, plan
from weightlens.report.io import is_report_file, read_report, select
from weightlens.report.records import Report, summarize


def report_from(paths: list[Path], options: AnalysisOptions, quiet: bool, opened: Callable[[], None]) -> tuple[Report, bool]:
    """(report, from_file): one saved report filtered by the name globs, or the analysis of the checkpoints.

    ``opened()`` is called once every input is read (the saved report, or the checkpoints'
    headers), before any analysis: the command guards its outputs there.
    """
    saved = [p for p in paths if is_report_file(p)]
    if saved:
        if len(paths) > 1:
            raise UsageError(f"{saved[0]}: a saved JSON report must be the only path, got {len(paths)} paths")
        report = select(read_report(saved[0]), options.include, options.exclude)
        opened()
        return report, True
    the_plan = plan(paths, options.include, options.exclude)
    opened()
    records = []
    jobs = the_plan.jobs
    with progress_bar(len(jobs), quiet) as advance:
        for record in iter_records(jobs, options):
            records.append(record)
            advance(record.name)
    return Report(the_plan.inputs(), options, records, summarize(records, the_plan.excluded)), False
