"""The summary of a report as neutral parts, for renderers that format names their own way
(Markdown code spans, escaped HTML)."""

from __future__ import annotations

from dataclasses import dataclass

from weightlens.report.format import count, num
from weightlens.report.records import Summary


@dataclass(frozen=True)
class SummaryLine:
    """``label: name (note), name (note), ...``; ``level`` is "info", "warn" or "bad"."""

    label: str
    items: tuple[tuple[str, str | None], ...]
    level: str = "info"
    more: int = 0
    """Names counted but not listed (the line ends ", … (+N more)")."""

    @property
    def tail(self) -> str:
        return f", … (+{self.more} more)" if self.more else ""


SHOWN = 5
"""Names listed per summary line; the rest are counted."""


def named(label: str, names: list[str], level: str = "info") -> SummaryLine:
    """A line listing the first :data:`SHOWN` names and counting the rest."""
    return SummaryLine(label, tuple((n, None) for n in names[:SHOWN]), level, max(0, len(names) - SHOWN))


def headline(s: Summary) -> str:
    """'43 tensors (621k parameters): 34 matrices analyzed, 9 not analyzed[, …]'."""
    records = f" in {s.records} records" if s.records != s.tensors else ""
    text = f"{s.tensors} tensors{records} ({count(s.parameters)} parameters): {s.analyzed} matrices analyzed, {s.skipped} not analyzed"
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
    """The tensors behind every flag, worst κ, lowest rank ratios, unreadable tensors, and what
    was not analyzed (last)."""
    lines = [named(f.replace("_", "-"), names, "warn") for f, names in s.flagged.items() if names]
    if s.worst_condition:
        lines.append(SummaryLine("worst κ", tuple((n, "singular" if k is None else num(k)) for n, k in s.worst_condition)))
    if s.lowest_rank_ratio:
        lines.append(SummaryLine("lowest rank ratio", tuple((n, f"{v:.3f}") for n, v in s.lowest_rank_ratio)))
    for name, error in s.error_list:
        lines.append(SummaryLine("unreadable", ((name, error),), "bad"))
    for reason, names in s.skipped_reasons.items():
        lines.append(named(f"not analyzed, {reason}", names))
    return lines
