"""The JSON Schema of ``weightlens check --format json``, built from the rules table.

The shipped copy ``weightlens/schemas/check.schema.json`` is this function's output; a test
keeps them equal. Regenerate it after changing the rules or the document::

    .venv/bin/python -c "from weightlens.check.schema import check_schema; from weightlens.report.schema import dumps; \
        open('weightlens/schemas/check.schema.json', 'w').write(dumps(check_schema()))"
"""

from __future__ import annotations

from typing import Any

from weightlens.check.result import CHECK_SCHEMA_VERSION
from weightlens.check.rules import RULES
from weightlens.report.schema import report_schema

_INT = {"type": "integer", "minimum": 0}
_STR = {"type": "string"}


def _limit(rule_kind: str) -> dict[str, Any]:
    return {"type": "boolean"} if rule_kind == "forbid" else {"type": ["number", "null"]}


def check_schema() -> dict[str, Any]:
    """Schema of the ``check --format json`` document."""
    rule_names = [r.name for r in RULES]
    rules_table = {
        "type": "object",
        "properties": {r.name: {**_limit(r.kind), "description": r.description} for r in RULES},
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://weightlens.dev/schemas/check-{CHECK_SCHEMA_VERSION}.json",
        "title": "weightlens check result",
        "type": "object",
        "required": ["schema_version", "tool", "inputs", "baseline", "config", "summary", "violations", "not_evaluated"],
        "additionalProperties": False,
        "properties": {
            "schema_version": {"const": CHECK_SCHEMA_VERSION},
            "tool": report_schema()["properties"]["tool"],
            "inputs": report_schema()["properties"]["inputs"],
            "baseline": {"type": ["string", "null"], "description": "the baseline report compared with"},
            "config": {
                "type": "object",
                "required": ["files", "rules", "overrides"],
                "additionalProperties": False,
                "properties": {
                    "files": {"type": "array", "items": _STR, "description": "config files read, in precedence order"},
                    "rules": {**rules_table, "description": "global limits (null = inf)"},
                    "overrides": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["match", "rules", "source"],
                            "additionalProperties": False,
                            "properties": {"match": {"type": "array", "items": _STR}, "rules": rules_table, "source": _STR},
                        },
                    },
                },
            },
            "summary": {
                "type": "object",
                "required": ["passed", "tensors", "rules", "checks", "violations", "failed_tensors", "not_evaluated", "strict", "duration_s", "line"],
                "additionalProperties": False,
                "properties": {
                    "passed": {"type": "boolean", "description": "no violation, and with strict no check not evaluated (exit code 0)"},
                    "tensors": {**_INT, "description": "tensors checked"},
                    "rules": {"type": "array", "items": {"enum": rule_names}, "description": "rules that were on"},
                    "checks": {**_INT, "description": "tensor × rule outcomes"},
                    "violations": _INT,
                    "failed_tensors": {**_INT, "description": "tensors with at least one violation"},
                    "not_evaluated": {**_INT, "description": "checks whose value could not be measured"},
                    "strict": {"type": "boolean", "description": "checks not evaluated fail the check (--strict)"},
                    "duration_s": {"type": "number", "minimum": 0},
                    "line": {**_STR, "description": "the final summary line"},
                },
            },
            "violations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["tensor", "file", "rule", "value", "limit", "message"],
                    "additionalProperties": False,
                    "properties": {
                        "tensor": {**_STR, "description": "tensor name, literally"},
                        "file": _STR,
                        "rule": {"enum": rule_names},
                        "value": {"type": ["number", "boolean", "null"], "description": "measured value; null = infinite"},
                        "limit": {"type": ["number", "boolean", "null"], "description": "the limit; null = inf"},
                        "message": _STR,
                    },
                },
            },
            "not_evaluated": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["tensor", "file", "rule", "reason"],
                    "additionalProperties": False,
                    "properties": {"tensor": _STR, "file": _STR, "rule": {"enum": rule_names}, "reason": _STR},
                },
            },
        },
    }
