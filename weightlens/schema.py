"""The JSON Schema of the report, assembled from the passes' field declarations.

The shipped copy ``weightlens/schemas/report.schema.json`` is this function's output
(``weightlens schema > weightlens/schemas/report.schema.json``); a test keeps them equal.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from weightlens.passes import PASSES
from weightlens.report import SCHEMA_VERSION

_INT = {"type": "integer", "minimum": 0}
_NULLABLE_STR = {"type": ["string", "null"]}
_SHAPE = {"type": "array", "items": _INT}

TENSOR_IDENTITY: dict[str, Any] = {
    "name": {"type": "string", "description": "tensor name, literally as in the header"},
    "file": {"type": "string", "description": "file holding the tensor"},
    "dtype": {"type": "string", "description": "safetensors dtype"},
    "shape": {**_SHAPE, "description": "shape as stored"},
    "parameters": {**_INT, "description": "number of elements"},
    "kind": {
        "enum": ["matrix", "reshaped", "vector", "scalar", "empty", "non-float", "unsupported", "unreadable"],
        "description": "matrix as stored, >2-D reshaped to (shape[0], rest), or why it is no matrix",
    },
    "matrix_shape": {"type": ["array", "null"], "items": _INT, "description": "(m, n) of the matrix view"},
    "skipped": {**_NULLABLE_STR, "description": "why the spectral passes did not run"},
    "error": {**_NULLABLE_STR, "description": "why the tensor could not be read"},
}


def tensor_schema() -> dict[str, Any]:
    """Schema of one tensor record (also one line of ``--format jsonl``)."""
    props = dict(TENSOR_IDENTITY)
    for p in PASSES.values():
        for f in p.fields:
            props[f.name] = f.json_schema()
    return {
        "type": "object",
        "properties": props,
        "required": list(TENSOR_IDENTITY),
        "additionalProperties": False,
    }


def _named_numbers(key: str) -> dict[str, Any]:
    """[{"name": ..., key: number|null}, ...]"""
    item = {"type": "object", "properties": {"name": {"type": "string"}, key: {"type": ["number", "null"]}}, "required": ["name", key]}
    return {"type": "array", "items": item}


def report_schema() -> dict[str, Any]:
    """Schema of the ``--format json`` document."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://weightlens.dev/schemas/report-{SCHEMA_VERSION}.json",
        "title": "weightlens analysis report",
        "type": "object",
        "required": ["schema_version", "tool", "inputs", "options", "tensors", "summary"],
        "additionalProperties": False,
        "properties": {
            "schema_version": {"const": SCHEMA_VERSION},
            "tool": {
                "type": "object",
                "properties": {"name": {"const": "weightlens"}, "version": {"type": "string"}},
                "required": ["name", "version"],
            },
            "inputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["path", "layout", "tensors", "selected", "files"],
                    "properties": {
                        "path": {"type": "string"},
                        "layout": {"enum": ["file", "index", "directory", "adapter"]},
                        "tensors": _INT,
                        "selected": _INT,
                        "files": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["path", "size", "header_sha256", "tensors"],
                                "properties": {
                                    "path": {"type": "string"},
                                    "size": _INT,
                                    "header_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    "tensors": _INT,
                                },
                            },
                        },
                    },
                },
            },
            "options": {"type": "object"},
            "tensors": {"type": "array", "items": {"$ref": "#/$defs/tensor"}},
            "summary": {
                "type": "object",
                "required": ["tensors", "analyzed", "skipped", "errors", "excluded", "parameters", "flags"],
                "properties": {
                    "tensors": _INT,
                    "analyzed": _INT,
                    "skipped": _INT,
                    "errors": _INT,
                    "excluded": _INT,
                    "parameters": _INT,
                    "flags": {"type": "object", "additionalProperties": _INT},
                    "worst_condition": _named_numbers("condition_number"),
                    "lowest_rank_ratio": _named_numbers("rank_ratio"),
                    "skipped_reasons": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                    "error_list": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"name": {"type": "string"}, "error": {"type": "string"}}},
                    },
                },
            },
        },
        "$defs": {"tensor": tensor_schema()},
    }


def shipped_schema(name: str = "report") -> dict[str, Any]:
    """The schema file shipped in the package (``schemas/<name>.schema.json``)."""
    text = resources.files("weightlens").joinpath(f"schemas/{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
