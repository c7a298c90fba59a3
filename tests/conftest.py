"""Shared fixtures: a seeded generator and a factory of safetensors files in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from weightlens.schema import shipped_schema
from weightlens.testing import Encoded, write_safetensors

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_weights"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def make_checkpoint(tmp_path: Path) -> Callable[..., Path]:
    """make_checkpoint({"name": array_or_Encoded, ...}, name="x.safetensors") -> path."""

    def make(tensors: Mapping[str, np.ndarray | Encoded], name: str = "model.safetensors") -> Path:
        return write_safetensors(tmp_path / name, tensors)

    return make


def validate_report(doc: dict | str, which: str = "report") -> dict:
    """Validate a JSON document (or its text) against the shipped schema; return it parsed."""
    if isinstance(doc, str):
        doc = json.loads(doc)
    jsonschema.validate(doc, shipped_schema(which), cls=jsonschema.Draft202012Validator)
    return doc


def validate_record(record: dict) -> dict:
    """Validate one tensor record (a JSON Lines line) against the report schema's tensor definition."""
    schema = shipped_schema("report")
    jsonschema.validate(record, {**schema["$defs"]["tensor"], "$defs": schema["$defs"]}, cls=jsonschema.Draft202012Validator)
    return record
