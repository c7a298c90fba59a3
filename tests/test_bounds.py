"""tests/bounds.py: two runs agree within the bounds their records report, and no further.

A second run is modelled by moving every computed σ by at most its reported bound (as another BLAS
thread count does); the records built from those σ by the real passes must compare equal, and a
σ moved beyond the two runs' combined bound must not.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import weightlens.passes.base as passes_base
from tests.bounds import assert_same_report, differences
from weightlens import AnalysisOptions, analyze
from weightlens.linalg.spectrum import Spectrum
from weightlens.testing import encode, low_rank, write_safetensors

OPTIONS = AnalysisOptions(passes=("health", "spectrum", "rank", "condition", "sparsity"))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Both exact routes (gram: BF16; gesdd: F32), tall and wide, full rank and rank-deficient."""
    rng = np.random.default_rng(7)
    tensors = {
        "bf16.tall": encode(low_rank(rng, 120, 40, 20) + 1e-3 * rng.standard_normal((120, 40)), "BF16"),
        "bf16.wide": encode(rng.standard_normal((30, 90)), "BF16"),
        "f32.deficient": low_rank(rng, 64, 48, 12).astype(np.float32),
        "f32.square": rng.standard_normal((50, 50)).astype(np.float32),
        "norm": np.ones(8, np.float32),
    }
    return write_safetensors(tmp_path_factory.mktemp("bounds") / "m.safetensors", tensors)


def moved(sp: Spectrum, rng: np.random.Generator, frac: float) -> Spectrum:
    """The spectrum another run could have produced: each σi moved by ≤ frac × its bound.

    The moves are non-increasing in i (σ stays sorted); σp moves by ≤ frac·sigma_min_error. The
    route's resolution follows σ̂ as compute_spectrum derives it (gesdd: ∝ σ1; gram: from ‖W‖F,
    the same in every run; its σp bound min(√δ, δ/σ̂p)).
    """
    xi = np.sort(rng.uniform(-1, 1, sp.sigma.size))[::-1]
    sigma = sp.sigma + frac * sp.sigma_error * xi
    sigma[-1] = sp.sigma[-1] + frac * sp.sigma_min_error * xi[-1]
    sigma = np.clip(np.maximum(sigma, sigma[-1]), 0.0, None)
    if sp.route == "gram":
        s_min_err = min(sp.svd_error, sp.svd_error**2 / sigma[-1]) if sigma[-1] > 0 else sp.svd_error
        return dataclasses.replace(sp, sigma=sigma, sigma_min_error=s_min_err)
    svd_error = sp.svd_error * sigma[0] / sp.sigma[0]
    tol = max(sp.storage_noise, svd_error)
    return dataclasses.replace(sp, sigma=sigma, svd_error=svd_error, tol=tol, sigma_error=svd_error, sigma_min_error=svd_error)


def run_moved(monkeypatch: pytest.MonkeyPatch, path, seed: int, frac: float, only: int | None = None):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    real = passes_base.compute_spectrum

    def compute(*args, **kwargs):  # type: ignore[no-untyped-def]
        sp = real(*args, **kwargs)
        return moved(sp, rng, frac)

    with monkeypatch.context() as m:
        m.setattr(passes_base, "compute_spectrum", compute)
        return analyze(path, OPTIONS, jobs=1)


@settings(derandomize=True, max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), frac=st.floats(0.0, 1.0))
def test_a_run_within_the_reported_bounds_is_the_same(ckpt, seed: int, frac: float) -> None:  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as mp:
        assert_same_report(analyze(ckpt, OPTIONS, jobs=1), run_moved(mp, ckpt, seed, frac))


@pytest.mark.parametrize("field", ["sigma_max", "sigma_min", "rms", "hoyer"])
def test_a_value_beyond_the_combined_bounds_differs(ckpt, field: str) -> None:  # type: ignore[no-untyped-def]
    from tests.bounds import tolerances

    for rec in analyze(ckpt, OPTIONS, jobs=1):
        d = rec.to_dict()
        if d.get(field) is None:
            continue
        other = {**d, field: d[field] + 2.5 * tolerances(d)[field] + 1e-300}
        assert differences(d, other), (d["name"], field)
        assert not differences(d, {**d, field: d[field] + 1.5 * tolerances(d)[field]}), (d["name"], field)


def test_a_float_field_without_a_bound_is_not_compared_blindly(ckpt) -> None:  # type: ignore[no-untyped-def]
    d = analyze(ckpt, OPTIONS, jobs=1)["bf16.tall"].to_dict()
    assert differences({**d, "new_metric": 1.0}, {**d, "new_metric": 1.0}) == ["bf16.tall.new_metric: no error bound for this float field"]
    assert differences(d, {**d, "numerical_rank": d["numerical_rank"] - 1})
