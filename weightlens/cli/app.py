"""The typer application: commands are registered here; errors become exit codes here, only here.

Exit codes: 0 done; 1 the command ran but found something wrong (``check`` violations, an
unreadable tensor); 2 usage, input, config or output error (one line on stderr, no traceback);
130 interrupted; 141 stdout closed early (``| head -1``), quietly.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from weightlens.__about__ import __version__
from weightlens.checkpoint.safeload import recording_reads
from weightlens.errors import OutputClosed, WeightlensError
from weightlens.output import guarded_stdout
from weightlens.render.console import ascii_fallback
from weightlens.render.escape import visible

PIPE_CLOSED = 141
"""128 + SIGPIPE: what a shell reports for a command stopped by a closed pipe."""


def _error_line(e: WeightlensError) -> int:
    """Print ``e`` as the one stderr line (controls in paths escaped too); return its exit code."""
    print(f"weightlens: error: {visible(str(e), backslash=False)}", file=sys.stderr)
    return e.exit_code


class _Group(TyperGroup):
    """Turns weightlens' own errors into one stderr line and their exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            # recording_reads: what the output guards check against (cli.common.guard_output)
            with ascii_fallback(sys.stdout, sys.stderr), guarded_stdout(), recording_reads():
                return super().invoke(ctx)
        except OutputClosed:
            raise typer.Exit(PIPE_CLOSED) from None
        except WeightlensError as e:
            raise typer.Exit(_error_line(e)) from None
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
    """Console-script entry point; stdout errors outside a command (``--help > /dev/full``) end here."""
    try:
        with guarded_stdout():
            app(prog_name="weightlens")
    except OutputClosed:
        sys.exit(PIPE_CLOSED)
    except WeightlensError as e:
        sys.exit(_error_line(e))
