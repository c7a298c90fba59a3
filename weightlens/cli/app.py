"""The typer application: commands are registered here; errors become exit codes here, only here.

Exit codes: 0 done; 1 the command ran but found something wrong (``check`` violations, an
unreadable tensor); 2 usage, input or config error (one line on stderr, no traceback);
130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from weightlens.__about__ import __version__
from weightlens.checkpoint.safeload import recording_reads
from weightlens.errors import WeightlensError


class _Group(TyperGroup):
    """Turns weightlens' own errors into one stderr line and their exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            with recording_reads():  # what the output guards check against (cli.common.guard_output)
                return super().invoke(ctx)
        except WeightlensError as e:
            print(f"weightlens: error: {e}", file=sys.stderr)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            print("weightlens: interrupted", file=sys.stderr)
            raise typer.Exit(130) from None


app = typer.Typer(
    name="weightlens",
    cls=_Group,
    help="Linear-algebra health checks for the weight matrices of safetensors checkpoints.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"weightlens {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """weightlens: numerical rank, SVD spectrum, condition number and sparsity of every weight matrix."""


def main() -> None:
    """Console-script entry point."""
    app(prog_name="weightlens")
