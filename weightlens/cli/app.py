"""The typer application: commands are registered here; errors become exit codes here, only here.

Exit codes: 0 done; 1 the command ran but found something wrong (``check`` violations, an
unreadable tensor); 2 usage, input or config error (one line on stderr, no traceback);
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import typer
from typer.core import TyperGroup

from weightlens.__about__ import __version__
from weightlens.errors import WeightlensError


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that stop a run the way Ctrl-C does (workers stopped, whole JSONL lines kept)."""


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGHUP.

    A KeyboardInterrupt, so that everything that cleans up after Ctrl-C — the executors stopping
    their workers and cancelling Dask futures, the report writer keeping whole JSON Lines — does
    the same for these signals.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame: FrameType | None) -> None:
    # A second signal while unwinding would interrupt the cleanup that stops the workers.
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    raise Stopped(signum)


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Stopped` (main thread only; handlers restored after)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _stop) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class _Group(TyperGroup):
    """Turns weightlens' own errors into one stderr line and their exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            with stop_signals_raise():
                return super().invoke(ctx)
        except WeightlensError as e:
            print(f"weightlens: error: {e}", file=sys.stderr)
            raise typer.Exit(e.exit_code) from None
        except Stopped as e:
            print(f"weightlens: interrupted ({signal.Signals(e.signum).name})", file=sys.stderr)
            raise typer.Exit(128 + e.signum) from None
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
