"""Spectrum routes against numpy's float64 SVD: each within its documented error bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.bounds import tolerances
from tests.conftest import validate_record
from tests.passes.helpers import analyze_array, stored
from weightlens.linalg.routes import EPS64
from weightlens.linalg.spectrum import FAST_MIN_P, compute_spectrum
from weightlens.testing import geometric_spectrum, low_rank, with_spectrum

BF16 = 2.0**-8
F16 = 2.0**-11
F32 = 2.0**-24


def reference(w: np.ndarray) -> np.ndarray:
    return np.linalg.svd(w.astype(np.float64), compute_uv=False)


def cases(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "gaussian tall": rng.standard_normal((300, 120)),
        "gaussian wide": rng.standard_normal((90, 260)),
        "square": rng.standard_normal((128, 128)),
        "rank 10 of 96": low_rank(rng, 160, 96, 10),
        "κ = 1e6": with_spectrum(rng, 150, 100, geometric_spectrum(100, 1e6)),
        "dominant rows": rng.standard_normal((200, 80)) * np.r_[np.full(4, 300.0), np.ones(196)][:, None],
        "row vector": rng.standard_normal((1, 70)),
    }


@pytest.mark.parametrize("dtype", ["BF16", "F16"])
def test_gram_route_within_its_bound(rng, dtype: str) -> None:  # type: ignore[no-untyped-def]
    u = BF16 if dtype == "BF16" else F16
    for name, w in cases(rng).items():
        x = stored(w, dtype).astype(np.float32)
        sp = compute_spectrum(x, u)
        ref = reference(x)
        m, n = x.shape
        delta = EPS64 * (m + n) * float(np.sum(x.astype(np.float64) ** 2))
        assert (sp.route, sp.compute_dtype) == ("gram", "float64"), name
        assert sp.svd_error == pytest.approx(math.sqrt(delta), rel=1e-12)  # the documented formula re-evaluated: rounding only
        assert sp.svd_error * 10 <= sp.storage_noise  # the rule that chose the route
        err = np.abs(sp.sigma - ref)
        per_sigma = np.minimum(math.sqrt(delta), np.where(sp.sigma > 0, delta / np.maximum(sp.sigma, 1e-300), np.inf))
        assert np.all(err <= per_sigma * (1 + 1e-9)), name
        assert abs(sp.sigma_min - ref[-1]) <= sp.sigma_min_error
        assert sp.tol == max(sp.storage_noise, sp.svd_error) and sp.complete


def test_gram_route_ranks_like_float64_svd(rng) -> None:  # type: ignore[no-untyped-def]
    x = stored(low_rank(rng, 400, 300, 37), "BF16").astype(np.float32)
    sp = compute_spectrum(x, BF16)
    assert sp.route == "gram" and sp.rank == int(np.count_nonzero(reference(x) > sp.tol)) == 37


def test_route_choice(rng) -> None:  # type: ignore[no-untyped-def]
    x = stored(rng.standard_normal((80, 60)), "BF16").astype(np.float32)
    assert compute_spectrum(x, F32).route == "gesdd" and compute_spectrum(x, F32).compute_dtype == "float64"
    for forced in ("float32", "float64"):
        sp = compute_spectrum(x, BF16, forced)
        assert (sp.route, sp.compute_dtype) == ("gesdd", forced)
        assert sp.svd_error == pytest.approx(80 * np.finfo(forced).eps * sp.sigma_max)  # the documented formula re-evaluated (default rel 1e-6 ≫ one rounding)
    # A noise floor below 10× the Gram resolution (e.g. a difference of checkpoints) keeps gesdd.
    sp = compute_spectrum(x, BF16, storage_noise=1e-9)
    assert (sp.route, sp.compute_dtype, sp.tol) == ("gesdd", "float32", sp.svd_error)
    np.testing.assert_allclose(sp.sigma, reference(x), rtol=0, atol=sp.svd_error)


def test_zero_matrix_every_route() -> None:
    z = np.zeros((20, 30), np.float32)
    for u, precision in ((BF16, "auto"), (F32, "auto"), (BF16, "float32")):
        sp = compute_spectrum(z, u, precision)  # type: ignore[arg-type]
        assert sp.sigma_max == 0 and sp.rank == 0


# ---------------------------------------------------------------- --spectrum fast


@pytest.fixture
def big(rng) -> np.ndarray:  # type: ignore[no-untyped-def]
    """p = 520 ≥ FAST_MIN_P, a decaying spectrum with a clear top."""
    sigma = np.concatenate([[40, 30, 20, 15, 12, 10, 9, 8.5, 8], np.linspace(4, 0.5, 511)])
    return with_spectrum(rng, 600, 520, sigma).astype(np.float32)


@pytest.mark.parametrize(("u", "transpose"), [(F32, False), (BF16, False), (F32, True)])
def test_fast_top_k_and_sigma_min_within_their_estimates(big, u: float, transpose: bool) -> None:  # type: ignore[no-untyped-def]
    x = big.T.copy() if transpose else big
    x = x if u == F32 else stored(x, "BF16").astype(np.float32)
    ref = reference(x)
    sp = compute_spectrum(x, u, mode="fast", top_k=8)
    assert FAST_MIN_P <= min(x.shape) and not sp.complete and sp.route == "lanczos" and sp.sigma.size == 8
    assert np.all(np.abs(sp.sigma - ref[:8]) <= sp.sigma_error)
    assert abs(sp.sigma_min - ref[-1]) <= sp.sigma_min_error
    assert sp.sigma_error < 1e-6 * ref[0] and sp.sigma_min_error < 1e-3 * ref[-1]
    assert sp.fro_norm == pytest.approx(math.sqrt(np.sum(ref**2)), rel=1e-12)  # ‖W‖F of lanczos: from the entries, float64 sum of N squares ≤ N·eps64
    assert sp.rank == min(x.shape) and sp.tol >= sp.svd_error  # σmin = 0.5 is far above tol
    energy = np.cumsum(ref**2) / np.sum(ref**2)
    assert sp.energy_rank(0.2) == int(np.searchsorted(energy, 0.2)) + 1
    assert sp.energy_rank(0.99) is None  # beyond the 8 values computed
    assert sp.rel_error(3) == pytest.approx(math.sqrt(np.sum(ref[3:] ** 2) / np.sum(ref**2)), rel=1e-9)  # from the top-3 σ (within sigma_error ≈ 1e-15·σ1 here) and ‖W‖F
    assert sp.rel_error(9) is None


def test_fast_on_a_singular_matrix(rng) -> None:  # type: ignore[no-untyped-def]
    x = low_rank(rng, 700, 600, 5).astype(np.float32)
    sp = compute_spectrum(x, F32, mode="fast", top_k=8)
    ref = reference(x)
    assert sp.rank == 5  # the 6th computed value is below tol: the count is known
    assert sp.sigma_min <= sp.tol and sp.sigma_min <= ref[-1] + sp.sigma_min_error
    np.testing.assert_allclose(sp.sigma[:5], ref[:5], rtol=0, atol=sp.sigma_error)


def test_fast_leaves_undecided_rank_open(rng) -> None:  # type: ignore[no-untyped-def]
    x = low_rank(rng, 600, 520, 100).astype(np.float32)
    sp = compute_spectrum(x, F32, mode="fast", top_k=4)
    assert sp.sigma_min <= sp.tol and sp.rank is None


def test_fast_is_exact_for_small_matrices(rng) -> None:  # type: ignore[no-untyped-def]
    sp = compute_spectrum(rng.standard_normal((300, 200)), F32, mode="fast")
    assert sp.complete and sp.route == "gesdd" and sp.sigma.size == 200


def test_fast_record_is_flagged_and_valid(tmp_path, big) -> None:  # type: ignore[no-untyped-def]
    rec = analyze_array(tmp_path, big, spectrum="fast", svd_ranks=(4, 0.5))
    d = validate_record(rec.to_dict())
    assert d["spectrum_exact"] is False and d["svd_route"] == "lanczos" and len(d["top_sigma"]) == 8
    assert d["numerical_rank"] == 520 and d["rank_ratio"] == 1.0 and d["rank_deficient"] is False
    assert d["effective_rank"] is None and d["energy_rank_99"] is None
    assert [e["rel_error"] is None for e in d["svd_rel_error"]] == [False, True]
    assert d["condition_number"] == pytest.approx(40 / 0.5, rel=1e-4) and "sigma" not in d  # κ = 40/0.5 planted in F32: u32 storage rounding moves κ by ≲ κ·u32·√p ≈ 1e-4·κ
    assert d["alpha"] is None and d["alpha_quality"] == "partial_spectrum"  # no tail fit on the top 8
    exact = analyze_array(tmp_path, big, svd_ranks=(4, 0.5)).to_dict()
    assert exact["spectrum_exact"] is True and exact["svd_route"] == "gesdd"
    bound, bound_exact = tolerances(d), tolerances(exact)  # each run within its reported bounds (tests/bounds.py)
    for key in ("sigma_max", "sigma_min", "fro_norm", "stable_rank", "condition_number"):
        assert abs(d[key] - exact[key]) <= bound[key] + bound_exact[key], key


def test_fast_falls_back_to_exact_when_lanczos_does_not_converge(big, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import scipy.sparse.linalg

    def no_convergence(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise scipy.sparse.linalg.ArpackNoConvergence("no", np.empty(0), np.empty((0, 0)))

    monkeypatch.setattr(scipy.sparse.linalg, "eigsh", no_convergence)
    sp = compute_spectrum(big, F32, mode="fast")
    assert sp.complete and sp.route == "gesdd"


def test_gram_eigensolver_failure_falls_back_to_the_svd_of_w(tmp_path, rng, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """dsyev not converging on one matrix costs that matrix the Gram route, not the run."""
    import scipy.linalg

    from weightlens import AnalysisOptions, analyze
    from weightlens.testing import encode, write_safetensors

    real = scipy.linalg.eigvalsh

    def fails_on_90(a, *args, **kwargs):  # type: ignore[no-untyped-def]
        if a.shape == (90, 90):
            raise np.linalg.LinAlgError("the eigensolver did not converge")
        return real(a, *args, **kwargs)

    monkeypatch.setattr(scipy.linalg, "eigvalsh", fails_on_90)
    ws = {"bad": rng.standard_normal((150, 90)), "good": rng.standard_normal((100, 60))}
    path = write_safetensors(tmp_path / "m.safetensors", {k: encode(w, "BF16") for k, w in ws.items()})
    report = analyze(path, AnalysisOptions(passes=("spectrum", "rank")), jobs=1)
    bad, good = report["bad"], report["good"]
    assert (bad["svd_route"], bad["svd_dtype"]) == ("gesdd", "float64") and good["svd_route"] == "gram"
    x = stored(ws["bad"], "BF16")
    sp = compute_spectrum(x.astype(np.float32), BF16)
    assert sp.route == "gesdd" and sp.svd_error == 150 * EPS64 * sp.sigma_max
    np.testing.assert_allclose(sp.sigma, reference(x), rtol=0, atol=sp.svd_error)  # within its bound
    assert bad["numerical_rank"] == int(np.count_nonzero(reference(x) > bad["rank_tol"]))


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")


@pytest.mark.parametrize("dtype", ["BF16", "F32"])
def test_small_matrices_run_blas_on_one_thread(rng, monkeypatch, dtype: str) -> None:  # type: ignore[no-untyped-def]
    """Below MULTI_THREAD_WORK a spectrum runs BLAS on one thread; from it on, on what the process has."""
    from threadpoolctl import threadpool_limits

    import weightlens.linalg.blas
    from weightlens.linalg import routes

    seen: list[int] = []
    for name in ("gram_sigma", "gesdd_sigma"):
        real = getattr(routes, name)
        monkeypatch.setattr(routes, name, lambda *a, real=real: seen.append(_blas_threads()) or real(*a))
    x = stored(rng.standard_normal((60, 40)), dtype).astype(np.float32)
    u = BF16 if dtype == "BF16" else F32
    with threadpool_limits(limits=2, user_api="blas"):  # as on a 2-core machine (at most the cores OpenBLAS was built for)
        outside = _blas_threads()
        compute_spectrum(x, u)
        monkeypatch.setattr(weightlens.linalg.blas, "MULTI_THREAD_WORK", 60 * 40 * 40)
        compute_spectrum(x, u)
        assert _blas_threads() == outside
    assert seen == [1, outside]
