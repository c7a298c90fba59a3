"""Evaluate the rules over tensor records: one outcome per tensor × rule that applies."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from weightlens.check.baseline import Baseline
from weightlens.check.config import CheckConfig
from weightlens.check.rules import Limit, Rule, is_number
from weightlens.report.records import TensorRecord, jsonable

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Outcome:
    """The result of one rule on one tensor.

    Attributes
    ----------
    tensor, file : the tensor's name (literal) and the file holding it.
    rule : the rule's name (its config key).
    status : "pass", "fail" (a violation) or "skip" (the rule applies but its value could not
        be measured, e.g. a non-finite matrix gets no condition number, or a value or baseline
        value is missing or NaN: never a pass).
    value : the measured value (inf for a singular κ), None when skipped.
    limit : the limit it was compared with.
    message : why it failed or was skipped; empty when it passed.
    found : the value in words, as shown in the violations table ("∞ (numerically singular)").
    """

    tensor: str
    file: str
    rule: str
    status: Status
    value: float | bool | None
    limit: Limit
    message: str = ""
    found: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form of a violation (infinite values become null, as in reports)."""
        return jsonable(
            {"tensor": self.tensor, "file": self.file, "rule": self.rule, "value": self.value, "limit": self.limit, "message": self.message}
        )


def _unusable_field(rule: Rule, record: TensorRecord) -> str | None:
    """"has no FIELD" / "FIELD is nan" for the first field the rule reads that holds no usable number."""
    for name in rule.fields:
        if name == "condition_number" and record.get("singular"):
            continue  # κ = ∞, whatever the field holds
        value = record.get(name)
        if value is None:
            return f"has no {name}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"{name} is {value}"
    return None


def _not_measured(rule: Rule, record: TensorRecord, base: TensorRecord | None) -> str:
    if rule.baseline and base is None:
        return "not evaluated: not in the baseline"
    if record.error:
        return "not evaluated: the tensor could not be read"
    if record.skipped:
        return f"not evaluated: {record.skipped}"
    now = _unusable_field(rule, record)
    if now is not None:
        return f"not evaluated: the record {now}" if now.startswith("has no") else f"not evaluated: {now}"
    if rule.baseline and base is not None:
        before = _unusable_field(rule, base)
        if before is None:
            return f"not evaluated: the baseline's {rule.fields[0]} is out of range"
        return f"not evaluated: the baseline {before}" if before.startswith("has no") else f"not evaluated: the baseline's {before}"
    return f"not evaluated: the record has no usable {', '.join(rule.fields)}"


def evaluate_record(record: TensorRecord, config: CheckConfig, rules: Iterable[Rule], base: TensorRecord | None = None) -> list[Outcome]:
    """Outcomes of ``rules`` on one record (``base``: its baseline record, if any)."""
    limits = config.limits_for(record.name)
    out = []
    for rule in rules:
        limit = limits.get(rule.name)
        if not rule.is_on(limit) or rule.scope == "missing" or (rule.scope == "matrix" and record.matrix_shape is None):
            continue
        assert limit is not None
        value = rule.measure(record, base)
        if value is None or not (isinstance(value, bool) or is_number(value)):
            out.append(Outcome(record.name, record.file, rule.name, "skip", None, limit, _not_measured(rule, record, base)))
        elif rule.fails(value, limit):
            found = rule.found(value, record)
            out.append(Outcome(record.name, record.file, rule.name, "fail", value, limit, rule.message(found, limit), found))
        else:
            out.append(Outcome(record.name, record.file, rule.name, "pass", value, limit))
    return out


def missing(records: Iterable[TensorRecord], config: CheckConfig, rules: Sequence[Rule], baseline: Baseline) -> list[Outcome]:
    """Violations of the rules on baseline tensors that have no record now (``allow_disappeared``)."""
    present = {r.name for r in records}
    out = []
    for name, old in baseline.records.items():
        if name in present:
            continue
        limits = config.limits_for(name)
        for rule in rules:
            limit = limits.get(rule.name)
            if rule.scope == "missing" and rule.is_on(limit):
                assert limit is not None
                found = rule.found(True, old)
                out.append(Outcome(name, old.file, rule.name, "fail", True, limit, rule.message(found, limit), found))
    return out


def evaluate(records: Iterable[TensorRecord], config: CheckConfig, baseline: Baseline | None = None) -> list[Outcome]:
    """Every outcome: per record in order, then the baseline tensors that disappeared.

    ``baseline`` should already be restricted to the tensors the check selected
    (:meth:`Baseline.select`), or every tensor filtered out counts as disappeared.
    """
    records = list(records)
    rules = config.active_rules(baseline is not None)
    out = []
    for r in records:
        base = baseline.records.get(r.name) if baseline is not None else None
        out.extend(evaluate_record(r, config, rules, base))
    if baseline is not None:
        out.extend(missing(records, config, rules, baseline))
    return out
