"""JSON and JSON Lines renderers (strict JSON: no NaN or Infinity tokens)."""

from __future__ import annotations

import json
from typing import Any

from weightlens.report import Report, TensorRecord


def dumps(doc: Any) -> str:
    """Strict JSON with a trailing newline; raises ValueError on a non-finite float."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def render_json(report: Report) -> str:
    """The whole report as one JSON document."""
    return dumps(report.to_dict())


def jsonl_line(record: TensorRecord) -> str:
    """One tensor record as one line of JSON Lines."""
    return json.dumps(record.to_dict(), ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"
