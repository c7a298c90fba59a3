"""Numerical, effective and stable rank, with planted ranks in every storage dtype."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.passes.helpers import analyze_array, stored
from weightlens.linalg.spectrum import compute_spectrum
from weightlens.passes.rank import effective_rank
from weightlens.testing import low_rank, with_spectrum


@pytest.mark.parametrize(("dtype", "shape", "r"), [("F64", (80, 60), 7), ("F32", (60, 80), 12), ("F16", (96, 64), 9), ("BF16", (128, 96), 16), ("F8_E4M3", (64, 64), 4), ("F8_E5M2", (64, 48), 3)])
def test_planted_rank_is_recovered_in_every_dtype(tmp_path, rng, dtype: str, shape, r: int) -> None:  # type: ignore[no-untyped-def]
    w = low_rank(rng, *shape, r)
    rec = analyze_array(tmp_path, w, dtype)
    assert rec["numerical_rank"] == r
    assert rec["rank_deficient"] and rec["rank_ratio"] == pytest.approx(r / min(shape))  # a ratio of integers: one division's rounding


def test_bf16_rank_where_numpy_default_tolerance_reports_nearly_full_rank(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    """METRICS.md: numpy's max(m,n)·eps·σ1 counts BF16 rounding noise as rank."""
    w = low_rank(rng, 1024, 1024, 128)
    rec = analyze_array(tmp_path, w, "BF16")
    assert rec["numerical_rank"] == 128
    assert np.linalg.matrix_rank(stored(w, "BF16").astype(np.float32)) > 400


def test_dominant_rows_do_not_inflate_the_rank(rng) -> None:  # type: ignore[no-untyped-def]
    """A few rows 100× larger than the rest (outlier features, frequent-token embeddings): their
    rounding noise exceeds the Frobenius-form tolerance of METRICS.md, which then counts noise as
    rank (6 instead of 2 here); the row/column-norm form bounds it and does not."""
    w = low_rank(rng, 512, 512, 2)
    w[:8] *= 100.0
    s = stored(w, "BF16")
    sp = compute_spectrum(s.astype(np.float32), 2.0**-8)
    assert sp.rank == 2
    m, n = s.shape
    frobenius_tol = 2 * 2.0**-8 * np.linalg.norm(s) * (math.sqrt(m) + math.sqrt(n)) / math.sqrt(3 * m * n)
    assert np.count_nonzero(sp.sigma > max(frobenius_tol, sp.svd_error)) > 2
    assert sp.tol >= frobenius_tol  # never less conservative than the Frobenius form


def test_tolerance_formula(rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((50, 30)).astype(np.float32)
    sp = compute_spectrum(w, 2.0**-24)
    w64 = w.astype(np.float64)
    rows, cols = np.linalg.norm(w64, axis=1).max(), np.linalg.norm(w64, axis=0).max()
    expected_noise = 2 * 2.0**-24 * (rows + cols) / math.sqrt(3)
    assert sp.storage_noise == pytest.approx(expected_noise, rel=1e-6)  # storage-noise formula vs its float64 re-evaluation: rounding only
    assert sp.svd_error == pytest.approx(50 * np.finfo(np.float64).eps * np.linalg.norm(w64, 2), rel=1e-9)  # the documented formula re-evaluated (σ1 by another gesdd: ≤ max(m,n)·eps64 relative)
    assert sp.tol == max(sp.storage_noise, sp.svd_error)


def test_effective_and_stable_rank_against_formulas(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    sigma = np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.25])
    w = with_spectrum(rng, 30, 20, sigma)
    rec = analyze_array(tmp_path, w)
    q = sigma / sigma.sum()
    assert rec["numerical_rank"] == 6
    assert rec["effective_rank"] == pytest.approx(math.exp(-np.sum(q * np.log(q))), rel=1e-9)  # erank from float64 gesdd σ (≤ max(m,n)·eps64·σ1 each): relative change ≪ 1e-9
    assert rec["stable_rank"] == pytest.approx(np.sum(sigma**2) / sigma[0] ** 2, rel=1e-9)  # as above, stable rank
    assert 1 <= rec["effective_rank"] <= rec["numerical_rank"]


def test_effective_rank_ignores_storage_noise(rng) -> None:  # type: ignore[no-untyped-def]
    w = stored(low_rank(rng, 512, 512, 64), "BF16").astype(np.float32)
    sp = compute_spectrum(w, 2.0**-8)
    q_all = sp.sigma / sp.sigma.sum()
    over_all = math.exp(-np.sum(q_all * np.log(q_all)))
    assert over_all > 64  # the Roy–Vetterli formula over all σ exceeds the rank
    assert effective_rank(sp) <= sp.rank == 64


def test_flat_spectrum_effective_rank_equals_rank(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, with_spectrum(rng, 40, 40, np.ones(40)))
    assert rec["effective_rank"] == pytest.approx(40, rel=1e-9)  # planted flat spectrum: σ within max(m,n)·eps64·σ1
    assert rec["stable_rank"] == pytest.approx(40, rel=1e-9)  # as above
    assert not rec["rank_deficient"]
