"""`diff BASE ADAPTER`: each LoRA update against the base weight it targets, without forming B·A."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import SAMPLES
from weightlens import DiffOptions, diff
from weightlens.testing import write_safetensors

PEFT = "base_model.model."


def setup(tmp_path, rng, config=None, extra=None):  # type: ignore[no-untyped-def]
    base = {
        "model.layers.0.q_proj.weight": rng.standard_normal((24, 32)).astype(np.float32),
        "model.layers.0.v_proj.weight": rng.standard_normal((24, 32)).astype(np.float32),
        "model.layers.0.k_proj.weight": rng.standard_normal((24, 32)).astype(np.float32),
        "model.norm.weight": np.ones(32, np.float32),
        "score.weight": rng.standard_normal((2, 32)).astype(np.float32),
    }
    adapter = {
        f"{PEFT}model.layers.0.q_proj.lora_A.weight": rng.standard_normal((4, 32)).astype(np.float32),
        f"{PEFT}model.layers.0.q_proj.lora_B.weight": 0.1 * rng.standard_normal((24, 4)).astype(np.float32),
        f"{PEFT}model.layers.0.v_proj.lora_A.weight": rng.standard_normal((4, 32)).astype(np.float32),
        f"{PEFT}model.layers.0.v_proj.lora_B.weight": np.zeros((24, 4), np.float32),
        **(extra or {}),
    }
    bpath = write_safetensors(tmp_path / "base.safetensors", base)
    (tmp_path / "ad").mkdir()
    write_safetensors(tmp_path / "ad" / "adapter_model.safetensors", adapter)
    (tmp_path / "ad" / "adapter_config.json").write_text(json.dumps(config or {"r": 4, "lora_alpha": 8}))
    return bpath, tmp_path / "ad", base, adapter


def test_relative_change_cosine_and_spectrum_per_targeted_layer(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    bpath, apath, base, adapter = setup(tmp_path, rng)
    report = diff(bpath, apath, DiffOptions(lora_ranks=(2, 4)))
    assert report.mode == "adapter"
    assert [r.name for r in report] == ["model.layers.0.q_proj.weight", "model.layers.0.v_proj.weight"]
    assert report.summary.untargeted == 3 and report.summary.only_in_base == []
    rec = report["model.layers.0.q_proj.weight"]
    assert rec.kind == "lora" and rec.tuned_name == f"{PEFT}model.layers.0.q_proj" and rec["lora_scale"] == 2.0
    w = base["model.layers.0.q_proj.weight"].astype(float)
    d = 2.0 * adapter[f"{PEFT}model.layers.0.q_proj.lora_B.weight"].astype(float) @ adapter[f"{PEFT}model.layers.0.q_proj.lora_A.weight"].astype(float)
    assert rec["rel_change"] == pytest.approx(np.linalg.norm(d) / np.linalg.norm(w), rel=1e-12)  # float64 sums of N terms: ≤ N·eps64
    assert rec["cosine"] == pytest.approx(np.sum(w * (w + d)) / np.linalg.norm(w) / np.linalg.norm(w + d), rel=1e-12)  # as above
    assert rec["max_abs_delta"] == pytest.approx(np.abs(d).max(), rel=1e-12)  # a maximum of float64 differences: one rounding
    ref = np.linalg.svd(d, compute_uv=False)
    np.testing.assert_allclose(rec["delta_top_sigma"], ref[:8], rtol=0, atol=1e-12 * ref[0])  # lora-qr bound max(m,n)·eps64·σ1 ≈ 1e-14·σ1 ≤ 1e-12·σ1
    assert rec["delta_numerical_rank"] == 4
    assert {e["rank"]: e["rel_error"] for e in rec["delta_lora_error"]}[4] == 0.0
    assert "sigma_max_base" not in rec.metrics  # W itself: not formed for an adapter
    zero = report["model.layers.0.v_proj.weight"]
    assert zero["identical"] and zero["rel_change"] == 0.0 and zero["cosine"] == 1.0
    assert report.summary.changed == 1 and report.summary.identical == 1


def test_unmatched_shape_mismatch_and_full_replacements(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    extra = {
        f"{PEFT}model.layers.9.q_proj.lora_A.weight": rng.standard_normal((4, 32)).astype(np.float32),
        f"{PEFT}model.layers.9.q_proj.lora_B.weight": rng.standard_normal((24, 4)).astype(np.float32),
        f"{PEFT}model.layers.0.k_proj.lora_A.weight": rng.standard_normal((4, 30)).astype(np.float32),
        f"{PEFT}model.layers.0.k_proj.lora_B.weight": rng.standard_normal((24, 4)).astype(np.float32),
        f"{PEFT}score.modules_to_save.weight": rng.standard_normal((2, 32)).astype(np.float32),
        f"{PEFT}model.layers.0.q_proj.lora_magnitude_vector": np.ones(24, np.float32),
    }
    bpath, apath, base, adapter = setup(tmp_path, rng, extra=extra)
    report = diff(bpath, apath)
    s = report.summary
    assert s.only_in_tuned == [f"{PEFT}model.layers.9.q_proj"]
    assert s.dora_magnitude == [f"{PEFT}model.layers.0.q_proj.lora_magnitude_vector"]
    k = report["model.layers.0.k_proj.weight"]
    assert k.skipped == "shape changed: the base matrix is 24×32, ΔW is 24×30"
    score = report["score.weight"]  # modules_to_save replaces the whole tensor: an ordinary pair
    assert score.kind == "matrix" and score.tuned_name == f"{PEFT}score.modules_to_save.weight"
    ref = extra[f"{PEFT}score.modules_to_save.weight"].astype(float) - base["score.weight"]
    assert score["delta_fro_norm"] == pytest.approx(np.linalg.norm(ref), rel=1e-12)  # float64 sums of N squares: ≤ N·eps64
    assert "sigma_max_tuned" in score.metrics


def test_fan_in_fan_out_updates_the_transposed_weight(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    base = {"h.0.attn.c_attn.weight": rng.standard_normal((32, 24)).astype(np.float32)}  # GPT-2 Conv1D: (in, out)
    a = rng.standard_normal((4, 32)).astype(np.float32)
    b = rng.standard_normal((24, 4)).astype(np.float32)
    bpath = write_safetensors(tmp_path / "base.safetensors", base)
    (tmp_path / "ad").mkdir()
    write_safetensors(tmp_path / "ad" / "adapter_model.safetensors", {f"{PEFT}h.0.attn.c_attn.lora_A.weight": a, f"{PEFT}h.0.attn.c_attn.lora_B.weight": b})
    (tmp_path / "ad" / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 4, "fan_in_fan_out": True}))
    rec = diff(bpath, tmp_path / "ad")["h.0.attn.c_attn.weight"]
    w, d = base["h.0.attn.c_attn.weight"].astype(float), (b.astype(float) @ a.astype(float)).T
    assert rec.matrix_shape == (32, 24)
    assert rec["cosine"] == pytest.approx(np.sum(w * (w + d)) / np.linalg.norm(w) / np.linalg.norm(w + d), rel=1e-12)  # float64 sums of N terms: ≤ N·eps64


def test_sample_adapter_agrees_with_the_merged_sample_checkpoint() -> None:
    # tuned.safetensors holds base + the adapter's update of layers.0.self_attn.q_proj (stored in F32):
    # the explicit difference and the exact low-rank route must tell the same story.
    name = "model.layers.0.self_attn.q_proj.weight"
    merged = diff(SAMPLES / "diff" / "base.safetensors", SAMPLES / "diff" / "tuned.safetensors", DiffOptions(lora_ranks=(4,)))[name]
    lora = diff(SAMPLES / "diff" / "base.safetensors", SAMPLES / "adapter", DiffOptions(lora_ranks=(4,)))[name]
    assert merged["delta_numerical_rank"] == lora["delta_numerical_rank"] == 4
    # The merged checkpoint rounded W_tuned to F32: an error E with ‖E‖2 ≤ ‖E‖F ≤ u32·‖W_tuned‖F, where
    # ‖W_base‖F = delta_fro_norm / rel_change and ‖W_tuned‖F ≤ ‖W_base‖F·(1 + rel_change).
    u32 = 2.0**-24
    e = u32 * merged["delta_fro_norm"] / merged["rel_change"] * (1 + merged["rel_change"])
    base_fro = merged["delta_fro_norm"] / merged["rel_change"]
    assert abs(merged["rel_change"] - lora["rel_change"]) <= e / base_fro
    # cos moves by ≤ sin θ·‖E‖F/‖W_tuned‖F (the part of E along W_tuned cancels), plus its float64 sums
    sin = math.sqrt(max(0.0, 1 - lora["cosine"] ** 2))
    assert abs(merged["cosine"] - lora["cosine"]) <= sin * u32 * (1 + merged["rel_change"]) + 4 * math.prod(merged.matrix_shape) * 2.0**-52
    # σi(ΔW) moves by ≤ ‖E‖2 (Weyl) plus the merged SVD's resolution, at most its delta_rank_tol
    assert np.all(np.abs(np.subtract(merged["delta_top_sigma"][:4], lora["delta_top_sigma"][:4])) <= e + merged["delta_rank_tol"])


def test_sample_adapter_diff_planted_properties() -> None:
    report = diff(SAMPLES / "diff" / "base.safetensors", SAMPLES / "adapter")
    ranks = {r.name: r["delta_numerical_rank"] for r in report}
    assert ranks == {
        "model.embed_tokens.weight": 8,
        "model.layers.0.self_attn.q_proj.weight": 4,
        "model.layers.0.self_attn.v_proj.weight": 2,
        "model.layers.1.self_attn.q_proj.weight": 0,
        "model.layers.1.self_attn.v_proj.weight": 8,
    }
    assert report.summary.identical == 1 and report.summary.errors == 0


def test_an_adapter_without_config_is_marked_unscaled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without adapter_config.json s = 1: every update is marked, in the records, table and markdown."""
    import shutil

    from typer.testing import CliRunner

    from tests.conftest import validate_report
    from weightlens.cli import app

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(SAMPLES / "adapter" / "adapter_model.safetensors", bare)
    base = str(SAMPLES / "diff" / "base.safetensors")
    runner = CliRunner()
    scaled = validate_report(runner.invoke(app, ["diff", base, str(SAMPLES / "adapter"), "-f", "json"]).stdout, "diff")
    unscaled = validate_report(runner.invoke(app, ["diff", base, str(bare), "-f", "json"]).stdout, "diff")
    assert [r["lora_unscaled"] for r in scaled["tensors"]] == [False] * 5
    assert [r["lora_unscaled"] for r in unscaled["tensors"]] == [True] * 5
    v0 = next(r for r in unscaled["tensors"] if r["name"] == "model.layers.0.self_attn.v_proj.weight")
    assert v0["lora_scale"] == 1.0 and v0["lora_alpha"] is None
    for fmt in ("table", "markdown"):
        with_config = runner.invoke(app, ["diff", base, str(SAMPLES / "adapter"), "-f", fmt]).stdout
        without = runner.invoke(app, ["diff", base, str(bare), "-f", fmt]).stdout.replace("\\_", "_")  # markdown escapes _
        assert "unscaled" not in with_config
        assert without.count("unscaled: no adapter_config.json") == 5 + 1, without  # each row, and the headline


