"""The JSON Schemas of the reports, assembled from the passes' (and diff's) field declarations.

The shipped copies ``weightlens/schemas/{report,diff}.schema.json`` are these functions' output
(``weightlens schema report``, ``weightlens schema diff``); a test keeps them equal.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from weightlens.passes import PASSES
from weightlens.pipeline.diff import DIFF_FIELDS
from weightlens.pipeline.lora import LORA_FIELDS
from weightlens.report.records import SCHEMA_VERSION

_INT = {"type": "integer", "minimum": 0}
_NULLABLE_STR = {"type": ["string", "null"]}
_SHAPE = {"type": "array", "items": _INT}

TENSOR_IDENTITY: dict[str, Any] = {
    "name": {"type": "string", "description": "tensor name, literally as in the header"},
    "file": {"type": "string", "description": "file holding the tensor"},
    "dtype": {"type": "string", "description": "safetensors dtype, or GGUF (ggml) type: F16, Q4_K, ..."},
    "shape": {**_SHAPE, "description": "shape as stored"},
    "parameters": {**_INT, "description": "number of elements"},
    "kind": {
        "enum": ["matrix", "reshaped", "lora", "vector", "scalar", "empty", "non-float", "unsupported", "unreadable"],
        "description": "matrix as stored, >2-D reshaped to (shape[0], rest), a LoRA update ΔW = s·B·A, or why it is no matrix",
    },
    "matrix_shape": {"type": ["array", "null"], "items": _INT, "description": "(m, n) of the matrix view"},
    "skipped": {**_NULLABLE_STR, "description": "why the spectral passes did not run"},
    "error": {**_NULLABLE_STR, "description": "why the tensor could not be read"},
}


OPTIONAL_IDENTITY: dict[str, Any] = {
    "hf_name": {"type": "string", "description": "GGUF tensors: the Hugging Face name gguf's tensor-name map gives it for the file's architecture"},
}


def tensor_schema() -> dict[str, Any]:
    """Schema of one tensor record (also one line of ``--format jsonl``)."""
    props = {**TENSOR_IDENTITY, **OPTIONAL_IDENTITY}
    for f in LORA_FIELDS:
        props[f.name] = f.json_schema()
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
                        "layout": {"enum": ["file", "index", "directory", "adapter", "gguf"]},
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
                    "records": _INT,
                    "analyzed": _INT,
                    "skipped": _INT,
                    "errors": _INT,
                    "excluded": _INT,
                    "parameters": _INT,
                    "flags": {"type": "object", "additionalProperties": _INT},
                    "flagged": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
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


DIFF_IDENTITY: dict[str, Any] = {
    "name": {"type": "string", "description": "the base checkpoint's tensor name (the tuned one's when only in tuned)"},
    "status": {"enum": ["paired", "only_in_base", "only_in_tuned", "dora_magnitude"], "description": "on which sides the name is; dora_magnitude: a DoRA magnitude vector of the adapter (not compared)"},
    "kind": TENSOR_IDENTITY["kind"],
    "base_dtype": {**_NULLABLE_STR, "description": "dtype in the base checkpoint"},
    "tuned_dtype": {**_NULLABLE_STR, "description": "dtype in the tuned checkpoint (of the factors for a LoRA update)"},
    "base_shape": {"type": ["array", "null"], "items": _INT, "description": "shape in the base checkpoint"},
    "tuned_shape": {"type": ["array", "null"], "items": _INT, "description": "shape in the tuned checkpoint (ΔW's for a LoRA update)"},
    "tuned_name": {**_NULLABLE_STR, "description": "the tuned side's name when it differs (adapter module or tensor)"},
    "matrix_shape": TENSOR_IDENTITY["matrix_shape"],
    "skipped": {**_NULLABLE_STR, "description": "why the pair was not (fully) compared"},
    "error": TENSOR_IDENTITY["error"],
}


def _input_entry() -> dict[str, Any]:
    entry: dict[str, Any] = report_schema()["properties"]["inputs"]["items"]
    return entry


def diff_record_schema() -> dict[str, Any]:
    """Schema of one diff record (also one line of ``diff --format jsonl``)."""
    props = dict(DIFF_IDENTITY)
    for f in (*LORA_FIELDS, *DIFF_FIELDS):
        props[f.name] = f.json_schema()
    return {"type": "object", "properties": props, "required": list(DIFF_IDENTITY), "additionalProperties": False}


def diff_schema() -> dict[str, Any]:
    """Schema of the ``diff --format json`` document."""
    names = {"type": "array", "items": {"type": "string"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://weightlens.dev/schemas/diff-{SCHEMA_VERSION}.json",
        "title": "weightlens diff report",
        "type": "object",
        "required": ["schema_version", "tool", "mode", "base", "tuned", "options", "tensors", "summary"],
        "additionalProperties": False,
        "properties": {
            "schema_version": {"const": SCHEMA_VERSION},
            "tool": report_schema()["properties"]["tool"],
            "mode": {"enum": ["checkpoints", "adapter"], "description": "two checkpoints paired by name, or a base and a LoRA adapter"},
            "base": _input_entry(),
            "tuned": _input_entry(),
            "options": {"type": "object"},
            "tensors": {"type": "array", "items": {"$ref": "#/$defs/tensor"}},
            "summary": {
                "type": "object",
                "required": ["pairs", "changed", "identical", "errors", "excluded", "untargeted", "only_in_base", "only_in_tuned", "shape_changed", "dtype_changed"],
                "properties": {
                    "pairs": _INT,
                    "changed": _INT,
                    "identical": _INT,
                    "errors": _INT,
                    "excluded": _INT,
                    "untargeted": _INT,
                    "only_in_base": names,
                    "only_in_tuned": names,
                    "dora_magnitude": names,
                    "shape_changed": names,
                    "dtype_changed": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "base": {"type": "string"}, "tuned": {"type": "string"}},
                            "required": ["name", "base", "tuned"],
                        },
                    },
                    "skipped": {"type": "object", "additionalProperties": names},
                    "error_list": report_schema()["properties"]["summary"]["properties"]["error_list"],
                    "largest_change": _named_numbers("rel_change"),
                },
            },
        },
        "$defs": {"tensor": diff_record_schema()},
    }


SCHEMAS = {"report": report_schema, "diff": diff_schema}
"""The schemas built from code, by name (``inspect``'s is written by hand)."""


def shipped_schema(name: str = "report") -> dict[str, Any]:
    """The schema file shipped in the package (``schemas/<name>.schema.json``)."""
    text = resources.files("weightlens").joinpath(f"schemas/{name}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
