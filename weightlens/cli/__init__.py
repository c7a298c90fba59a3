"""The command line: a thin layer of typer commands over the library."""

from weightlens.cli.analyze import analyze_cmd
from weightlens.cli.app import app, main
from weightlens.cli.check import check_cmd
from weightlens.cli.diff import diff_cmd
from weightlens.cli.inspect import inspect_cmd
from weightlens.cli.plot import plot_cmd
from weightlens.cli.report import report_cmd
from weightlens.cli.schema import schema_cmd

app.command("analyze")(analyze_cmd)
app.command("inspect")(inspect_cmd)
app.command("check")(check_cmd)
app.command("diff")(diff_cmd)
app.command("schema")(schema_cmd)
app.command("plot")(plot_cmd)
app.command("report")(report_cmd)

__all__ = ["app", "main"]
