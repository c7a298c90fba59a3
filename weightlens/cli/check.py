"""``weightlens check``: evaluate rules on the weights; exit 0 pass, 1 violations, 2 errors.

The rule options (``--max-condition``, ``--allow-nonfinite/--no-allow-nonfinite``, ...) are
generated from :data:`weightlens.check.RULES`, so flag, config key and rule share one name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from weightlens.check import RULES, CheckRun, load_baseline, load_config
from weightlens.check.result import CheckResult
from weightlens.check.rules import Rule
from weightlens.cli.common import EXCLUDE, INCLUDE, JOBS, OUTPUT, PATHS, QUIET, guard_outputs, output_stream, progress_bar
from weightlens.render.check_table import render_check_table, summary_line
from weightlens.render.console import data_console, message_console
from weightlens.render.github import render_github
from weightlens.render.json import dumps
from weightlens.render.junit import render_junit
from weightlens.render.markdown import render_check_markdown
from weightlens.report.output import atomic_writer


class Format(str, Enum):
    table = "table"
    json = "json"
    github = "github"
    junit = "junit"
    markdown = "markdown"


def _rule_option(rule: Rule) -> inspect.Parameter:
    panel = "Baseline rules (with --baseline)" if rule.baseline else "Rules"
    if rule.kind == "forbid":
        option = typer.Option(
            None,
            f"{rule.flag}/--no-{rule.flag[2:]}",
            help=f"{rule.description} [default: {str(rule.default).lower()}]",
            rich_help_panel=panel,
            show_default=False,
        )
        annotation: Any = bool | None
    else:
        option = typer.Option(
            None,
            rule.flag,
            metavar="X",
            help=f"{rule.description} Expects {rule.expected()}.",
            rich_help_panel=panel,
            show_default=False,
        )
        annotation = float | None
    return inspect.Parameter(rule.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def with_rule_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command(..., **limits)`` one keyword option per rule, named after the rule."""
    signature = inspect.signature(command, eval_str=True)
    params = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    rule_params = [_rule_option(r) for r in RULES]
    command.__signature__ = signature.replace(parameters=params + rule_params)  # type: ignore[attr-defined]  # typer reads the rule options from __signature__, which a function object accepts
    command.__annotations__ = {**{p.name: p.annotation for p in params}, **{p.name: p.annotation for p in rule_params}}
    return command


_MACHINE: dict[Format, Callable[[CheckResult], str]] = {
    Format.json: lambda result: dumps(result.to_dict()),
    Format.github: render_github,
    Format.junit: render_junit,
    Format.markdown: render_check_markdown,
}


def _write(result: CheckResult, format: Format, output: Path | None, quiet: bool) -> None:
    """Table: violations and the final line on stdout. Machine formats: the document on stdout
    (or ``output``), the final line on stderr."""
    with output_stream(output) as out:
        if format is Format.table:
            render_check_table(result, data_console(out), quiet)
        else:
            out.write(_MACHINE[format](result))
    if format is not Format.table and not quiet:
        message_console().print(summary_line(result), soft_wrap=True)


@with_rule_options
def check_cmd(
    paths: list[Path] = PATHS,
    format: Format = typer.Option(
        Format.table, "--format", "-f", help="table (violations, then one line), json, github (workflow annotations), junit (XML) or markdown (a pull-request comment)."
    ),
    output: Path | None = OUTPUT,
    junit_xml: Path | None = typer.Option(
        None, "--junit-xml", help="Also write a JUnit XML report to FILE.", show_default=False, metavar="FILE"
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="TOML file of rules (top-level keys; [tool.weightlens] in a pyproject.toml).",
        show_default=False,
        metavar="FILE",
    ),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore pyproject.toml files."),
    strict: bool = typer.Option(False, "--strict", help="Fail (exit 1) when a check cannot be evaluated: its value, or the baseline's, is missing or not a number."),
    baseline: Path | None = typer.Option(
        None,
        "--baseline",
        help="JSON report written earlier by 'analyze --format json', for the baseline rules.",
        show_default=False,
        metavar="REPORT.json",
    ),
    include: list[str] = INCLUDE,
    exclude: list[str] = EXCLUDE,
    quiet: bool = QUIET,
    jobs: int | None = JOBS,
    **limits: Any,
) -> None:
    """Check the weights against rules: exit 0 when all pass, 1 on a violation, 2 on an error.

    On by default: every tensor readable, no NaN/Inf, no all-zero matrix.
    Limits come from the options below, from [tool.weightlens] in the nearest pyproject.toml
    or from --config FILE; the command line wins.
    Per-tensor limits: [[tool.weightlens.overrides]] tables with match = "glob".
    """
    settings = load_config(limits, config, pyproject=not isolated)
    run = CheckRun(paths, settings, load_baseline(baseline) if baseline else None, include, exclude, jobs=jobs, strict=strict)
    guard_outputs([("-o", output), ("--junit-xml", junit_xml)], paths)
    with progress_bar(run.total, quiet, "checking") as advance:
        result = run.execute(lambda r: advance(r.name))
    if junit_xml is not None:
        with atomic_writer(junit_xml) as f:
            f.write(render_junit(result))
    _write(result, format, output, quiet)
    raise typer.Exit(result.exit_code)
