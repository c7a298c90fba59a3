"""Comparing two weightlens runs of the same input within the error bounds the records report.

Two runs (``-j 1`` and ``-j 2``, a process pool and Dask, another BLAS thread count) compute the
same values with different rounding: BLAS sums in another order with another thread count. Each
run's value lies within its own bound of the exact one, so two runs may differ by the sum of
their bounds — never by a fixed number of digits.

:func:`tolerances` gives, for one record, the absolute bound of every float field, propagated
from what the record reports (``sigma_error``, ``sigma_min_error``, ``rank_tol``) and from the
float64 accumulation bound γ_N = N·eps64 of the elementwise sums (Higham, *Accuracy and
Stability of Numerical Algorithms*, §4.2). A float field without a bound here fails the
comparison: a new field must say how far two runs may disagree on it.
"""

from __future__ import annotations

import math
from typing import Any

EPS64 = 2.0**-52

EXACT = {"max_abs", "near_zero_tau", "zero_fraction", "near_zero_fraction", "dead_rows", "dead_cols", "nm_2_4_fraction", "rank_ratio"}
"""Float fields every run computes exactly: a maximum, an option echoed, ratios of counts (the
count of near_zero_fraction changes only for an element within γ_N·τ·rms of its threshold τ·rms;
rank_ratio's only with numerical_rank, compared itself)."""


def _gamma(n: int) -> float:
    """γ_n = n·eps64/(1 − n·eps64): relative error bound of a float64 sum of n nonnegative terms."""
    return n * EPS64 / (1 - n * EPS64)


def _rel(err: float, value: float) -> float:
    """Relative error bound of a quotient's factor: err/(value − err) (infinite when err ≥ value)."""
    return err / (value - err) if value > err else math.inf


def effective_rank_bound(erank: float, rank: int, e: float, fro: float, tol: float) -> float:
    """|Δ erank| when every σi moves by ≤ e: erank·(exp(|dH|) − 1), |dH| ≤ (2·r·e/‖W‖F)·ln(√r·‖W‖F/tol)."""
    log_ratio = math.log(max(math.sqrt(rank) * fro / tol, 1.0)) if tol > 0 else math.inf
    return erank * math.expm1(2 * rank * e / fro * log_ratio)


def _spectral(d: dict[str, Any]) -> dict[str, Any]:
    """Bounds of the fields that follow from the singular values (spectrum, rank, condition passes).

    With e = sigma_error (every σi), e_p = sigma_min_error, p = min(m, n), r = numerical_rank:
    ‖σ̂ − σ‖2 ≤ √p·e bounds ‖W‖F and the tail norms of svd_rel_error; quotients add their
    factors' relative bounds (first order); effective_rank = exp(H(q)), q_i = σi/S, S = Σ_{i≤r}σi,
    moves by |dH| ≤ Σ|dq_i|·|ln q_i| ≤ (2·r·e/S)·ln(S/σr) with S ≥ ‖W‖F, S/σr ≤ √r·‖W‖F/rank_tol.
    """
    out: dict[str, Any] = {}
    if d.get("sigma_error") is None:
        return out
    e, e_p = d["sigma_error"], d["sigma_min_error"]
    m, n = d["matrix_shape"]
    p = min(m, n)
    s1, sp = d["sigma_max"], d["sigma_min"]
    fro = d["fro_norm"]
    fro_err = (math.sqrt(p) * e if d["spectrum_exact"] else 0.0) + _gamma(m * n) * fro  # lanczos: ‖W‖F from the entries
    out.update(sigma_max=e, sigma_min=e_p, fro_norm=fro_err)
    if d["spectrum_exact"]:  # a priori: ∝ σ̂1 (gesdd) or from ‖W‖F (gram; its σp bound δ/σ̂p also follows σ̂p)
        out["sigma_error"] = e * (_rel(e, s1) + _gamma(m * n))
        out["sigma_min_error"] = e_p * (_rel(e, s1) + _rel(e_p, sp) + _gamma(m * n))
    else:  # lanczos: a posteriori, from residuals near the rounding level; only their size is reproducible
        out["sigma_error"], out["sigma_min_error"] = e, e_p
    out["top_sigma"] = [e] * len(d["top_sigma"])
    if "sigma" in d:
        out["sigma"] = [e] * (len(d["sigma"]) - 1) + [e_p]
    out["svd_rel_error"] = [
        None if x["rel_error"] is None else (math.sqrt(p - x["rank"]) * e + x["rel_error"] * fro_err) / (fro - fro_err) if fro > fro_err else math.inf
        for x in d["svd_rel_error"]
    ]
    # rank_tol = max(storage noise: elementwise sums, resolution: max(m,n)·eps·σ1 or √(eps64(m+n))·‖W‖F)
    if "rank_tol" in d:
        out["rank_tol"] = d["rank_tol"] * (e / s1 + fro_err / fro + _gamma(m * n)) if s1 > 0 else 0.0
        if d.get("stable_rank") is not None:
            out["stable_rank"] = d["stable_rank"] * (2 * _rel(fro_err, fro) + 2 * _rel(e, s1))
        r = d.get("numerical_rank")
        if d.get("effective_rank") is not None and r:
            out["effective_rank"] = effective_rank_bound(d["effective_rank"], r, e, fro, d["rank_tol"])
    if d.get("condition_number") is not None:
        out["condition_number"] = d["condition_number"] * (_rel(e, s1) + _rel(e_p, sp))
    if d.get("condition_number_on_rank") is not None:
        kr = d["condition_number_on_rank"]
        er = max(e, e_p)
        out["condition_number_on_rank"] = kr * (_rel(e, s1) + _rel(er, s1 / kr))
    return out