@pytest.mark.parametrize("suffix", ["", ".default", ".weight", ".default.weight"])
def test_dora_magnitude_vectors_and_a_saved_embedding_copy(tmp_path, rng, suffix: str) -> None:  # type: ignore[no-untyped-def]
    """PEFT's save_embedding_layers copy pairs with the base embedding; DoRA vectors are labelled."""
    from weightlens.render.diff import diff_table, notes
    from weightlens.render.markdown import render_diff_markdown

    embed = rng.standard_normal((40, 32)).astype(np.float32)
    copy = embed.copy()
    copy[3] += 0.5  # the copy carries a trained row
    magnitude = f"{PEFT}model.layers.0.v_proj.lora_magnitude_vector{suffix}"
    extra = {
        f"{PEFT}model.embed_tokens.base_layer.weight": copy,
        f"{PEFT}model.layers.0.q_proj.lora_magnitude_vector{suffix}": np.ones(24, np.float32),
        magnitude: np.ones(24, np.float32),
    }
    bpath, apath, base, _ = setup(tmp_path, rng, config={"r": 4, "lora_alpha": 8, "use_dora": True}, extra=extra)
    write_safetensors(bpath, {**base, "model.embed_tokens.weight": embed})
    report = diff(bpath, apath)
    s = report.summary
    assert s.only_in_tuned == [] and len(s.dora_magnitude) == 2 and magnitude in s.dora_magnitude
    e = report["model.embed_tokens.weight"]
    assert e.status == "paired" and e.tuned_name == f"{PEFT}model.embed_tokens.base_layer.weight"
    assert e["delta_fro_norm"] == pytest.approx(np.linalg.norm(copy.astype(float) - embed), rel=1e-12)
    assert e["delta_numerical_rank"] == 1
    dora = [r for r in report if r.status == "dora_magnitude"]
    assert [r.name for r in dora] == [f"model.layers.0.{m}.lora_magnitude_vector{suffix}" for m in ("q_proj", "v_proj")]
    assert all(r.metrics == {} and r.tuned_shape == (24,) for r in dora)
    assert notes(dora[0])[0][0] == "DoRA magnitude of model.layers.0.q_proj.weight (not compared)"
    assert "2 DoRA magnitude vectors" in render_diff_markdown(report) and "only in tuned" not in render_diff_markdown(report)
    from tests.conftest import validate_report
    from weightlens.render.diff import render_diff_json

    assert validate_report(render_diff_json(report), "diff")["summary"]["dora_magnitude"] == s.dora_magnitude
    assert diff_table(report).row_count == 2 + 1 + 2  # the q_proj and v_proj updates, the embedding copy, two DoRA vectors
