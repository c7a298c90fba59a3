"""The rich output of a check: a table of violations (nothing when all pass), then one line."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from weightlens.check.result import CheckResult
from weightlens.check.rules import RULES_BY_NAME
from weightlens.render.console import print_data
from weightlens.text import visible


def violations_table(result: CheckResult) -> Table:
    """One row per violation: tensor (name printed literally, escaped by :func:`visible`), rule, value found, limit."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("tensor", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("limit", no_wrap=True)
    for v in result.violations:
        table.add_row(Text(visible(v.tensor)), Text(v.rule, style="red"), Text(visible(v.found, backslash=False)), RULES_BY_NAME[v.rule].format_limit(v.limit))
    return table


def summary_line(result: CheckResult) -> Text:
    return Text(result.summary_line(), style="bold green" if result.passed else "bold red")


def render_check_table(result: CheckResult, console: Console, quiet: bool = False) -> None:
    """Print the violations table, if any, and the final line (which ``quiet`` leaves out)."""
    if result.violations:
        table = violations_table(result)
        print_data(console, table)
    if not quiet:
        if result.violations:
            console.print()
        console.print(summary_line(result), soft_wrap=True)
