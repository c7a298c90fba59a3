"""The shipped samples: each planted property is recovered, and the generator is deterministic."""

from __future__ import annotations

import hashlib
import runpy

import numpy as np
import pytest

from tests.conftest import SAMPLES
from weightlens import analyze


def records(name: str) -> dict:  # type: ignore[type-arg]
    return {r.name: r for r in analyze(SAMPLES / name)}


def test_samples_are_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 5 * 2**20


def test_low_rank() -> None:
    r = records("low_rank.safetensors")
    assert r["rank16"]["numerical_rank"] == 16 and r["full"]["numerical_rank"] == 192


def test_ill_conditioned() -> None:
    r = records("ill_conditioned.safetensors")
    assert r["kappa_1e4"]["condition_number"] == pytest.approx(1e4, rel=1e-4)  # planted κ of an F32 matrix: storage rounding moves κ by ≲ κ·u32·√p ≈ 1e-4·κ at κ = 1e4
    assert r["kappa_1e10"]["condition_number"] == pytest.approx(1e10, rel=1e-4)  # F64 sample: planted κ = 1e10, gesdd float64 σmin error ≈ max(m,n)·eps64·σ1 ≈ 1e-14·σ1 = 1e-4·σmin


def test_pruned() -> None:
    r = records("pruned.safetensors")
    assert r["unstructured_50"]["zero_fraction"] == 0.5 and r["unstructured_50"]["nm_2_4_fraction"] < 1
    assert r["two_four"]["nm_2_4_fraction"] == 1.0 and r["two_four"]["zero_fraction"] == 0.5


def test_low_precision_files() -> None:
    assert records("bf16.safetensors")["rank32"]["numerical_rank"] == 32
    assert records("f16.safetensors")["rank24"]["numerical_rank"] == 24
    r = records("f8.safetensors")
    assert r["e4m3_rank8"]["numerical_rank"] == 8 and r["e5m2_dense"].dtype == "F8_E5M2"


def test_conv_and_nan() -> None:
    r = records("conv.safetensors")
    assert r["conv1.weight"].kind == "reshaped" and r["conv1.weight"].matrix_shape == (64, 288)
    r = records("nan.safetensors")
    assert r["diverged"].skipped == "non-finite" and r["diverged"]["nan_count"] == 5
    assert r["overflowed"]["inf_count"] == 1 and r["healthy"].analyzed


def test_tiny_model_planted_problems() -> None:
    r = records("tiny_model")
    assert len(r) == 39
    assert r["model.layers.2.self_attn.v_proj.weight"]["numerical_rank"] == 8
    assert r["model.layers.1.self_attn.k_proj.weight"]["singular"]
    assert r["model.layers.3.mlp.down_proj.weight"]["dead_cols"] == pytest.approx(43 / 172)  # a ratio of counts: exact up to one division's rounding
    healthy = [n for n, x in r.items() if x.analyzed and not x["rank_deficient"]]
    assert len(healthy) == 28


def test_generator_is_deterministic(tmp_path) -> None:  # type: ignore[no-untyped-def]
    generate = runpy.run_path(str(SAMPLES / "generate.py"))["generate"]
    digests = []
    for out in (tmp_path / "a", tmp_path / "b"):
        generate(out)
        digests.append({p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*")) if p.is_file()})
    assert digests[0] == digests[1]
    shipped = {p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*.safetensors")}
    assert shipped == {k for k in digests[0] if k.endswith(".safetensors")}
    assert np.all([len(v) == 64 for v in digests[0].values()])
