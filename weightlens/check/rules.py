"""The rules of ``weightlens check``: one declarative table.

Each :class:`Rule` names the config key (``max_condition``), from which the command-line flag
(``--max-condition``) is derived; what it measures on a tensor record; how the measure is
compared with the limit; the analysis passes it needs; and its default. Config validation,
the CLI options, the JSON schema and the README table are all built from :data:`RULES`.

Three kinds of rule:

- ``max``: the tensor fails when ``value > limit``;
- ``min``: the tensor fails when ``value < limit``;
- ``forbid``: the key is ``allow_<something>`` (a boolean, default false); while it is false,
  the tensor fails when the measure is true or a nonzero count.

Baseline rules compare a tensor with its record in a saved ``analyze`` report and are active
only when ``--baseline`` is given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from weightlens.errors import ConfigError
from weightlens.report.format import num
from weightlens.report.records import TensorRecord

Limit = float | bool
"""A rule's setting: a number for ``max``/``min`` rules, a boolean for ``allow_*`` rules."""

Measure = Callable[[TensorRecord, TensorRecord | None], float | bool | None]
"""(record, baseline record or None) -> the value compared with the limit; None = not measurable
(a value missing, or one that is no number to compare with: NaN, an infinite baseline)."""


@dataclass(frozen=True)
class Rule:
    """One check on a tensor record.

    Attributes
    ----------
    name : config key and, with dashes, the command-line flag; also the rule's name in output.
    kind : "max" (fail when value > limit), "min" (fail when value < limit) or "forbid" (an
        ``allow_*`` boolean; fail when the measure is truthy and the limit is false).
    label : what is measured, for messages ("condition number κ ="); for ``forbid`` rules a
        template describing the problem, with ``{value}``, ``{error}`` and the record's fields.
    description : one line for ``--help`` and the README table.
    measure : computes the value from the record (and the baseline record for baseline rules).
    fields : the report fields the measure reads.
    passes : the analysis passes that produce those fields.
    scope : the tensors the rule applies to: "matrix" (2-D, or >2-D viewed as a matrix),
        "tensor" (every tensor) or "missing" (the baseline tensors that have no record now).
    low, high : the valid range of the limit (inclusive); ``high = inf`` admits ``inf``, which
        turns a ``max`` rule off for the tensors it applies to.
    default : the limit when nothing sets it; None = off.
    baseline : the rule compares with ``--baseline`` and is active only with one.
    unit : appended to numbers in messages ("×", "%").
    infinite_note : what an infinite value means, for messages ("numerically singular").
    """

    name: str
    kind: Literal["max", "min", "forbid"]
    label: str
    description: str
    measure: Measure
    fields: tuple[str, ...]
    passes: tuple[str, ...]
    scope: Literal["matrix", "tensor", "missing"] = "matrix"
    low: float = 0.0
    high: float = math.inf
    default: Limit | None = None
    baseline: bool = False
    unit: str = ""
    infinite_note: str = ""

    @property
    def flag(self) -> str:
        """The command-line option: ``max_condition`` -> ``--max-condition``."""
        return "--" + self.name.replace("_", "-")

    def expected(self) -> str:
        """The accepted values, for messages and docs."""
        if self.kind == "forbid":
            return "true or false"
        if self.high == math.inf:
            return f"a number >= {num(self.low)} (inf turns the rule off)"
        return f"a number in [{num(self.low)}, {num(self.high)}]"

    def validate(self, value: Any, source: str, key: str | None = None) -> Limit:
        """Return ``value`` as this rule's limit, or raise ConfigError naming ``key`` in ``source``.

        Booleans are no numbers here (``max_condition = true`` is an error), integers are
        numbers (``max_condition = 10000``), NaN is never a limit.
        """
        key = key or self.name
        if self.kind == "forbid":
            if isinstance(value, bool):
                return value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            number = _to_float(value)
            if number is not None and not math.isnan(number) and self.low <= number <= self.high:
                return number
            shown = repr(value) if number is not None else f"an integer of {len(str(abs(value)))} digits, beyond the float range"
            raise ConfigError(source, key, f"expected {self.expected()}, got {shown}")
        raise ConfigError(source, key, f"expected {self.expected()}, got {value!r} ({_toml_type(value)})")

    def is_on(self, limit: Limit | None) -> bool:
        """Whether a limit set to ``limit`` means the rule runs (``allow_* = true`` turns it off)."""
        return limit is not None and not (self.kind == "forbid" and limit is True)

    def fails(self, value: float | bool, limit: Limit) -> bool:
        if self.kind == "forbid":
            return bool(value)
        if self.kind == "max":
            return value > limit
        return value < limit

    def format(self, value: float) -> str:
        """A number as printed: 4 significant digits, the unit, ∞ for infinity."""
        if value == math.inf:
            return "∞"
        return _EXPONENT.sub(r"e\1\2", num(value)) + self.unit

    def format_limit(self, limit: Limit) -> str:
        """The limit with its comparison: "≤ 1e4", "≥ 0.5", "not allowed"."""
        if self.kind == "forbid":
            return "not allowed"
        return f"{'≤' if self.kind == 'max' else '≥'} {self.format(limit)}"

    def found(self, value: float | bool, record: TensorRecord) -> str:
        """What was measured, in words: "∞ (numerically singular)", "every element is zero", "0.125"."""
        if self.kind == "forbid":
            return self.label.format(value=value, error=record.error, **record.metrics)
        if value == math.inf and self.infinite_note:
            return f"∞ ({self.infinite_note})"
        return self.format(value)

    def message(self, found: str, limit: Limit) -> str:
        """One sentence a person can act on: what was measured, which key limits it."""
        if self.kind == "forbid":
            return f"{found} ({self.name} = false)"
        relation = "exceeds" if self.kind == "max" else "is below"
        return f"{self.label} {found} {relation} {self.name} = {self.format(limit)}"


