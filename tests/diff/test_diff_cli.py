"""`weightlens diff` on the command line: formats, schema, exit codes, literal names."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.bounds import diff_tolerances
from tests.conftest import SAMPLES, validate_report
from weightlens.cli import app
from weightlens.errors import InputError
from weightlens.report.schema import SCHEMAS, dumps, shipped_schema
from weightlens.testing import write_safetensors

runner = CliRunner()
BASE = str(SAMPLES / "diff" / "base.safetensors")
TUNED = str(SAMPLES / "diff" / "tuned.safetensors")
ADAPTER = str(SAMPLES / "adapter")


def validate_diff_record(record: dict) -> dict:  # type: ignore[type-arg]
    import jsonschema

    schema = shipped_schema("diff")
    jsonschema.validate(record, {**schema["$defs"]["tensor"], "$defs": schema["$defs"]}, cls=jsonschema.Draft202012Validator)
    return record


def test_table_lists_changes_and_unmatched_tensors() -> None:
    result = runner.invoke(app, ["diff", BASE, TUNED, "--lora-ranks", "4,8"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("err@4", "err@8", "model.layers.0.self_attn.q_proj.weight", "4/32", "only in base", "only in tuned", "shape changed", "F32→BF16"):
        assert text in out, text
    assert "model.layers.0.self_attn.k_proj.weight" not in out  # identical: counted, not listed
    assert "15 identical (not listed)" in out
    assert "only in base: model.layers.1.self_attn.rotary_emb.inv_freq" in out
    assert "only in tuned: score.weight" in out


@pytest.mark.parametrize("tuned", [TUNED, ADAPTER])
def test_json_validates_against_the_shipped_schema(tuned) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["diff", BASE, tuned, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = validate_report(result.stdout, "diff")
    assert doc["mode"] == ("adapter" if tuned == ADAPTER else "checkpoints")
    assert doc["base"]["layout"] == "file" and doc["tuned"]["layout"] == ("adapter" if tuned == ADAPTER else "file")
    assert doc["options"]["lora_ranks"] == [8, 16, 64]


def test_jsonl_streams_one_valid_record_per_name() -> None:
    result = runner.invoke(app, ["diff", BASE, TUNED, "--format", "jsonl"])
    assert result.exit_code == 0
    records = [validate_diff_record(json.loads(line)) for line in result.stdout.splitlines()]
    statuses = {r["name"]: r["status"] for r in records}
    assert len(records) == 23
    assert statuses["score.weight"] == "only_in_tuned"
    assert statuses["model.layers.1.self_attn.rotary_emb.inv_freq"] == "only_in_base"


def test_output_file_and_refusal_to_overwrite_an_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "d.json"
    result = runner.invoke(app, ["diff", BASE, TUNED, "-f", "json", "-o", str(out)])
    assert result.exit_code == 0 and result.stdout == ""
    validate_report(out.read_text(), "diff")
    result = runner.invoke(app, ["diff", BASE, TUNED, "-o", TUNED])
    assert result.exit_code == 2 and "refusing to write the report over an input of this run" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([BASE, "missing.safetensors"], "missing.safetensors: no such file or directory"),
        ([BASE, TUNED, "--lora-ranks", "8,x"], "--lora-ranks: expected comma-separated integers >= 1, got '8,x'"),
        ([BASE, TUNED, "--lora-ranks", "0"], "--lora-ranks: expected comma-separated integers >= 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["diff", *args])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unreadable_tensor_exits_1_and_reports_the_others(tmp_path, rng, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    diff_module = sys.modules["weightlens.pipeline.diff"]  # the attribute weightlens.pipeline.diff is the function

    t = {"bad": rng.standard_normal((4, 4)).astype(np.float32), "good": rng.standard_normal((4, 4)).astype(np.float32)}
    b = write_safetensors(tmp_path / "b.safetensors", t)
    real = diff_module.read_tensor

    def failing(info):  # type: ignore[no-untyped-def]
        if info.name == "bad":
            raise InputError(info.file, "cannot read tensor 'bad': disk on fire")
        return real(info)

    monkeypatch.setattr(diff_module, "read_tensor", failing)
    result = runner.invoke(app, ["diff", str(b), str(b), "-f", "json"])
    assert result.exit_code == 1
    doc = validate_report(result.stdout, "diff")
    assert doc["summary"]["errors"] == 1 and doc["summary"]["identical"] == 1


def test_names_are_printed_literally(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    name = "[bold red]layer[/bold red].weight"
    b = write_safetensors(tmp_path / "b.safetensors", {name: rng.standard_normal((3, 3)).astype(np.float32)})
    t = write_safetensors(tmp_path / "t.safetensors", {name: rng.standard_normal((3, 3)).astype(np.float32)})
    result = runner.invoke(app, ["diff", str(b), str(t)])
    assert result.exit_code == 0 and name in result.stdout


@pytest.mark.parametrize("which", sorted(SCHEMAS))
def test_shipped_schemas_equal_their_builders(which) -> None:  # type: ignore[no-untyped-def]
    assert shipped_schema(which) == json.loads(dumps(SCHEMAS[which]()))


def test_schema_command_prints_the_diff_schema() -> None:
    result = runner.invoke(app, ["schema", "diff"])
    assert result.exit_code == 0 and json.loads(result.stdout) == shipped_schema("diff")


@pytest.mark.parametrize("tuned", [TUNED, ADAPTER])
def test_jobs_compare_in_workers_with_the_same_report(tuned: str) -> None:
    """-j 2 runs the pairs in worker processes; records, order and values are those of -j 1."""
    serial = runner.invoke(app, ["diff", BASE, tuned, "-f", "jsonl", "-j", "1"])
    parallel = runner.invoke(app, ["diff", BASE, tuned, "-f", "jsonl", "-j", "2"])
    assert serial.exit_code == parallel.exit_code == 0
    a, b = ([json.loads(line) for line in r.stdout.splitlines()] for r in (serial, parallel))
    assert [r["name"] for r in a] == [r["name"] for r in b] and len(a) >= 5
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys() and x["status"] == y["status"] and x.get("delta_numerical_rank") == y.get("delta_numerical_rank")
        tx, ty = diff_tolerances(x), diff_tolerances(y)
        for key in ("rel_change", "delta_sigma_max", "sigma_max_base"):
            if x.get(key) is not None:
                assert abs(y[key] - x[key]) <= tx[key] + ty[key], (x["name"], key)


@pytest.mark.parametrize(
    ("base", "tuned", "hint"),
    [
        (str(SAMPLES / "f16.safetensors"), TUNED, "wrong base"),  # unrelated checkpoints
        (ADAPTER, BASE, "BASE is a LoRA adapter"),  # swapped arguments
        (str(SAMPLES / "f16.safetensors"), ADAPTER, "an adapter for another model"),
    ],
)
def test_no_name_in_common_is_a_usage_error(base: str, tuned: str, hint: str) -> None:
    result = runner.invoke(app, ["diff", base, tuned, "-f", "json"])
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"weightlens: error: {tuned}: no tensor name in common with {base}") and hint in line
