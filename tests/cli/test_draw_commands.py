"""`plot`, `report` and `analyze --format markdown` from the command line, good and bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from weightlens.cli import app
from weightlens.plot import INSTALL_HINT

runner = CliRunner()


@pytest.fixture
def small(make_checkpoint) -> Path:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    return make_checkpoint({"layers.0.w": rng.standard_normal((40, 30)), "layers.1.w": rng.standard_normal((30, 20)), "bias": np.zeros(3)})


def saved_report(path: Path, tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["analyze", str(path), "--format", "json", "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def test_analyze_markdown(small) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["analyze", str(small), "--format", "markdown"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("### weightlens: 3 tensors")
    rows = [ln for ln in lines if ln.startswith("| `")]
    assert [r.split(" | ")[0] for r in rows] == ["| `layers.0.w`", "| `layers.1.w`"]


def test_plot_checkpoint_and_saved_report(small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["plot", str(small), "-o", str(tmp_path / "a"), "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["layers.0.w.png", "layers.1.w.png", "overview.png"]
    saved = saved_report(small, tmp_path, "--full-spectrum")
    result = runner.invoke(app, ["plot", str(saved), "-o", str(tmp_path / "b"), "--format", "svg", "--include", "layers.1.*"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["layers.1.w.svg", "overview.svg"]
    assert "wrote 2 figures" in result.stderr


def test_plot_saved_report_without_spectra_is_exit_2(small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    saved = saved_report(small, tmp_path)
    result = runner.invoke(app, ["plot", str(saved), "-o", str(tmp_path / "c")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and str(saved) in result.stderr and "--full-spectrum" in result.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("command", ["plot", "report"])
def test_missing_matplotlib_is_exit_2_with_the_install_hint(small, tmp_path, monkeypatch, command: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = runner.invoke(app, [command, str(small), "-o", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert result.stderr == f"weightlens: error: {INSTALL_HINT}\n"


def test_bad_inputs(small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    not_report = tmp_path / "other.json"
    not_report.write_text(json.dumps({"hello": 1}))
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    saved = saved_report(small, tmp_path, "--full-spectrum")
    cases = [
        (["plot", str(not_report), "-o", str(tmp_path / "o")], "not a weightlens analyze report"),
        (["plot", str(broken), "-o", str(tmp_path / "o")], "invalid JSON"),
        (["plot", str(saved), str(small), "-o", str(tmp_path / "o")], "must be the only path"),
        (["report", str(small), "-o", str(small)], "refusing to write the report over an input of this run"),
        (["report", str(small), "-o", str(tmp_path / "missing" / "r.html")], "does not exist"),
        (["plot", str(tmp_path / "nothing.safetensors"), "-o", str(tmp_path / "o")], ""),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)
    result = runner.invoke(app, ["plot", str(small), "-o", str(tmp_path / "o"), "--format", "jpg"])
    assert result.exit_code == 2


def test_report_from_checkpoint_and_saved_report(small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(small), "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<details") == 2
    saved = saved_report(small, tmp_path)
    result = runner.invoke(app, ["report", str(saved), "-o", str(tmp_path / "s.html"), "-q"])
    assert result.exit_code == 0 and result.stderr == ""
    assert "saved without --full-spectrum" in (tmp_path / "s.html").read_text()


def test_plot_a_lora_adapter_draws_the_updates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An adapter is analyzed as analyze does: one ΔW = s·B·A per module (with its α), not its factors."""
    adapter = Path(__file__).resolve().parents[2] / "sample_weights" / "adapter"
    result = runner.invoke(app, ["plot", str(adapter), "-o", str(tmp_path), "-q", "--include", "*layers.0.*"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["base_model.model.model.layers.0.self_attn.q_proj.png", "base_model.model.model.layers.0.self_attn.v_proj.png", "overview.png"]
