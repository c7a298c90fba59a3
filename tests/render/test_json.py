"""JSON output: strict (no NaN/Infinity), schema-valid, in sync with the pass declarations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import validate_record, validate_report
from weightlens import AnalysisOptions, analyze
from weightlens.render.json import jsonl_line, render_json
from weightlens.report.schema import report_schema, shipped_schema


def nasty(make_checkpoint, rng):  # type: ignore[no-untyped-def]
    nan = rng.standard_normal((4, 4)).astype(np.float32)
    nan[1, 1] = np.inf
    return make_checkpoint({"zero": np.zeros((5, 5)), "nan": nan, "w": rng.standard_normal((6, 3)), "b": np.ones(3), "i": np.arange(4)})


def test_shipped_schema_is_the_generated_one() -> None:
    assert shipped_schema("report") == report_schema(), "regenerate weightlens/schemas/report.schema.json"


def test_report_json_is_strict_and_valid(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    text = render_json(analyze(nasty(make_checkpoint, rng), AnalysisOptions(full_spectrum=True)))
    assert "NaN" not in text and "Infinity" not in text
    doc = validate_report(json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard token {c}")))
    zero = next(t for t in doc["tensors"] if t["name"] == "zero")
    assert zero["condition_number"] is None and zero["singular"] is True
    assert doc["inputs"][0]["files"][0]["header_sha256"]


def test_jsonl_lines_are_records(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    for rec in analyze(nasty(make_checkpoint, rng)):
        line = jsonl_line(rec)
        assert line.endswith("\n") and "\n" not in line[:-1]
        validate_record(json.loads(line))


def test_schema_rejects_an_unknown_field(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    import jsonschema

    doc = analyze(nasty(make_checkpoint, rng)).to_dict()
    doc["tensors"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate_report(doc)
