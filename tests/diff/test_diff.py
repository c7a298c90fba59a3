"""`diff` of two checkpoints: planted updates are recovered, every field against a float64 reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weightlens import AnalysisOptions, DiffOptions, analyze_tensor, diff, open_checkpoint
from weightlens.checkpoint import read_tensor
from weightlens.errors import InputError, UsageError
from weightlens.linalg.spectrum import compute_spectrum
from weightlens.pipeline.diff import delta_noise, diff_job, plan_diff
from weightlens.testing import encode, low_rank, with_spectrum, write_safetensors


def pair(tmp_path, base, tuned):  # type: ignore[no-untyped-def]
    return write_safetensors(tmp_path / "base.safetensors", base), write_safetensors(tmp_path / "tuned.safetensors", tuned)


def test_planted_rank_4_update_is_rank_4_with_zero_rank_4_error(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((96, 64)) / 8
    sigma = np.array([0.8, 0.6, 0.4, 0.2])
    update = with_spectrum(rng, 96, 64, sigma)
    b, t = pair(tmp_path, {"w": w.astype(np.float32)}, {"w": (w + update).astype(np.float32)})
    rec = diff(b, t, DiffOptions(lora_ranks=(2, 4, 8)))["w"]
    assert rec.status == "paired" and rec.kind == "matrix" and not rec["identical"]
    assert rec["delta_numerical_rank"] == 4
    errors = {e["rank"]: e["rel_error"] for e in rec["delta_lora_error"]}
    assert errors[4] < 1e-5 and errors[8] < 1e-5  # ≈ 0: only F32 rounding remains
    assert errors[2] == pytest.approx(math.sqrt((0.4**2 + 0.2**2) / np.sum(sigma**2)), rel=1e-5)  # F32 storage of both sides: ΔW's σ move by ≲ u32·‖W‖F ≈ 3e-7·σ (Weyl)
    np.testing.assert_allclose(rec["delta_top_sigma"][:4], sigma, rtol=1e-5)  # as above
    assert rec["delta_energy_rank_99"] == 4 and rec["delta_energy_rank_90"] == 3
    assert 3 < rec["delta_effective_rank"] <= 4
    # Elementwise fields against numpy on the stored values.
    wb, wt = w.astype(np.float32).astype(float), (w + update).astype(np.float32).astype(float)
    d = wt - wb
    assert rec["delta_fro_norm"] == pytest.approx(np.linalg.norm(d), rel=1e-12)  # float64 sum of N squares (ΔW of F32 values is exact in float64): ≤ N·eps64
    assert rec["rel_change"] == pytest.approx(np.linalg.norm(d) / np.linalg.norm(wb), rel=1e-12)  # as above, a quotient of two such sums
    assert rec["max_abs_delta"] == np.abs(d).max()
    assert rec["cosine"] == pytest.approx(np.sum(wb * wt) / np.linalg.norm(wb) / np.linalg.norm(wt), rel=1e-12)  # as above
    assert rec["delta_sigma_max"] == pytest.approx(np.linalg.norm(d, 2), rel=1e-10)  # float64 gesdd of ΔW: ≤ max(m,n)·eps64·σ1


def test_w_fields_equal_analyze_of_each_side(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((40, 30)).astype(np.float32)
    wt = (w + 0.1 * rng.standard_normal((40, 30))).astype(np.float32)
    b, t = pair(tmp_path, {"w": encode(w, "BF16")}, {"w": encode(wt, "BF16")})
    rec = diff(b, t)["w"]
    for side, path in (("base", b), ("tuned", t)):
        ref = analyze_tensor(open_checkpoint(path).tensors[0], AnalysisOptions())
        assert rec[f"sigma_max_{side}"] == ref["sigma_max"]
        assert rec[f"condition_number_{side}"] == ref["condition_number"]
        assert rec[f"effective_rank_{side}"] == ref["effective_rank"]
        assert rec[f"numerical_rank_{side}"] == ref["numerical_rank"]


@settings(max_examples=12, deadline=None)
@given(
    m=st.integers(8, 120),
    n=st.integers(8, 120),
    dtype=st.sampled_from(["BF16", "F16"]),
    outlier=st.floats(1.0, 50.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_dtype_cast_is_no_update(tmp_path_factory, m, n, dtype, outlier, seed) -> None:  # type: ignore[no-untyped-def]
    # ΔW = rounding to the new dtype only: its numerical rank must be 0, whatever the row norms.
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, n))
    w[0] *= outlier
    b, t = pair(tmp_path_factory.mktemp("cast"), {"w": w.astype(np.float32)}, {"w": encode(w.astype(np.float32), dtype)})
    rec = diff(b, t)["w"]
    assert not rec["identical"]
    assert rec["delta_numerical_rank"] == 0
    assert rec["delta_sigma_max"] <= rec["delta_rank_tol"]


@pytest.mark.parametrize("dtype", ["BF16", "F16"])
def test_planted_update_in_16_bit_storage(tmp_path, rng, dtype) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((256, 128)) / np.sqrt(128)
    w[5] *= 20  # an outlier row: the noise floor must follow the weights, not ΔW
    update = low_rank(rng, 256, 128, 4, scale=0.1 * np.linalg.norm(w, 2))
    b, t = pair(tmp_path, {"w": encode(w, dtype)}, {"w": encode(w + update, dtype)})
    rec = diff(b, t)["w"]
    assert rec["delta_numerical_rank"] == 4
    # The tolerance taken from ΔW's own norms would call rounding noise rank:
    mats = [read_tensor(open_checkpoint(p).tensors[0]) for p in (b, t)]
    u = 2.0**-8 if dtype == "BF16" else 2.0**-11
    assert compute_spectrum(mats[1] - mats[0], u).rank > 4
    assert rec["delta_rank_tol"] == pytest.approx(delta_noise(mats[0], mats[1], u, u), rel=1e-12)  # the documented formula re-evaluated: rounding only


def test_delta_noise_formula(rng) -> None:  # type: ignore[no-untyped-def]
    b, t = rng.standard_normal((7, 5)), rng.standard_normal((7, 5))
    ub, ut = 2.0**-8, 2.0**-24
    rows = np.sqrt(ub**2 * (b**2).sum(1) + ut**2 * (t**2).sum(1)).max()
    cols = np.sqrt(ub**2 * (b**2).sum(0) + ut**2 * (t**2).sum(0)).max()
    assert delta_noise(b, t, ub, ut) == pytest.approx(2 * (rows + cols) / math.sqrt(3), rel=1e-12)  # as above


def test_identical_unmatched_shape_and_dtype_changes(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    same = rng.standard_normal((16, 12)).astype(np.float32)
    base = {
        "same": same,
        "gone": np.ones(4, np.float32),
        "resized": np.ones((10, 4), np.float32),
        "cast": same,
        "norm": np.ones(6, np.float32),
        "ids": np.arange(5, dtype=np.int64),
    }
    tuned = {
        "same": same.copy(),
        "new": np.ones((2, 3), np.float32),
        "resized": np.ones((12, 4), np.float32),
        "cast": same.astype(np.float64),
        "norm": np.full(6, 2.0, np.float32),
        "ids": np.arange(5, dtype=np.int64),
    }
    report = diff(*pair(tmp_path, base, tuned))
    s = report.summary
    assert (s.only_in_base, s.only_in_tuned, s.shape_changed) == (["gone"], ["new"], ["resized"])
    assert s.dtype_changed == [("cast", "F32", "F64")]
    assert [r.name for r in report] == ["cast", "gone", "ids", "new", "norm", "resized", "same"]
    assert report["gone"].status == "only_in_base" and report["new"].status == "only_in_tuned"
    assert report["new"].tuned_shape == (2, 3) and report["gone"].base_shape == (4,)
    resized = report["resized"]
    assert resized.skipped == "shape changed" and resized.metrics == {}
    same_rec = report["same"]
    assert same_rec["identical"] and same_rec["delta_numerical_rank"] == 0 and same_rec["rel_change"] == 0.0
    assert same_rec["cosine"] == 1.0 and "sigma_max_base" not in same_rec.metrics  # no SVD for an identical pair
    assert report["cast"]["identical"]  # F32 -> F64 is exact
    norm = report["norm"]
    assert norm.kind == "vector" and norm.skipped is None
    assert norm["rel_change"] == pytest.approx(1.0) and norm["cosine"] == pytest.approx(1.0)  # exact-by-construction values: default tolerance ≫ one rounding
    assert "delta_numerical_rank" not in norm.metrics
    assert report["ids"]["identical"] and report["ids"].skipped == "I64 tensor (not floating point)"
    assert (s.pairs, s.identical, s.changed) == (5, 3, 1)
    assert s.largest_change == [("norm", pytest.approx(1.0))]  # as above


def test_non_finite_side_is_named(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((4, 4)).astype(np.float32)
    bad = w.copy()
    bad[0, 0] = np.inf
    rec = diff(*pair(tmp_path, {"w": w}, {"w": bad}))["w"]
    assert rec.skipped == "non-finite (tuned)" and rec.metrics == {}


def test_zero_base_and_sign_flip(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((6, 5)).astype(np.float32)
    report = diff(*pair(tmp_path, {"zero": np.zeros((6, 5), np.float32), "flip": w}, {"zero": w, "flip": -w}))
    assert report["zero"]["rel_change"] is None and report["zero"]["cosine"] is None
    assert report["flip"]["cosine"] == -1.0 and report["flip"]["rel_change"] == pytest.approx(2.0)  # as above


def test_filters_and_options(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    t = {"a.weight": rng.standard_normal((3, 3)).astype(np.float32), "b.weight": rng.standard_normal((3, 3)).astype(np.float32)}
    report = diff(*pair(tmp_path, t, t), DiffOptions(include=("a.*",)))
    assert [r.name for r in report] == ["a.weight"] and report.summary.excluded == 1
    with pytest.raises(UsageError, match="lora_ranks"):
        DiffOptions(lora_ranks=(0,))
    with pytest.raises(UsageError, match="top_k"):
        DiffOptions(top_k=0)


def test_unreadable_tensor_is_an_error_record(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((64, 64)).astype(np.float32)
    b, t = pair(tmp_path, {"w": w}, {"w": w + 1})
    plan = plan_diff(b, t, DiffOptions())
    with open(t, "r+b") as f:  # truncated after the headers were read
        f.truncate(t.stat().st_size - 100)
    rec = diff_job(plan.jobs[0], DiffOptions())
    assert rec.error is not None and "cannot read tensor 'w'" in rec.error


def test_missing_checkpoint_raises(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="no such file"):
        diff(tmp_path / "nope.safetensors", tmp_path / "nope2.safetensors")


def test_a_shard_that_fails_validation_is_an_error_per_tensor(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    from weightlens.testing import write_sharded

    shards = [{"a.weight": rng.standard_normal((4, 4)).astype(np.float32)}, {"b.weight": rng.standard_normal((4, 4)).astype(np.float32)}]
    base = write_sharded(tmp_path / "base", shards)
    tuned = write_sharded(tmp_path / "tuned", shards)
    (tuned / "model-00002-of-00002.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    report = diff(base, tuned)
    assert report["a.weight"]["identical"]
    bad = report["b.weight"]
    assert bad.status == "paired" and bad.error is not None and "JSON" in bad.error
    assert report.summary.errors == 1


def test_huge_weights_are_measured_and_overflow_is_skipped_not_raised(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((8, 8)) * 1e306
    rec = diff(*pair(tmp_path, {"w": w}, {"w": -w}))["w"]
    assert rec.skipped is None and rec["cosine"] == -1.0
    assert rec["delta_sigma_max"] == pytest.approx(2 * np.linalg.norm(w / 1e306, 2) * 1e306, rel=1e-10)  # float64 gesdd of the scaled ΔW: ≤ max(m,n)·eps64·σ1
    w = np.clip(rng.standard_normal((8, 8)), -3, 3) * (1.7e308 / 4)
    rec = diff(*pair(tmp_path, {"w": w}, {"w": -w}))["w"]  # max |t - b| ≈ 2.5e308
    assert rec.skipped == "overflow: ΔW exceeds the float64 range" and rec["identical"] is False


def test_an_unreadable_entry_on_one_side_counts_as_an_error(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    from weightlens.testing import write_sharded

    base = write_safetensors(tmp_path / "base.safetensors", {"a.weight": rng.standard_normal((4, 4)).astype(np.float32)})
    tuned = write_sharded(tmp_path / "tuned", [{"a.weight": rng.standard_normal((4, 4)).astype(np.float32)}, {"extra.weight": np.ones((2, 2), np.float32)}])
    (tuned / "model-00002-of-00002.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    report = diff(base, tuned)
    extra = report["extra.weight"]
    assert extra.status == "only_in_tuned" and extra.kind == "unreadable" and extra.error
    assert report.summary.errors == 1 and report.summary.only_in_tuned == ["extra.weight"]
