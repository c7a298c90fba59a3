"""The typer application: commands are registered here; errors become exit codes here, only here.

Exit codes: 0 done; 1 the command ran but found something wrong (``check`` violations, an
unreadable tensor); 2 usage, input, config or output error (one line on stderr, no traceback);
130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP); 141 stdout closed early
(``| head -1``), quietly.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from weightlens.__about__ import __version__
from weightlens.checkpoint.safeload import recording_reads
from weightlens.errors import OutputClosed, WeightlensError
from weightlens.render.console import ascii_fallback
from weightlens.report.output import guarded_stdout
from weightlens.text import visible

if TYPE_CHECKING:  # the Context and Command typer's base classes declare (typer vendors click as typer._click)
    from typer._click import Command, Context

PIPE_CLOSED = 141
"""128 + SIGPIPE: what a shell reports for a command stopped by a closed pipe."""


def _error_line(e: WeightlensError) -> int:
    """Print ``e`` as the one stderr line (controls in paths escaped too); return its exit code."""
    print(f"weightlens: error: {visible(str(e), backslash=False)}", file=sys.stderr)
    return e.exit_code


_METAVARS: dict[Any, str] = {int: "N", float: "X", str: "TEXT"}


def _choices(param: TyperArgument | TyperOption) -> str | None:
    desc = param.type_descriptor
    return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + "]" if desc.is_choice and desc.choices is not None else None


class _Argument(TyperArgument):
    """An argument shown as its metavar alone (``PATH...``, ``BASE``), choices in the type column."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return _choices(self)

    def _usage_display_name(self) -> str:
        return self.display_name_raw if self.required else f"[{self.display_name_raw}]"


def _plain_metavar(param: TyperArgument | TyperOption) -> str:
    """The metavar a CLI user expects (N, X, FILE, [a|b]) for an option that names none; "" for flags."""
    desc = param.type_descriptor
    if desc.annotation is bool:
        return ""
    return _choices(param) or ("FILE" if desc.is_path else _METAVARS.get(desc.annotation, "TEXT"))


def plain_metavars(command: Command) -> None:
    """Give every parameter of ``command`` a plain metavar unless it declares one: options N, X,
    FILE, TEXT or their choices, flags none, arguments their upper-case name (``PATH...`` for
    several paths)."""
    for param in command.params:
        if isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = "PATH..." if param.nargs == -1 else (param.name or "").upper()
            param.__class__ = _Argument
        elif isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = _plain_metavar(param)
    get_help_option = command.get_help_option

    def flag_only(ctx: Context) -> TyperOption | None:
        option = get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = flag_only  # type: ignore[method-assign]  # --help is made per call


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


CommandLineError: type[Exception] = typer.BadParameter.__bases__[0]
"""click's UsageError (bad option value, missing argument, unknown command), as typer raises it
whether it bundles click or not."""


def _usage_line(e: Exception, ctx: Context) -> int:
    """A command-line error as one stderr line, like every other error; return its exit code."""
    where = getattr(getattr(e, "ctx", None), "command_path", None) or ctx.command_path
    print(f"weightlens: error: {visible(e.format_message(), backslash=False)} (see '{where} -h')", file=sys.stderr)  # type: ignore[attr-defined]  # e is a click UsageError/ClickException, which has format_message
    return int(getattr(e, "exit_code", 2))


class _Group(TyperGroup):
    """Turns weightlens' own errors and command-line errors into one stderr line and their exit
    code; plain metavars."""

    def make_context(self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any) -> Context:
        given = bool(args)  # parsing consumes args
        try:
            return super().make_context(info_name, args, parent, **extra)
        except CommandLineError as e:
            if not given:  # no_args_is_help: the help text, as click shows it
                raise
            raise typer.Exit(_usage_line(e, typer.Context(self, info_name=info_name))) from None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            plain_metavars(command)

    def invoke(self, ctx: Context) -> Any:
        try:
            # recording_reads: what the output guards check against (cli.common.guard_output)
            with ascii_fallback(sys.stdout, sys.stderr), guarded_stdout(), recording_reads(), stop_signals_raise():
                return super().invoke(ctx)
        except OutputClosed:
            raise typer.Exit(PIPE_CLOSED) from None
        except CommandLineError as e:
            raise typer.Exit(_usage_line(e, ctx)) from None
        except WeightlensError as e:
            raise typer.Exit(_error_line(e)) from None
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
    rich_markup_mode=None,  # help texts are plain text: [plot], [default: ...] are shown as written
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
