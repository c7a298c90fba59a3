"""``weightlens schema``: print the JSON Schema of a report."""

from __future__ import annotations

from enum import Enum

import typer

from weightlens.report.schema import dumps, shipped_schema


class Which(str, Enum):
    report = "report"
    inspect = "inspect"
    check = "check"
    diff = "diff"


def schema_cmd(which: Which = typer.Argument(Which.report, help="Which document's schema.")) -> None:
    """Print the JSON Schema (draft 2020-12) of a JSON document weightlens writes."""
    print(dumps(shipped_schema(which.value)), end="")
