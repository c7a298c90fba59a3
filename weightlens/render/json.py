"""JSON and JSON Lines renderers (strict JSON: no NaN or Infinity tokens).

The output is pure ASCII: every other character of a name is a ``\\uXXXX`` escape, which
``json.loads`` reads back exactly — a lone surrogate too (``"w\\ud800"``), which no UTF-8
encoder could write raw — and which any output encoding can carry.
"""

from __future__ import annotations

import json
from typing import Any

from weightlens.report.records import Report, TensorRecord


def dumps(doc: Any) -> str:
    """Strict JSON with a trailing newline; raises ValueError on a non-finite float."""
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def render_json(report: Report) -> str:
    """The whole report as one JSON document."""
    return dumps(report.to_dict())


def json_line(doc: Any) -> str:
    """One line of JSON Lines (compact, strict, ASCII)."""
    return json.dumps(doc, allow_nan=False, separators=(",", ":")) + "\n"


def jsonl_line(record: TensorRecord) -> str:
    """One tensor record as one line of JSON Lines."""
    return json_line(record.to_dict())
