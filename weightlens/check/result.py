"""The result of a check: outcomes, counts, the final line, the JSON document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weightlens.__about__ import __version__
from weightlens.check.config import CheckConfig
from weightlens.check.evaluate import Outcome
from weightlens.report.records import InputEntry, jsonable

CHECK_SCHEMA_VERSION = "1.0"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass
class CheckResult:
    """What ``weightlens check`` found.

    Attributes
    ----------
    inputs : the checkpoints read.
    config : the merged rule settings.
    baseline : path of the baseline report, or None.
    tensors : number of tensors checked.
    rules : names of the rules that were on (for at least one tensor).
    outcomes : one per tensor × applicable rule, in checkpoint then rule order; then the
        baseline tensors that disappeared.
    duration : wall time in seconds, from opening the checkpoints to the last rule.
    strict : a check not evaluated (its value missing or not a number) fails the result too.
    """

    inputs: list[InputEntry]
    config: CheckConfig
    baseline: str | None
    tensors: int
    rules: tuple[str, ...]
    outcomes: list[Outcome]
    duration: float
    strict: bool = False

    @property
    def violations(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "fail"]

    @property
    def skipped(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "skip"]

    @property
    def failed_tensors(self) -> int:
        return len({o.tensor for o in self.violations})

    @property
    def passed(self) -> bool:
        """No violation, and with ``strict`` no check left unevaluated."""
        return not self.violations and not (self.strict and self.skipped)

    @property
    def exit_code(self) -> int:
        """0 when every rule passes, 1 when at least one is violated (or, with ``strict``, not evaluated)."""
        return 0 if self.passed else 1

    def summary_line(self) -> str:
        """pytest-style last line: "2 violations in 2 tensors (31 tensors checked, 9 rules) in 0.42s"."""
        skipped = len(self.skipped)
        not_evaluated = f", {plural(skipped, 'check')} not evaluated" if skipped else ""
        took = f"in {self.duration:.2f}s"
        if self.passed:
            every = "the" if self.tensors == 1 else "all"
            verb = "passes" if self.tensors == 1 else "pass"
            return f"{every} {plural(self.tensors, 'tensor')} {verb} {plural(len(self.rules), 'rule')}{not_evaluated} {took}"
        if not self.violations:
            which = "which fails" if skipped == 1 else "which fail"
            return f"{plural(skipped, 'check')} not evaluated, {which} under --strict ({plural(self.tensors, 'tensor')} checked, {plural(len(self.rules), 'rule')}) {took}"
        return (
            f"{plural(len(self.violations), 'violation')} in {plural(self.failed_tensors, 'tensor')} "
            f"({plural(self.tensors, 'tensor')} checked, {plural(len(self.rules), 'rule')}{not_evaluated}) {took}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document (schema: ``weightlens schema check``)."""
        return {
            "schema_version": CHECK_SCHEMA_VERSION,
            "tool": {"name": "weightlens", "version": __version__},
            "inputs": [i.to_dict() for i in self.inputs],
            "baseline": self.baseline,
            "config": jsonable(self.config.to_dict()),
            "summary": {
                "passed": self.passed,
                "tensors": self.tensors,
                "rules": list(self.rules),
                "checks": len(self.outcomes),
                "violations": len(self.violations),
                "failed_tensors": self.failed_tensors,
                "not_evaluated": len(self.skipped),
                "strict": self.strict,
                "duration_s": round(self.duration, 6),
                "line": self.summary_line(),
            },
            "violations": [o.to_dict() for o in self.violations],
            "not_evaluated": [{"tensor": o.tensor, "file": o.file, "rule": o.rule, "reason": o.message} for o in self.skipped],
        }
