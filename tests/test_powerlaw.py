"""The Clauset–Shalizi–Newman fitter, against known laws, scipy's KS test and a brute-force scan."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from weightlens.linalg.powerlaw import KS_CRITICAL, MIN_POINTS, MIN_TAIL_GOOD, fit_power_law, fit_quality
from weightlens.testing import power_law_sample


def brute_force(x: np.ndarray) -> tuple[float, float, float]:
    """(alpha, xmin, D) by the textbook loop: MLE per distinct candidate, D from scipy.stats.kstest."""
    x = np.sort(x)
    best = (math.inf, math.nan, math.nan)
    for xmin in np.unique(x)[:-1]:
        tail = x[x >= xmin]
        alpha = 1 + tail.size / np.sum(np.log(tail / xmin))
        d = scipy.stats.kstest(tail, scipy.stats.pareto(b=alpha - 1, scale=xmin).cdf).statistic
        if d < best[0]:
            best = (d, alpha, xmin)
    return best[1], best[2], best[0]


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0, 4.5, 6.0])
def test_pareto_exponent_is_recovered(alpha: float) -> None:
    """Stratified draws (sample CDF within 1/n of the law): α within 0.1 from 2000 values."""
    x = power_law_sample(np.random.default_rng(7), 2000, alpha, xmin=0.3)
    fit = fit_power_law(x)
    assert fit is not None
    assert abs(fit.alpha - alpha) < 0.1
    assert fit.quality == "good" and fit.n == x.size


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0, 4.5, 6.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_iid_pareto_exponent_is_within_its_standard_error(alpha: float, seed: int) -> None:
    x = power_law_sample(np.random.default_rng(seed), 4000, alpha, xmin=0.3, stratified=False)
    fit = fit_power_law(x)
    assert fit is not None
    assert fit.stderr == pytest.approx((fit.alpha - 1) / math.sqrt(fit.n_tail))  # the same formula: rounding only
    assert abs(fit.alpha - alpha) < 4 * fit.stderr
    assert fit.quality == "good"


@pytest.mark.parametrize("alpha", [2.0, 3.0, 4.5])
def test_tail_above_a_different_body_is_found(rng, alpha: float) -> None:  # type: ignore[no-untyped-def]
    """300 values log-uniform in [0.01, 1) (density ∝ 1/x) below a power-law tail of 400 from x = 1."""
    body = np.exp(rng.uniform(math.log(0.01), 0.0, 300))
    tail = power_law_sample(rng, 400, alpha)
    fit = fit_power_law(np.concatenate([body, tail]))
    assert fit is not None
    assert abs(fit.alpha - alpha) < 0.1
    assert 0.9 <= fit.xmin <= 1.2 and 360 <= fit.n_tail <= 400


def test_ks_distance_is_scipys_on_the_chosen_tail(rng) -> None:  # type: ignore[no-untyped-def]
    x = np.concatenate([rng.uniform(0.1, 1.0, 200), power_law_sample(rng, 300, 2.5, stratified=False)])
    fit = fit_power_law(x)
    assert fit is not None
    tail = x[x >= fit.xmin]
    assert tail.size == fit.n_tail
    assert fit.alpha == pytest.approx(1 + tail.size / np.sum(np.log(tail / fit.xmin)), rel=1e-12)  # closed-form MLE recomputed in float64: ≈ n·eps64
    reference = scipy.stats.kstest(tail, scipy.stats.pareto(b=fit.alpha - 1, scale=fit.xmin).cdf).statistic
    assert fit.ks_distance == pytest.approx(reference, abs=1e-12)  # KS distance recomputed in float64 on the same sample: ≈ eps64


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 7.0, 11.0, 20.0, 45.0]), min_size=MIN_POINTS, max_size=40), st.integers(0, 2**31))
def test_matches_brute_force_scan_with_ties(values: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.array(values) * rng.uniform(0.5, 2.0)
    fit = fit_power_law(x)
    if np.unique(x).size < 2:
        assert fit is None
        return
    assert fit is not None
    alpha, xmin, d = brute_force(x)
    assert fit.ks_distance == pytest.approx(d, abs=1e-12)  # as above
    # Candidates with equal D (to rounding) may be chosen either way; compare the fits they give.
    if fit.xmin != xmin:
        tail = x[x >= fit.xmin]
        d_ours = scipy.stats.kstest(tail, scipy.stats.pareto(b=fit.alpha - 1, scale=fit.xmin).cdf).statistic
        assert d_ours == pytest.approx(d, abs=1e-12)  # as above
    else:
        assert fit.alpha == pytest.approx(alpha, rel=1e-12)  # as above (MLE)


def test_scale_invariance(rng) -> None:  # type: ignore[no-untyped-def]
    x = power_law_sample(rng, 500, 3.0)
    a, b = fit_power_law(x), fit_power_law(1e-6 * x)
    assert a is not None and b is not None
    assert b.alpha == pytest.approx(a.alpha, rel=1e-10)  # scale invariance: λ·1e-6 is not exact in binary, rounding ≈ eps64 per value moves α by ≈ n·eps64
    assert b.xmin == pytest.approx(1e-6 * a.xmin, rel=1e-12)  # as above
    assert b.n_tail == a.n_tail


def test_invalid_values_are_ignored_and_small_samples_not_fitted(rng) -> None:  # type: ignore[no-untyped-def]
    x = power_law_sample(rng, 200, 2.5)
    noisy = np.concatenate([x, [0.0, -1.0, np.nan, np.inf, -np.inf]])
    assert fit_power_law(noisy) == fit_power_law(x)
    assert fit_power_law(x[: MIN_POINTS - 1]) is None
    assert fit_power_law(np.full(100, 2.0)) is None
    assert fit_power_law(np.zeros(100)) is None
    assert fit_power_law(x[:MIN_POINTS]) is not None


def test_quality_thresholds() -> None:
    n = MIN_TAIL_GOOD
    assert fit_quality(n, KS_CRITICAL / math.sqrt(n) * 0.99) == "good"
    assert fit_quality(n, KS_CRITICAL / math.sqrt(n) * 1.01) == "poor_fit"
    assert fit_quality(n - 1, 0.01) == "few_tail_points"
    assert fit_quality(10, 0.9) == "poor_fit"


def test_a_non_power_law_is_flagged(rng) -> None:  # type: ignore[no-untyped-def]
    """Uniform values have a bounded support: no power-law tail fits them."""
    fit = fit_power_law(rng.uniform(1.0, 2.0, 2000))
    assert fit is not None and fit.quality != "good"


def test_density_integrates_to_the_tail_fraction(rng) -> None:  # type: ignore[no-untyped-def]
    x = np.concatenate([rng.uniform(0.1, 1.0, 100), power_law_sample(rng, 300, 3.0)])
    fit = fit_power_law(x)
    assert fit is not None
    grid = np.geomspace(fit.xmin, fit.xmin * 1e6, 200_001)
    integral = scipy.integrate.trapezoid(fit.density(grid), grid)
    assert integral == pytest.approx(fit.n_tail / fit.n, rel=1e-3)  # numerical integral of the fitted density (quadrature accuracy), not rounding
    assert np.isnan(fit.density(np.array([fit.xmin / 2]))).all()
