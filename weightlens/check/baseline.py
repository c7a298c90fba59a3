"""A saved ``weightlens analyze --format json`` report, as the reference a check compares with."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from weightlens.check.rules import Rule
from weightlens.errors import InputError, UsageError, quote
from weightlens.pipeline.run import selected
from weightlens.report.io import load_report_document
from weightlens.report.records import TensorRecord


@dataclass(frozen=True)
class Baseline:
    """The tensors of an earlier report, by name.

    Attributes
    ----------
    path : the report file.
    records : name -> record, in the report's order.
    passes : the passes the report was made with (None when it does not say).
    """

    path: str
    records: dict[str, TensorRecord]
    passes: tuple[str, ...] | None = None

    def select(self, include: Sequence[str], exclude: Sequence[str]) -> Baseline:
        """The same baseline restricted to the names a check's filters select."""
        kept = {n: r for n, r in self.records.items() if selected(n, include, exclude)}
        return Baseline(self.path, kept, self.passes)

    def require(self, rules: Sequence[Rule]) -> None:
        """Raise UsageError when a baseline rule needs a pass the report was made without."""
        if self.passes is None:
            return
        for rule in rules:
            missing = [p for p in rule.passes if p not in self.passes]
            if rule.baseline and missing:
                raise UsageError(
                    f"{rule.name} compares {', '.join(rule.fields)} with the baseline, but {self.path} was "
                    f"written without the {missing[0]} pass (passes: {', '.join(self.passes) or 'none'}); "
                    f"rerun analyze with it or turn {rule.name} off"
                )


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read and validate a JSON report written by ``weightlens analyze --format json``.

    Raises
    ------
    InputError
        When the file cannot be read, is not standard JSON (a NaN or Infinity, which would make
        every comparison with it pass, is an error), does not validate against the shipped report
        schema (``weightlens schema report``), or names a tensor twice.
    """
    path = Path(path)
    doc = load_report_document(path, "baseline")
    records: dict[str, TensorRecord] = {}
    for entry in doc["tensors"]:
        if entry["name"] in records:
            raise InputError(path, f"tensor {quote(entry['name'])} appears twice; a baseline must name each tensor once")
        records[entry["name"]] = TensorRecord.from_dict(entry)
    passes = doc["options"].get("passes")
    return Baseline(str(path), records, tuple(passes) if isinstance(passes, list) else None)