def tolerances(d: dict[str, Any]) -> dict[str, Any]:
    """The absolute bound of every float field of a record (its JSON form), or of each list element.

    Elementwise sums (rms, Hoyer's ‖w‖1/‖w‖2) are float64 sums of N terms, within γ_N relative.
    """
    out: dict[str, Any] = {k: 0.0 for k in EXACT}
    big_n = d.get("parameters") or 1
    if d.get("rms") is not None:
        out["rms"] = d["rms"] * _gamma(big_n)
    if d.get("hoyer") is not None:
        root_n = math.sqrt(big_n)
        ratio = root_n - d["hoyer"] * (root_n - 1)  # ‖w‖1/‖w‖2, each within γ_N
        out["hoyer"] = 2 * _gamma(big_n) * ratio / (root_n - 1)
    out.update(_spectral(d))
    return out


def _is_float(v: Any) -> bool:
    return isinstance(v, float) or (isinstance(v, list) and any(isinstance(x, float) for x in v))


def _floats(v: Any) -> list[float | None]:
    """A float field as a list: svd_rel_error's [{rank, rel_error}] by its rel_error values."""
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return [x["rel_error"] for x in v]
    return v if isinstance(v, list) else [v]


def differences(x: dict[str, Any], y: dict[str, Any]) -> list[str]:
    """What differs between two records of the same tensor beyond their combined bounds (empty: the same).

    Everything that is not a float (names, counts, ranks, routes, flags) must be equal.
    """
    problems = []
    if x.keys() != y.keys():
        return [f"{x.get('name')}: fields {sorted(x.keys() ^ y.keys())}"]
    tx, ty = tolerances(x), tolerances(y)
    for k in x:
        vx, vy = x[k], y[k]
        if k == "svd_rel_error":
            if [e["rank"] for e in vx] != [e["rank"] for e in vy]:
                problems.append(f"{x['name']}.{k}: ranks")
        elif not (_is_float(vx) or _is_float(vy)):
            if vx != vy:
                problems.append(f"{x['name']}.{k}: {vx!r} != {vy!r}")
            continue
        if k not in tx or k not in ty:
            problems.append(f"{x['name']}.{k}: no error bound for this float field")
            continue
        fx, fy = _floats(vx), _floats(vy)
        bx = tx[k] if isinstance(tx[k], list) else [tx[k]] * len(fx)
        by = ty[k] if isinstance(ty[k], list) else [ty[k]] * len(fy)
        if len(fx) != len(fy):
            problems.append(f"{x['name']}.{k}: lengths {len(fx)} != {len(fy)}")
            continue
        for i, (a, b, ea, eb) in enumerate(zip(fx, fy, bx, by)):
            if (a is None) != (b is None) or (a is not None and not abs(a - b) <= ea + eb):
                problems.append(f"{x['name']}.{k}[{i}]: {a!r} vs {b!r}, bound {ea} + {eb}")
    return problems


def assert_same_report(a: Any, b: Any) -> None:
    """Two reports (or lists of records) of the same input: same records, in the same order,
    every float within the sum of the two records' bounds."""
    ra, rb = [r.to_dict() for r in a], [r.to_dict() for r in b]
    assert [r["name"] for r in ra] == [r["name"] for r in rb]
    problems = [p for x, y in zip(ra, rb) for p in differences(x, y)]
    assert not problems, problems


EPS32 = 2.0**-23


def diff_tolerances(d: dict[str, Any]) -> dict[str, float]:
    """Bounds of the float fields of a diff record that two runs are compared on.

    A diff record reports no σ bound of its own. ΔW's ``delta_rank_tol`` = max(noise, the route's
    resolution) bounds the error of ``delta_sigma_max``; σ1 of W_base and W_tuned gets the loosest
    documented exact-route bound for the shape, max(max(m,n)·eps32, √(eps64·(m+n)·p))·σ1 (float32
    gesdd; gram's √δ with ‖W‖F ≤ √p·σ1); ``rel_change`` is a quotient of two float64 sums of N terms.
    """
    m, n = d["matrix_shape"] or (1, 1)  # σ fields only exist for matrices
    big_n = math.prod(d["base_shape"] or d["tuned_shape"] or ())
    route = max(max(m, n) * EPS32, math.sqrt(EPS64 * (m + n) * min(m, n)))
    out: dict[str, float] = {}
    if d.get("rel_change") is not None:
        out["rel_change"] = 2 * _gamma(big_n) * d["rel_change"]
    if d.get("delta_sigma_max") is not None:
        out["delta_sigma_max"] = d["delta_rank_tol"]
    for side in ("base", "tuned"):
        if d.get(f"sigma_max_{side}") is not None:
            out[f"sigma_max_{side}"] = route * d[f"sigma_max_{side}"]
    return out
