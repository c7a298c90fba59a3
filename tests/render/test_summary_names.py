"""Every count in the summary names its tensors; tensors and records are counted apart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from weightlens.cli import app

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "sample_weights"


def test_all_zero_biases_are_named(make_checkpoint: Callable[..., Path], rng: np.random.Generator) -> None:
    tensors = {f"layers.{i}.bias": np.zeros(16, np.float32) for i in range(8)}
    tensors["layers.0.w"] = rng.standard_normal((16, 16)).astype(np.float32)
    path = make_checkpoint(tensors)
    out = runner.invoke(app, ["analyze", str(path), "--passes", "health"]).stdout
    (line,) = [ln for ln in out.splitlines() if ln.startswith("all-zero: ")]
    assert line == "all-zero: " + ", ".join(f"layers.{i}.bias" for i in range(5)) + ", … (+3 more)"
    assert "flags: 8 all-zero" in out
    doc = json.loads(runner.invoke(app, ["analyze", str(path), "--passes", "health", "-f", "json"]).stdout)
    assert doc["summary"]["flagged"]["all_zero"] == [f"layers.{i}.bias" for i in range(8)]
    assert doc["summary"]["flags"]["all_zero"] == 8


def test_every_raised_flag_has_a_line_naming_it() -> None:
    doc = json.loads(runner.invoke(app, ["analyze", str(SAMPLES / "tiny_model"), "-f", "json"]).stdout)
    out = runner.invoke(app, ["analyze", str(SAMPLES / "tiny_model")]).stdout
    for flag, n in doc["summary"]["flags"].items():
        assert len(doc["summary"]["flagged"][flag]) == n
        if n:
            (line,) = [ln for ln in out.splitlines() if ln.startswith(flag.replace("_", "-") + ": ")]
            assert doc["summary"]["flagged"][flag][0] in line


def test_an_adapter_counts_tensors_and_records_apart() -> None:
    """Each LoRA record stands for two stored tensors (lora_A and lora_B)."""
    doc = json.loads(runner.invoke(app, ["analyze", str(SAMPLES / "adapter"), "-f", "json"]).stdout)
    stored = sum(f["tensors"] for i in doc["inputs"] for f in i["files"])
    assert doc["summary"]["tensors"] == stored == 2 * doc["summary"]["records"] == 2 * len(doc["tensors"])
    out = runner.invoke(app, ["analyze", str(SAMPLES / "adapter")]).stdout
    assert f"{stored} tensors in {len(doc['tensors'])} records" in out


def test_rows_of_several_checkpoints_name_their_checkpoint(tmp_path: Path, rng: np.random.Generator) -> None:
    from weightlens.testing.writer import write_safetensors

    paths = []
    for d in ("run-a", "run-b"):
        (tmp_path / d).mkdir()
        p = tmp_path / d / "model.safetensors"
        write_safetensors(p, {"w": rng.standard_normal((8, 8)).astype(np.float32)})
        paths.append(str(p))
    for fmt in ("table", "markdown"):
        out = runner.invoke(app, ["analyze", *paths, "--passes", "health", "-f", fmt]).stdout
        rows = [ln for ln in out.splitlines() if "8×8" in ln]
        assert len(rows) == 2 and paths[0] in rows[0] and paths[1] in rows[1], out
    one = runner.invoke(app, ["analyze", paths[0], "--passes", "health"]).stdout
    assert "checkpoint" not in one.splitlines()[0]
