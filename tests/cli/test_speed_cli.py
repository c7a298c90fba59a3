"""--jobs, --scheduler and --spectrum through the CLI."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import validate_record, validate_report
from weightlens.cli import app
from weightlens.testing import encode, low_rank, write_safetensors

runner = CliRunner()


@pytest.fixture
def ckpt(tmp_path, rng):  # type: ignore[no-untyped-def]
    tensors = {f"layers.{i}.w": encode(low_rank(rng, 40 + 30 * i, 64, 8 + i), "BF16") for i in range(4)}
    tensors["layers.0.norm"] = np.ones(64, np.float32)
    return write_safetensors(tmp_path / "m.safetensors", tensors)


def test_jobs_2_same_output_order_as_jobs_1(ckpt) -> None:  # type: ignore[no-untyped-def]
    one = runner.invoke(app, ["analyze", str(ckpt), "-f", "jsonl", "--jobs", "1", "--passes", "rank"])
    two = runner.invoke(app, ["analyze", str(ckpt), "-f", "jsonl", "-j", "2", "--passes", "rank"])
    assert one.exit_code == two.exit_code == 0, two.output
    a = [validate_record(json.loads(line)) for line in one.stdout.splitlines()]
    b = [validate_record(json.loads(line)) for line in two.stdout.splitlines()]
    assert [r["name"] for r in a] == [r["name"] for r in b] == ["layers.0.norm", "layers.0.w", "layers.1.w", "layers.2.w", "layers.3.w"]
    assert [r.get("numerical_rank") for r in a] == [r.get("numerical_rank") for r in b] == [None, 8, 9, 10, 11]
    assert [r["file"] for r in a] == [r["file"] for r in b] == [str(ckpt)] * 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "0"], "--jobs"),
        (["--scheduler", "myhost:8786"], "expected 'local' or a Dask scheduler address"),
        (["--spectrum", "fast", "--full-spectrum"], "full_spectrum: needs spectrum 'exact'"),
        (["--spectrum", "approximate"], "approximate"),
    ],
)
def test_bad_speed_options(ckpt, args, message) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["analyze", str(ckpt), *args])
    assert result.exit_code == 2 and message in result.stderr


def test_scheduler_without_dask_says_how_to_install(ckpt, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    result = runner.invoke(app, ["analyze", str(ckpt), "--scheduler", "local"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "weightlens: error: --scheduler needs Dask's distributed scheduler: pip install 'dask[distributed]' (the weightlens-health[dask] extra)"


def test_unreachable_scheduler_is_a_one_line_error(ckpt, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("distributed")
    monkeypatch.setattr("weightlens.pipeline.executors.cluster.CONNECT_TIMEOUT", "1s")
    result = runner.invoke(app, ["analyze", str(ckpt), "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "cannot connect to the Dask scheduler" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_spectrum_fast_table_and_json(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    path = write_safetensors(tmp_path / "big.safetensors", {"w": low_rank(rng, 600, 520, 300).astype(np.float32)})
    result = runner.invoke(app, ["analyze", str(path), "--spectrum", "fast", "-f", "json"])
    doc = validate_report(result.stdout)
    w = doc["tensors"][0]
    assert w["spectrum_exact"] is False and w["numerical_rank"] is None and w["rank_deficient"] is True
    assert doc["options"]["spectrum"] == "fast"
    table = runner.invoke(app, ["analyze", str(path), "--spectrum", "fast"])
    assert table.exit_code == 0 and "<520/520" in table.stdout and "rank-deficient" in table.stdout
