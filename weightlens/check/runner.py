"""Run a check: open the checkpoints, run only the passes the rules need, evaluate."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from weightlens.check.baseline import Baseline, load_baseline
from weightlens.check.config import CheckConfig
from weightlens.check.evaluate import evaluate
from weightlens.check.result import CheckResult
from weightlens.check.rules import Rule
from weightlens.errors import UsageError
from weightlens.passes import PASSES
from weightlens.passes.options import AnalysisOptions
from weightlens.pipeline.run import Plan, iter_records, plan
from weightlens.report.records import TensorRecord

PathLike = str | os.PathLike[str]


def required_passes(rules: Iterable[Rule]) -> tuple[str, ...]:
    """The analysis passes the rules read, in run order; at least ``health`` (cheap: one scan).

    Raises UsageError naming the rule when a pass is not available in this build.
    """
    needed = {"health"}
    for rule in rules:
        for p in rule.passes:
            if p not in PASSES:
                raise UsageError(f"{rule.name} needs the {p!r} analysis pass, which this weightlens does not have")
            needed.add(p)
    return tuple(p for p in PASSES if p in needed)


class CheckRun:
    """A check that is ready to run: settings validated, checkpoint headers read.

    Everything that can be wrong with the input (paths, headers, config, baseline) is raised
    here, before any tensor data is read. :meth:`execute` then reads and checks the tensors.
    """

    def __init__(
        self,
        paths: Sequence[PathLike],
        config: CheckConfig,
        baseline: Baseline | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        jobs: int | None = None,
        strict: bool = False,
    ) -> None:
        self.started = time.perf_counter()
        self.config = config
        self.jobs = jobs
        self.strict = strict
        self.rules = config.active_rules(baseline is not None)
        if not self.rules:
            raise UsageError("every rule is off; nothing to check")
        self.baseline = baseline.select(include, exclude) if baseline is not None else None
        if self.baseline is not None:
            self.baseline.require(self.rules)
        self.options = AnalysisOptions(passes=required_passes(self.rules), include=tuple(include), exclude=tuple(exclude))
        self.plan: Plan = plan(paths, self.options.include, self.options.exclude)
        if not self.plan.tensors:
            raise UsageError("no tensor to check: the checkpoints hold none, or the --include/--exclude filters select none")

    @property
    def total(self) -> int:
        """Number of tensors that will be checked."""
        return len(self.plan.tensors)

    def execute(self, on_record: Callable[[TensorRecord], None] | None = None) -> CheckResult:
        """Analyze the tensors (``on_record`` after each, in checkpoint order) and evaluate the rules."""
        records = []
        with contextlib.closing(iter_records(self.plan.tensors, self.options, workers=self.jobs)) as results:
            for record in results:
                records.append(record)
                if on_record is not None:
                    on_record(record)
        outcomes = evaluate(records, self.config, self.baseline)
        return CheckResult(
            inputs=self.plan.inputs(),
            config=self.config,
            baseline=self.baseline.path if self.baseline else None,
            tensors=len(records),
            rules=tuple(r.name for r in self.rules),
            outcomes=outcomes,
            duration=time.perf_counter() - self.started,
            strict=self.strict,
        )


def run_check(
    paths: PathLike | Sequence[PathLike],
    config: CheckConfig | None = None,
    *,
    baseline: Baseline | PathLike | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    jobs: int | None = None,
    strict: bool = False,
) -> CheckResult:
    """Check the weights of one or more checkpoints against rules.

    Parameters
    ----------
    paths : a checkpoint (file, sharded directory, index file) or several.
    config : the rules; default: the built-in defaults only (no NaN/Inf, no all-zero matrix,
        every tensor readable). Use :func:`weightlens.check.load_config` to read pyproject.toml.
    baseline : an earlier ``analyze --format json`` report (path or loaded) for the change rules.
    include, exclude : fnmatch globs selecting tensors by name (applied to the baseline too).
    jobs : tensors analyzed at once, as in :func:`weightlens.analyze` (None: all cores when the
        checkpoint is large enough to pay for worker processes).
    strict : a check that could not be evaluated (a value missing or NaN, in the weights or the
        baseline) fails, as a violation does; without it, such checks are counted and listed.

    Returns
    -------
    CheckResult
        ``.passed``, ``.violations``, ``.exit_code`` (0 or 1), ``.summary_line()``.

    Raises
    ------
    weightlens.errors.WeightlensError
        For a bad path, header, config or baseline, or when nothing is left to check.

    Examples
    --------
    >>> from weightlens.check import load_config, run_check
    >>> result = run_check("ckpt/", load_config({"max_condition": 1e4}))   # doctest: +SKIP
    >>> [(v.tensor, v.rule, v.value) for v in result.violations]           # doctest: +SKIP
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if baseline is not None and not isinstance(baseline, Baseline):
        baseline = load_baseline(Path(baseline))
    return CheckRun(paths, config or CheckConfig(), baseline, include, exclude, jobs=jobs, strict=strict).execute()