_EXPONENT = re.compile(r"e\+?(-?)0*(\d)")
"""1e+04 -> 1e4, 1.5e-05 -> 1.5e-5: numbers as one writes them in a config."""


def _to_float(value: int | float) -> float | None:
    """``value`` as a float; None for an integer beyond the float range (10**400)."""
    try:
        return float(value)
    except OverflowError:
        return None


def _toml_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


def _field(name: str) -> Measure:
    return lambda r, _b: r.get(name)


def kappa(r: TensorRecord) -> float | None:
    """κ of a record, with a numerically singular matrix as κ = inf; None when not computed."""
    if r.get("singular") is None:
        return None
    return math.inf if r["singular"] else r.get("condition_number")


def is_number(x: Any) -> TypeGuard[float]:
    """A value a limit can be compared with: a number that is not NaN (infinities allowed)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x)


def _finite(*xs: Any) -> bool:
    return all(is_number(x) and math.isfinite(x) for x in xs)


def _nonfinite(r: TensorRecord, _b: TensorRecord | None) -> int | None:
    if "nan_count" not in r.metrics:
        return None
    return int(r["nan_count"]) + int(r["inf_count"])


def _effective_rank_ratio(r: TensorRecord, _b: TensorRecord | None) -> float | None:
    erank = r.get("effective_rank")
    if erank is None or r.matrix_shape is None:
        return None
    ratio: float = erank / min(r.matrix_shape)
    return ratio


def _nmf_ratio(r: TensorRecord, _b: TensorRecord | None) -> float | None:
    """The worst (largest) nmf_svd_ratio over the NMF ranks computed; None when none is."""
    ratios = [e["nmf_svd_ratio"] for e in r.get("nmf") or () if e.get("nmf_svd_ratio") is not None]
    return max(ratios) if ratios and all(is_number(x) for x in ratios) else None


def _condition_growth(r: TensorRecord, b: TensorRecord | None) -> float | None:
    """κ_now / κ_baseline; inf when the matrix became singular, 1 when it was and is singular.

    None when either κ is missing or NaN, or the baseline's is below 1 (no condition number).
    """
    if b is None:
        return None
    now, before = kappa(r), kappa(b)
    if not is_number(now) or not is_number(before) or before < 1:
        return None
    if before == math.inf:
        return 1.0 if now == math.inf else 0.0
    return now / before


def _rank_ratio_drop(r: TensorRecord, b: TensorRecord | None) -> float | None:
    """rank_ratio_baseline − rank_ratio_now (positive = rank lost); None unless both are finite."""
    if b is None or not _finite(r.get("rank_ratio"), b.get("rank_ratio")):
        return None
    drop: float = b["rank_ratio"] - r["rank_ratio"]
    return drop


def _sigma_max_change(r: TensorRecord, b: TensorRecord | None) -> float | None:
    """100 · |σ1_now − σ1_baseline| / σ1_baseline, in percent; None unless both are finite and ≥ 0."""
    if b is None or not _finite(r.get("sigma_max"), b.get("sigma_max")):
        return None
    now, before = r["sigma_max"], b["sigma_max"]
    if now < 0 or before < 0:
        return None
    if before == 0:
        return 0.0 if now == 0 else math.inf
    change: float = 100.0 * abs(now - before) / before
    return change


RULES: tuple[Rule, ...] = (
    Rule(
        "allow_unreadable", "forbid", "tensor could not be read: {error}",
        "Allow tensors whose bytes cannot be read or decoded.",
        lambda r, _b: r.error is not None, (), (), scope="tensor", default=False,
    ),
    Rule(
        "allow_nonfinite", "forbid", "non-finite elements: {nan_count} NaN, {inf_count} Inf",
        "Allow NaN or ±Inf elements (in any tensor).",
        _nonfinite, ("nan_count", "inf_count"), ("health",), scope="tensor", default=False,
    ),
    Rule(
        "allow_all_zero", "forbid", "every element is zero",
        "Allow matrices whose elements are all zero.",
        _field("all_zero"), ("all_zero",), ("health",), default=False,
    ),
    Rule(
        "max_condition", "max", "condition number κ =",
        "Largest condition number κ = σ1/σp (a numerically singular matrix has κ = ∞).",
        lambda r, _b: kappa(r), ("condition_number", "singular"), ("condition",), low=1.0,
        infinite_note="numerically singular",
    ),
    Rule(
        "min_rank_ratio", "min", "rank ratio =",
        "Smallest numerical_rank / min(m, n).",
        _field("rank_ratio"), ("rank_ratio",), ("rank",), high=1.0,
    ),
    Rule(
        "min_effective_rank_ratio", "min", "effective-rank ratio =",
        "Smallest effective_rank / min(m, n) (Roy & Vetterli's entropy rank).",
        _effective_rank_ratio, ("effective_rank",), ("rank",), high=1.0,
    ),
    Rule(
        "max_zero_fraction", "max", "zero fraction =",
        "Largest fraction of exact zeros.",
        _field("zero_fraction"), ("zero_fraction",), ("sparsity",), high=1.0,
    ),
    Rule(
        "max_near_zero_fraction", "max", "near-zero fraction =",
        "Largest fraction of elements with |w| ≤ 1e-3·rms.",
        _field("near_zero_fraction"), ("near_zero_fraction",), ("sparsity",), high=1.0,
    ),
    Rule(
        "max_dead_rows", "max", "dead-row fraction =",
        "Largest fraction of all-zero rows (dead outputs).",
        _field("dead_rows"), ("dead_rows",), ("sparsity",), high=1.0,
    ),
    Rule(
        "max_dead_cols", "max", "dead-column fraction =",
        "Largest fraction of all-zero columns (dead inputs).",
        _field("dead_cols"), ("dead_cols",), ("sparsity",), high=1.0,
    ),
    Rule(
        "max_sigma_max", "max", "spectral norm σ1 =",
        "Largest spectral norm σ1 = ‖W‖2.",
        _field("sigma_max"), ("sigma_max",), ("spectrum",),
    ),
    Rule(
        "max_nmf_ratio", "max", "NMF/SVD error ratio =",
        "Largest nmf_svd_ratio (NMF error over the optimal rank-k SVD error), worst over the NMF ranks.",
        _nmf_ratio, ("nmf",), ("nmf",), low=1.0,
    ),
    Rule(
        "max_condition_growth", "max", "κ growth since the baseline =",
        "Largest κ_now / κ_baseline (becoming singular is infinite growth).",
        _condition_growth, ("condition_number", "singular"), ("condition",), low=1.0, baseline=True, unit="×",
        infinite_note="became singular",
    ),
    Rule(
        "max_rank_ratio_drop", "max", "rank-ratio drop since the baseline =",
        "Largest rank_ratio_baseline − rank_ratio_now.",
        _rank_ratio_drop, ("rank_ratio",), ("rank",), high=1.0, baseline=True,
    ),
    Rule(
        "max_sigma_max_change", "max", "σ1 change since the baseline =",
        "Largest |σ1_now − σ1_baseline| / σ1_baseline, in percent.",
        _sigma_max_change, ("sigma_max",), ("spectrum",), baseline=True, unit="%",
    ),
    Rule(
        "allow_appeared", "forbid", "tensor is not in the baseline",
        "Allow tensors that are not in the baseline.",
        lambda _r, b: b is None, (), (), scope="tensor", default=False, baseline=True,
    ),
    Rule(
        "allow_disappeared", "forbid", "tensor is in the baseline but missing",
        "Allow baseline tensors that are missing now.",
        lambda _r, _b: True, (), (), scope="missing", default=False, baseline=True,
    ),
)  # fmt: skip
"""Every rule, in output order."""

RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}


def rules_markdown() -> str:
    """The README's rule table (a test keeps the README equal to it)."""
    rows = ["| key / flag | meaning | default | accepts |", "|---|---|---|---|"]
    for r in RULES:
        default = "off" if r.default is None else str(r.default).lower()
        if r.baseline and r.default is not None:
            default += " (with --baseline)"
        meaning = r.description.replace("|", "\\|")
        rows.append(f"| `{r.name}`<br>`{r.flag}` | {meaning} | {default} | {r.expected()} |")
    return "\n".join(rows) + "\n"
