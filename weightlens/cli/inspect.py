"""``weightlens inspect``: list tensors from the headers alone."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from weightlens.checkpoint import Unreadable
from weightlens.cli.common import EXCLUDE, INCLUDE, OUTPUT, PATHS, guard_output, output_stream
from weightlens.pipeline.run import plan
from weightlens.render.console import data_console
from weightlens.render.inspect import render_inspect, write_inspect_json


class Format(str, Enum):
    table = "table"
    json = "json"


def inspect_cmd(
    paths: list[Path] = PATHS,
    format: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
    output: Path | None = OUTPUT,
    include: list[str] = INCLUDE,
    exclude: list[str] = EXCLUDE,
) -> None:
    """List tensors (name, dtype, shape, parameters, bytes, shard) from the headers only.

    Reads no tensor data: the time does not depend on the checkpoint's size. Exit code 1 when a
    shard of a multi-file checkpoint failed validation (listed as unreadable).
    """
    the_plan = plan(paths, include, exclude)
    guard_output(output, paths)
    with output_stream(output) as out:
        if format is Format.json:
            write_inspect_json(the_plan, out)
        else:
            render_inspect(the_plan, data_console(out))
    if any(isinstance(t, Unreadable) for t in the_plan.tensors):
        raise typer.Exit(1)
