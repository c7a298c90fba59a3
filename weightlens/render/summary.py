"""The summary of a report as neutral parts, for renderers that format names their own way
(Markdown code spans, escaped HTML)."""

from __future__ import annotations

from dataclasses import dataclass

from weightlens.render.format import count, num
from weightlens.report import Summary


@dataclass(frozen=True)
class SummaryLine:
    """``label: name (note), name (note), ...``; ``level`` is "info", "warn" or "bad"."""

    label: str
    items: tuple[tuple[str, str | None], ...]
    level: str = "info"


def headline(s: Summary) -> str:
    """'43 tensors (621k parameters): 34 matrices analyzed, 9 not analyzed[, …]'."""
    text = f"{s.tensors} tensors ({count(s.parameters)} parameters): {s.analyzed} matrices analyzed, {s.skipped} not analyzed"
    if s.errors:
        text += f", {s.errors} unreadable"
    if s.excluded:
        text += f", {s.excluded} excluded by filters"
    return text


def flag_counts(s: Summary) -> str | None:
    """'4 singular, 4 ill-conditioned' or None when no flag is raised."""
    raised = {k: v for k, v in s.flags.items() if v}
    return ", ".join(f"{v} {k.replace('_', '-')}" for k, v in raised.items()) or None


def summary_lines(s: Summary) -> list[SummaryLine]:
    """Worst κ, lowest rank ratios, unreadable tensors, and what was not analyzed (last)."""
    lines = []
    if s.worst_condition:
        lines.append(SummaryLine("worst κ", tuple((n, "singular" if k is None else num(k)) for n, k in s.worst_condition)))
    if s.lowest_rank_ratio:
        lines.append(SummaryLine("lowest rank ratio", tuple((n, f"{v:.3f}") for n, v in s.lowest_rank_ratio)))
    for name, error in s.error_list:
        lines.append(SummaryLine("unreadable", ((name, error),), "bad"))
    for reason, names in s.skipped_reasons.items():
        lines.append(SummaryLine(f"not analyzed, {reason}", tuple((n, None) for n in names)))
    return lines
