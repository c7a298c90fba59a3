"""Shared fixtures: a seeded generator and a factory of safetensors files in tmp_path."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from weightlens.report.schema import shipped_schema
from weightlens.testing import Encoded, power_law_sample, with_spectrum, write_safetensors

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


HOSTILE_NAME = "evil $x$ | <script>alert(1)</script> `*_@you"
"""A tensor name that is Markdown, HTML, mathtext and a mention at once: renderers must show it literally."""


@pytest.fixture(scope="session")
def layered_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 blocks (attention matrix with a planted power-law tail α = 2, 3, 4; a Gaussian MLP
    matrix; a norm vector), an lm_head outside the blocks, and a matrix with HOSTILE_NAME."""
    rng = np.random.default_rng(3)
    tensors: dict[str, np.ndarray] = {}
    for i in range(3):
        lam = np.concatenate([np.exp(rng.uniform(math.log(0.01), 0.0, 60)), power_law_sample(rng, 100, 2.0 + i)])
        tensors[f"model.layers.{i}.attn.weight"] = with_spectrum(rng, 200, 160, np.sort(np.sqrt(lam))[::-1]).astype(np.float32)
        tensors[f"model.layers.{i}.mlp.weight"] = (rng.standard_normal((96, 64)) / 8).astype(np.float32)
        tensors[f"model.layers.{i}.norm.weight"] = np.ones(64, np.float32)
    tensors["lm_head.weight"] = (rng.standard_normal((120, 64)) / 8).astype(np.float32)
    tensors[HOSTILE_NAME] = rng.standard_normal((40, 30)).astype(np.float32)
    return write_safetensors(tmp_path_factory.mktemp("layered") / "model.safetensors", tensors)
