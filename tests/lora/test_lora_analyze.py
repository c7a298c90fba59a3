"""`analyze` on LoRA adapters: one exact record per update, checked against the explicit product."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.bounds import tolerances
from tests.conftest import SAMPLES, validate_record, validate_report
from weightlens import AnalysisOptions, analyze, analyze_tensor, open_checkpoint
from weightlens.cli import app
from weightlens.render.table import flags
from weightlens.testing import encode

PRE = "base_model.model.model.layers.0"


def write_adapter(tmp_path, make_checkpoint, tensors, config=None):  # type: ignore[no-untyped-def]
    make_checkpoint(tensors, "adapter_model.safetensors")
    if config is not None:
        (tmp_path / "adapter_config.json").write_text(json.dumps(config))
    return tmp_path


def explicit(tensors, module, scale, transpose=False):  # type: ignore[no-untyped-def]
    b = tensors[f"{module}.lora_B.weight"].astype(np.float64)
    a = tensors[f"{module}.lora_A.weight"].astype(np.float64)
    d = scale * b.reshape(b.shape[0], -1) @ a.reshape(a.shape[0], -1)
    return d.T if transpose else d


def test_records_match_the_svd_of_the_formed_update(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    t = {
        f"{PRE}.self_attn.q_proj.lora_A.weight": rng.standard_normal((8, 48)).astype(np.float32),
        f"{PRE}.self_attn.q_proj.lora_B.weight": rng.standard_normal((40, 8)).astype(np.float32),
        f"{PRE}.self_attn.v_proj.lora_A.weight": rng.standard_normal((4, 48)).astype(np.float32),
        f"{PRE}.self_attn.v_proj.lora_B.weight": rng.standard_normal((40, 4)).astype(np.float32),
        f"{PRE}.mlp.up_proj.lora_A.weight": rng.standard_normal((8, 48)).astype(np.float32),
        f"{PRE}.mlp.up_proj.lora_B.weight": rng.standard_normal((96, 8)).astype(np.float32),
    }
    config = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "rank_pattern": {"v_proj": 4}, "alpha_pattern": {"up_proj": 4}}
    report = analyze(write_adapter(tmp_path, make_checkpoint, t, config), AnalysisOptions(full_spectrum=True))
    assert report.inputs[0].layout == "adapter"
    scales = {"self_attn.q_proj": 2.0, "self_attn.v_proj": 4.0, "mlp.up_proj": 0.5}
    assert [r.name for r in report] == [f"{PRE}.{m}" for m in ("mlp.up_proj", "self_attn.q_proj", "self_attn.v_proj")]
    for short, s in scales.items():
        rec = report[f"{PRE}.{short}"]
        d = explicit(t, f"{PRE}.{short}", s)
        ref = np.linalg.svd(d, compute_uv=False)
        assert rec.kind == "lora" and rec.matrix_shape == d.shape and rec.shape == d.shape
        assert rec["lora_scale"] == s and rec["svd_route"] == "lora-qr"
        np.testing.assert_allclose(rec["sigma"], ref, rtol=0, atol=1e-12 * ref[0])  # lora-qr bound: max(m,n)·eps64·σ1 ≈ 1e-14·σ1 ≤ 1e-12·σ1
        assert rec["fro_norm"] == pytest.approx(np.linalg.norm(d), rel=1e-12)  # float64 sums of N terms: ≤ N·eps64
        assert rec["numerical_rank"] == rec["lora_rank"]
        assert rec["rms"] == pytest.approx(np.sqrt(np.mean(d**2)), rel=1e-12)  # float64 sum of N squares: ≤ N·eps64
        assert rec["singular"] and rec["condition_number"] is None
        assert rec["condition_number_on_rank"] == pytest.approx(ref[0] / ref[rec["lora_rank"] - 1], rel=1e-10)  # σ1/σr with both within max(m,n)·eps64·σ1 and σr ≈ σ1/κr, κr ≤ 1e2 here
        assert "zero_fraction" not in rec.metrics  # elementwise passes on ΔW would need the product
    assert report.summary.flags["singular"] == 0 and report.summary.flags["rank_deficient"] == 0
    assert report.summary.worst_condition == []
    validate_report(report.to_dict())


def test_spectral_fields_equal_those_of_the_dense_product(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    # The same passes on the formed product (stored as F64, so its rounding is negligible) give the same fields.
    t = {
        "m.lora_A.weight": rng.standard_normal((6, 30)),
        "m.lora_B.weight": rng.standard_normal((25, 6)),
    }
    lora = analyze(write_adapter(tmp_path, make_checkpoint, t))["m"]
    dense_path = make_checkpoint({"m": explicit(t, "m", 1.0)}, "dense.safetensors")
    dense = analyze_tensor(open_checkpoint(dense_path).tensors[0], AnalysisOptions())
    bl, bd = tolerances(lora.to_dict()), tolerances(dense.to_dict())  # each route within its reported bound (tests/bounds.py)
    for key in ("sigma_max", "fro_norm", "stable_rank", "effective_rank", "condition_number_on_rank"):
        assert abs(lora[key] - dense[key]) <= bl[key] + bd[key], key
    for key in ("numerical_rank", "energy_rank_90", "energy_rank_99", "rank_ratio", "singular"):
        assert lora[key] == dense[key], key
    for x, y, ex, ey in zip(lora["svd_rel_error"], dense["svd_rel_error"], bl["svd_rel_error"], bd["svd_rel_error"], strict=True):
        assert abs(x["rel_error"] - y["rel_error"]) <= ex + ey, x["rank"]


def test_conv_embedding_and_fan_in_fan_out_updates(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    t = {
        "base_model.model.conv.lora_A.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "base_model.model.conv.lora_B.weight": rng.standard_normal((16, 4, 1, 1)).astype(np.float32),
        "base_model.model.wte.lora_embedding_A": rng.standard_normal((4, 50)).astype(np.float32),
        "base_model.model.wte.lora_embedding_B": rng.standard_normal((12, 4)).astype(np.float32),
    }
    report = analyze(write_adapter(tmp_path, make_checkpoint, t, {"r": 4, "lora_alpha": 4}))
    conv, emb = report["base_model.model.conv"], report["base_model.model.wte"]
    assert conv.matrix_shape == (16, 27)
    assert emb.matrix_shape == (50, 12)  # ΔW = s·(B·A)ᵀ, shaped like the (vocab, dim) embedding
    b, a = t["base_model.model.wte.lora_embedding_B"].astype(float), t["base_model.model.wte.lora_embedding_A"].astype(float)
    assert emb["sigma_max"] == pytest.approx(np.linalg.norm(b @ a, 2), rel=1e-10)  # lora-qr bound max(m,n)·eps64·σ1 ≪ 1e-10·σ1
    assert conv["sigma_max"] == pytest.approx(np.linalg.norm(explicit(t, "base_model.model.conv", 1.0), 2), rel=1e-10)  # as above


def test_bf16_factors_and_a_planted_rank_below_r(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    b = rng.standard_normal((64, 2)) @ rng.standard_normal((2, 16))  # rank 2 of r = 16
    t = {"m.lora_A.weight": encode(rng.standard_normal((16, 64)), "BF16"), "m.lora_B.weight": encode(b, "BF16")}
    rec = analyze(write_adapter(tmp_path, make_checkpoint, t, {"r": 16, "lora_alpha": 16}))["m"]
    assert rec.dtype == "BF16" and rec["numerical_rank"] == 2 and rec["lora_rank"] == 16
    assert ("rank 2 < r=16", "yellow") in flags(rec)


def test_untrained_adapter_and_non_finite_factors(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    bad = rng.standard_normal((8, 4)).astype(np.float32)
    bad[1, 2] = np.nan
    t = {
        "zero.lora_A.weight": rng.standard_normal((4, 8)).astype(np.float32),
        "zero.lora_B.weight": np.zeros((8, 4), np.float32),
        "nan.lora_A.weight": rng.standard_normal((4, 8)).astype(np.float32),
        "nan.lora_B.weight": bad,
    }
    report = analyze(write_adapter(tmp_path, make_checkpoint, t))
    zero, nan = report["zero"], report["nan"]
    assert zero["all_zero"] and zero["numerical_rank"] == 0 and zero["sigma_max"] == 0.0
    assert nan.skipped == "non-finite" and nan["nan_count"] == 1 and "sigma_max" not in nan.metrics
    assert report.summary.flags["all_zero"] == 1 and report.summary.flags["nonfinite"] == 1
    assert report.summary.flags["lora_rank_deficient"] == 0
    assert zero["lora_alpha"] is None and ("unscaled: no adapter_config.json", "yellow") in flags(zero)


def test_a_factor_selected_alone_is_a_plain_matrix(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    t = {"m.lora_A.weight": rng.standard_normal((4, 8)).astype(np.float32), "m.lora_B.weight": rng.standard_normal((8, 4)).astype(np.float32)}
    report = analyze(write_adapter(tmp_path, make_checkpoint, t), AnalysisOptions(include=("*lora_A*",)))
    assert [(r.name, r.kind) for r in report] == [("m.lora_A.weight", "matrix")]


def test_sample_adapter_planted_properties() -> None:
    report = analyze(SAMPLES / "adapter")
    by = {r.name.removeprefix("base_model.model.model."): r for r in report}
    q0, v0, q1, v1, emb = (by[k] for k in ("layers.0.self_attn.q_proj", "layers.0.self_attn.v_proj", "layers.1.self_attn.q_proj", "layers.1.self_attn.v_proj", "embed_tokens"))
    assert (q0["lora_rank"], q0["lora_scale"], q0["numerical_rank"]) == (4, 4.0, 4)  # rank_pattern
    assert (v0["lora_rank"], v0["numerical_rank"]) == (8, 2)
    assert q1["all_zero"] and q1["numerical_rank"] == 0
    assert (v1["lora_alpha"], v1["lora_scale"]) == (32.0, 4.0)  # alpha_pattern
    assert emb.matrix_shape == (64, 32)
    assert report.summary.flags["lora_rank_deficient"] == 1


runner = CliRunner()


def test_cli_json_and_jsonl_validate() -> None:
    result = runner.invoke(app, ["analyze", str(SAMPLES / "adapter"), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = validate_report(result.stdout)
    assert doc["inputs"][0]["layout"] == "adapter" and {t["kind"] for t in doc["tensors"]} == {"lora"}
    result = runner.invoke(app, ["analyze", str(SAMPLES / "adapter"), "--format", "jsonl"])
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == 5
    for line in lines:
        validate_record(json.loads(line))


def test_cli_table_and_exit_code_on_a_broken_pair(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    t = {
        "ok.lora_A.weight": rng.standard_normal((4, 8)).astype(np.float32),
        "ok.lora_B.weight": rng.standard_normal((8, 4)).astype(np.float32),
        "bad.lora_A.weight": rng.standard_normal((4, 8)).astype(np.float32),
        "bad.lora_B.weight": rng.standard_normal((8, 3)).astype(np.float32),
    }
    result = runner.invoke(app, ["analyze", str(write_adapter(tmp_path, make_checkpoint, t))])
    assert result.exit_code == 1
    assert "4/r=4" in result.stdout and "do not multiply" in result.stdout


def test_cli_bad_adapter_config_exits_2(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    t = {"m.lora_A.weight": rng.standard_normal((4, 8)).astype(np.float32), "m.lora_B.weight": rng.standard_normal((8, 4)).astype(np.float32)}
    result = runner.invoke(app, ["analyze", str(write_adapter(tmp_path, make_checkpoint, t, {"r": -1}))])
    assert result.exit_code == 2
    assert "adapter_config.json: r: expected an integer >= 1, got -1" in result.stderr
