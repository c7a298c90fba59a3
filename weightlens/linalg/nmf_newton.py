"""Projected Gauss–Newton with Levenberg–Marquardt damping for min ½‖W − Fᵀ G‖F², G ≥ 0 (and F ≥ 0).

Both factors are held as k-row blocks, X1 = Fᵀ (k×m) and X2 = G (k×n), so the two play the same
role: f(X1, X2) = ½‖W − X1ᵀ X2‖F². A step moves both at once,

    (H + λ B) d = −∇ᴾ   on the free variables,   x ← max(0, x + d) on the constrained blocks,

with H = JᵀJ the Gauss–Newton matrix of the residual's Jacobian J(d1, d2) = d1ᵀ X2 + X1ᵀ d2, B its
block diagonal (Q1 = X2 X2ᵀ acting on d1, Q2 = X1 X1ᵀ on d2) and ∇ᴾ the projected gradient. A
variable is free unless it sits at 0 with a non-negative gradient, where descent would take it
below 0 (Bertsekas 1982, projected Newton); a step that projection would change too much is solved
again with the variables it takes below 0 held there (:func:`_step`). For λ → ∞ the step is a damped
alternating-least-squares step, for λ → 0 a Gauss–Newton step, which also moves along the
directions that couple F and G — the ones alternating methods (HALS, ANLS, multiplicative updates)
crawl along, and the reason they stall far from the answer on exact low-rank inputs. λ follows the
ratio ρ of actual to predicted decrease (Nielsen 1999).

Where many variables sit at their bounds the projected model can miss decrease an exact block
update finds, so the solver also makes block passes (:mod:`weightlens.linalg.nmf_hals`: X1 by least
squares when free or HALS, then X2 by HALS, each an exact minimization over its block): whenever a
Gauss–Newton step lowered f by less (relative) than the last pass did, and whenever the model
finds no step.

Cost
----
The linear system is solved by conjugate gradients preconditioned with B⁻¹ (block Jacobi: the
exact per-block Newton step). One CG iteration applies H + λB without forming anything m×n,

    H d = (Q1 d1 + (X2 d2ᵀ) X1,  (X1 d1ᵀ) X2 + Q2 d2),

3·(m+n)·k² multiply-adds. Each iteration multiplies W by a k-row block twice (X2 Wᵀ and X1 W:
O(mnk), BLAS-3); a rejected step costs one such product.

Accuracy
--------
The error of a step is never read from the expansion ‖W‖² − 2⟨X1 W, X2⟩ + ⟨Q2, Q1⟩, which cancels
to sqrt(eps) of the compute dtype (3e-4 relative in float32). With R = W − X1ᵀX2,
D = X1₊ᵀX2₊ − X1ᵀX2 and the step δ = x₊ − x actually taken (after clipping),

    f₊ − f = −⟨X2₊ Wᵀ − (X2₊ X2ᵀ) X1, δ1⟩ + ⟨∇2, δ2⟩ + ½‖D‖²,
    ‖D‖² = ⟨δ1 δ1ᵀ, X2₊ X2₊ᵀ⟩ + 2⟨X1 δ1ᵀ, δ2 X2₊ᵀ⟩ + ⟨Q2, δ2 δ2ᵀ⟩,

exactly; X2₊ Wᵀ is the next iteration's product anyway. Each term is of the size of the change,
and its rounding is at most about ε_N·‖W‖F·(‖X2₊‖F‖δ1‖F + ‖X1‖F‖δ2‖F), ε_N = √max(m,n)·eps (the
products with W, probabilistic rounding: Higham & Mary 2019). A step is kept when f₊ − f is below
minus that bound; when |f₊ − f| is within it, both errors are evaluated from the residuals in
float64 (:func:`residual_sq`) and the step kept if they say so. f starts from the residual and
is re-read from it once the summed rounding bounds of the tracked changes reach ANCHOR·f.

Stopping rule
-------------
The relative KKT residual (:func:`kkt_residual`)

    κ = sqrt(‖∇ᴾ1‖F²/‖Q1‖2 + ‖∇ᴾ2‖F²/‖Q2‖2) / ‖W‖F

is 0 exactly at a KKT point (x ≥ 0, ∇ ≥ 0 where x = 0, ∇ = 0 where x > 0) and invariant under
W → cW and (X1, X2) → (c X1, X2/c); κ² is, to first order, the decrease of e² = ‖R‖F²/‖W‖F² one
projected-gradient step of length 1/‖Q‖2 per block would bring. That first-order measure cannot
stop the solver by itself: along the coupled directions a gradient step gains almost nothing
while a Gauss–Newton step still gains a lot. So the solver stops ("converged") when

* e = 0, or κ ≤ k·eps of the compute dtype: the gradient's rounding is about eps·‖X‖F‖W‖F
  (each entry a product of length max(m, n), probabilistic rounding: Higham & Mary 2019), which
  is ≤ √k·eps·‖X‖2‖W‖F in κ's units — below that κ is rounding; or
* the model finds nothing worth a step — the decrease it predicts for the next one,
  −⟨∇ᴾ, d⟩ − ½⟨d, H d⟩ (the projected gradient measured in the inverse of the damped Gauss–Newton
  matrix, which sees the coupled directions), would lower e by less than tol/HORIZON (relative),
  at λ ≤ LAMBDA_TRUST since a strongly damped step predicts little because it is short; or no step
  it proposes lowers the residual at working precision — and HORIZON block passes made since then
  lowered e by less than tol (relative) in all.

Otherwise it stops after ``max_iter`` iterations (not converged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from weightlens.linalg.elementwise import CHUNK
from weightlens.linalg.nmf_hals import hals_sweeps, max_sweeps

CG_MIN_ITER = 10
CG_MAX_ITER = 40
"""Conjugate-gradient iterations per step: at most m·n/(k·(m+n)), which keeps their cost
(4·(m+n)·k² each, operator and preconditioner) within twice that of the two products with W
(2·m·n·k), clipped to [CG_MIN_ITER, CG_MAX_ITER]. Exact low-rank inputs need about 20 per step
to move along the coupled directions; fewer than 10 stall them (bench/nmf_bench.py)."""

CG_FORCING = 0.1
"""CG stops once its preconditioned residual norm fell by this factor (an inexact Newton step:
Dembo, Eisenstat & Steihaug 1982); the LM acceptance test makes any descent direction safe."""

ANCHOR = 1e-2
"""f is re-read from the residual once the summed rounding bounds of its tracked changes exceed
this fraction of f (module notes)."""

BOUND_ROUNDS = 2
KEEP_PROJECTED = 0.5
"""A step whose projection keeps at least KEEP_PROJECTED of the decrease the model predicted for it
is taken as it is; otherwise it is solved again with the variables it takes below 0 held at 0, at
most BOUND_ROUNDS times."""

HORIZON = 10
"""Converged: the model predicts the error to fall by less than tol (relative) over this many
steps at the rate of the next one."""

LAMBDA_TRUST = 1e-2
"""The stopping test on the predicted decrease is made with λ at most this (the step is solved
again at this λ when the current one is larger): a strongly damped step predicts little because
it is short, not because the iterate is near a KKT point."""

LAMBDA_START = 1.0
LAMBDA_MIN = 1e-12
LAMBDA_MAX = 1e12
"""Levenberg–Marquardt damping, relative to the block diagonal B. A step rejected at LAMBDA_MAX
means no step the model proposes lowers the error at working precision: block passes take over."""


def dot64(a: np.ndarray, b: np.ndarray) -> float:
    """⟨a, b⟩ = Σ a_ij b_ij accumulated in float64."""
    return float(np.einsum("ij,ij->", a, b, dtype=np.float64))


def residual_sq(w: np.ndarray, ft: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    """(‖W − F G‖F², ‖W‖F²) in float64 from the residual, one block of about 8 MB of rows at a time.

    Costs one O(mnk) product; never holds more than a block of F G.
    """
    ft = ft.astype(np.float64)
    g = g.astype(np.float64)
    rows = max(1, CHUNK // w.shape[1])
    res_sq = w_sq = 0.0
    for start in range(0, w.shape[0], rows):
        block = w[start : start + rows].astype(np.float64)
        w_sq += dot64(block, block)
        block -= ft[:, start : start + rows].T @ g
        res_sq += dot64(block, block)
    return res_sq, w_sq


def _norm(a: np.ndarray) -> float:
    """‖a‖F, accumulated in float64."""
    return math.sqrt(dot64(a, a))


def _norm2_psd(q: np.ndarray) -> float:
    """Largest eigenvalue of a symmetric positive semi-definite k×k matrix (its spectral norm)."""
    return float(scipy.linalg.eigvalsh(q.astype(np.float64), subset_by_index=[q.shape[0] - 1, q.shape[0] - 1], check_finite=False)[0])


def kkt_residual(x1: np.ndarray, x2: np.ndarray, g1: np.ndarray, g2: np.ndarray, q1: np.ndarray, q2: np.ndarray, w_sq: float, nonneg1: bool) -> float:
    """κ = sqrt(‖∇ᴾ1‖F²/‖Q1‖2 + ‖∇ᴾ2‖F²/‖Q2‖2) / ‖W‖F (module notes); X2 ≥ 0, X1 ≥ 0 when ``nonneg1``.

    The projected gradient is ∇ where x > 0 or ∇ < 0, and 0 where x = 0 and ∇ ≥ 0; an unconstrained
    block's is its gradient. A block whose Q is 0 (a zero factor) contributes 0.
    """
    total = 0.0
    for x, g, q, constrained in ((x1, g1, q1, nonneg1), (x2, g2, q2, True)):
        pg = np.where((x > 0) | (g < 0), g, 0) if constrained else g
        lip = _norm2_psd(q)
        if lip > 0:
            total += dot64(pg, pg) / lip
    return math.sqrt(total / w_sq) if w_sq > 0 else 0.0


def factor_kkt(w: np.ndarray, x1: np.ndarray, x2: np.ndarray, *, nonneg1: bool) -> float:
    """κ of the factorization W ≈ X1ᵀ X2 (:func:`kkt_residual`), with every product in float64:
    for factors from anywhere (another library's, a test's planted ones)."""
    w, x1, x2 = (np.asarray(a, dtype=np.float64) for a in (w, x1, x2))
    q1, q2 = x2 @ x2.T, x1 @ x1.T
    g1, g2 = q1 @ x1 - x2 @ w.T, q2 @ x2 - x1 @ w
    return kkt_residual(x1, x2, g1, g2, q1, q2, dot64(w, w), nonneg1)


def _balance(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Powers of two s_j with ‖s_j X1_j‖ ≈ ‖X2_j / s_j‖ per component j (1 for a zero component).

    Scaling row j of X1 by s_j and of X2 by 1/s_j leaves X1ᵀX2 unchanged, exactly: a power of two
    only shifts exponents. It keeps the damping B and the KKT residual independent of how the
    scale of each component happens to be split."""
    n1 = np.sqrt(np.einsum("ij,ij->i", x1, x1, dtype=np.float64))
    n2 = np.sqrt(np.einsum("ij,ij->i", x2, x2, dtype=np.float64))
    live = (n1 > 0) & (n2 > 0)
    ratio = np.where(live, n2, 1.0) / np.where(live, n1, 1.0)
    return np.ldexp(1.0, np.rint(np.log2(ratio) / 2).astype(np.int64))


@dataclass
class _State:
    """The iterate and the products a step needs: A1 = X2 Wᵀ, A2 = X1 W, Q1 = X2 X2ᵀ, Q2 = X1 X1ᵀ."""

    x1: np.ndarray
    x2: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    q1: np.ndarray
    q2: np.ndarray

    def rescale(self, s: np.ndarray) -> None:
        """X1 ← S X1, X2 ← S⁻¹ X2 (S = diag(s), powers of two), and the products with them, exactly."""
        c = s.astype(self.x1.dtype)[:, None]
        self.x1 *= c
        self.a2 *= c
        self.x2 /= c
        self.a1 /= c
        self.q1 /= c * c.T
        self.q2 *= c * c.T


@dataclass(frozen=True)
class Solution:
    """What :func:`solve` reached: the factors, the relative error after each iteration (index 0:
    the start), the KKT residual at the returned factors, and whether the stopping rule was met."""

    x1: np.ndarray
    x2: np.ndarray
    history: list[float]
    kkt: float
    converged: bool


def _apply(st: _State, lam: float, d1: np.ndarray, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H + λB) d = ((1+λ) Q1 d1 + (X2 d2ᵀ) X1, (X1 d1ᵀ) X2 + (1+λ) Q2 d2), all variables."""
    h1 = (1 + lam) * (st.q1 @ d1) + (st.x2 @ d2.T) @ st.x1
    h2 = (st.x1 @ d1.T) @ st.x2 + (1 + lam) * (st.q2 @ d2)
    return h1, h2


def _step(st: _State, g1: np.ndarray, g2: np.ndarray, m1: np.ndarray | None, m2: np.ndarray, p1: np.ndarray, p2: np.ndarray, lam: float, cg_iters: int, nonneg1: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """The damped Gauss–Newton step on the free variables, projected on the bounds: the new point
    (Y1, Y2) and the decrease the model predicts for the step actually taken, Y − X.

    Projecting a step can make it a different one than the model solved for (a factor that
    compensated for a variable now held at 0). So the step is also solved again with the variables
    it takes below 0 moved to 0 exactly and held there, when projecting lost more than half the
    predicted decrease (KEEP_PROJECTED, BOUND_ROUNDS); of the projected steps the one with the
    largest predicted decrease is returned."""
    b1 = -g1 if m1 is None else -g1 * m1
    b2 = -g2 * m2
    d1, d2 = _pcg(st, b1, b2, m1, m2, p1, p2, lam, cg_iters)
    fixed1, fixed2 = np.zeros_like(d1), np.zeros_like(d2)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    unprojected = _model_decrease(st, g1, g2, d1, d2)
    for rounds in range(BOUND_ROUNDS + 1):
        y1 = np.maximum(st.x1 + d1, 0) if nonneg1 else st.x1 + d1
        y2 = np.maximum(st.x2 + d2, 0)
        predicted = _model_decrease(st, g1, g2, y1 - st.x1, y2 - st.x2)
        if best is None or predicted > best[2]:
            best = (y1, y2, predicted)
        if rounds == BOUND_ROUNDS or best[2] >= KEEP_PROJECTED * unprojected:
            break
        hit2 = m2 & (st.x2 + d2 < 0)
        hit1 = m1 & (st.x1 + d1 < 0) if nonneg1 and m1 is not None else None
        fixed2[hit2] = -st.x2[hit2]
        m2 = m2 & ~hit2
        if hit1 is not None and m1 is not None:
            fixed1[hit1] = -st.x1[hit1]
            m1 = m1 & ~hit1
        h1, h2 = _apply(st, lam, fixed1, fixed2)
        r1 = -(g1 + h1) if m1 is None else -(g1 + h1) * m1
        r2 = -(g2 + h2) * m2
        d1, d2 = _pcg(st, r1, r2, m1, m2, p1, p2, lam, cg_iters)
        d1 += fixed1
        d2 += fixed2
    assert best is not None  # the loop runs at least once
    return best


def _pcg(st: _State, b1: np.ndarray, b2: np.ndarray, m1: np.ndarray | None, m2: np.ndarray, p1: np.ndarray, p2: np.ndarray, lam: float, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Approximate solution of (H + λB) d = b on the free variables (masks m1, m2; m1 None: all free)
    by CG preconditioned with ((1+λ)B)⁻¹ ≈ (P1 r1, P2 r2)/(1+λ), P = Q⁺ (module notes)."""
    x1 = st.x1

    def masked(a: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        return a if mask is None else np.multiply(a, mask, out=a)

    def apply(d1: np.ndarray, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h1, h2 = _apply(st, lam, d1, d2)
        return masked(h1, m1), masked(h2, m2)


    def precondition(r1: np.ndarray, r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return masked((p1 @ r1) / (1 + lam), m1), masked((p2 @ r2) / (1 + lam), m2)

    d1, d2 = np.zeros_like(b1), np.zeros_like(b2)
    r1, r2 = b1.copy(), b2.copy()
    z1, z2 = precondition(r1, r2)
    s1, s2 = z1.copy(), z2.copy()
    rz = dot64(r1, z1) + dot64(r2, z2)
    stop = CG_FORCING**2 * rz
    for _ in range(max_iter):
        if rz <= stop or rz <= 0:
            break
        h1, h2 = apply(s1, s2)
        curvature = dot64(s1, h1) + dot64(s2, h2)
        if not curvature > 0:
            break
        alpha = x1.dtype.type(rz / curvature)
        d1 += alpha * s1
        d2 += alpha * s2
        r1 -= alpha * h1
        r2 -= alpha * h2
        z1, z2 = precondition(r1, r2)
        rz_next = dot64(r1, z1) + dot64(r2, z2)
        beta = x1.dtype.type(rz_next / rz)
        s1 = z1 + beta * s1
        s2 = z2 + beta * s2
        rz = rz_next
    return d1, d2


def step_change(st: _State, g2: np.ndarray, y1: np.ndarray, y2: np.ndarray, a1: np.ndarray, q1: np.ndarray) -> float:
    """f(Y1, Y2) − f(X1, X2) from the products at hand (module notes, "Accuracy"): with δ = Y − X,
    −⟨A1₊ − (Y2 X2ᵀ) X1, δ1⟩ + ⟨∇2, δ2⟩ + ½‖D‖², A1₊ = Y2 Wᵀ, Q1₊ = Y2 Y2ᵀ, ∇2 = Q2 X2 − X1 W."""
    e1, e2 = y1 - st.x1, y2 - st.x2
    cross = dot64(a1 - (y2 @ st.x2.T) @ st.x1, e1) - dot64(g2, e2)
    d_sq = dot64(e1 @ e1.T, q1) + 2 * dot64(st.x1 @ e1.T, e2 @ y2.T) + dot64(st.q2, e2 @ e2.T)
    return -cross + 0.5 * d_sq


def _model_decrease(st: _State, g1: np.ndarray, g2: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> float:
    """−(⟨∇, d⟩ + ½⟨d, H d⟩): the decrease the Gauss–Newton model predicts for the step d."""
    jd_sq = dot64(st.q1 @ d1, d1) + 2 * dot64(st.x1 @ d1.T, d2 @ st.x2.T) + dot64(st.q2 @ d2, d2)
    return -(dot64(g1, d1) + dot64(g2, d2) + 0.5 * jd_sq)


class _Run:
    """One solve: the state, the tracked f = ½‖R‖F² with its rounding, the history, λ."""

    def __init__(self, w: np.ndarray, x1: np.ndarray, x2: np.ndarray, f0: float, nonneg1: bool, tol: float) -> None:
        m, n = w.shape
        k = x1.shape[0]
        eps = float(np.finfo(w.dtype).eps)
        self.w, self.nonneg1 = w, nonneg1
        self.w_sq = dot64(w, w)
        self.w_norm = math.sqrt(self.w_sq)
        self.floor = k * eps
        self.step_error = eps * math.sqrt(max(m, n))
        self.cg_iters = min(CG_MAX_ITER, max(CG_MIN_ITER, m * n // (k * (m + n))))
        self.sweeps1, self.sweeps2 = max_sweeps(m, n, k), max_sweeps(n, m, k)
        self.enough = 1 - (1 - tol / HORIZON) ** 2  # f falling by this fraction per step: e by tol in HORIZON steps
        self.st = _State(x1, x2, x2 @ w.T, x1 @ w, x2 @ x2.T, x1 @ x1.T)
        self.st.rescale(_balance(x1, x2))
        self.f, self.drift = f0, 0.0
        self.history = [math.sqrt(2 * f0 / self.w_sq)]
        self.lam, self.nu = LAMBDA_START, 2.0

    def gradient(self) -> tuple[np.ndarray, np.ndarray, float]:
        """∇1, ∇2 at the current point and its KKT residual κ."""
        st = self.st
        g1 = st.q1 @ st.x1 - st.a1
        g2 = st.q2 @ st.x2 - st.a2
        return g1, g2, kkt_residual(st.x1, st.x2, g1, g2, st.q1, st.q2, self.w_sq, self.nonneg1)

    def rounding(self, *pairs: tuple[np.ndarray, np.ndarray]) -> float:
        """Rounding bound ε_N·‖W‖F·Σ ‖X‖F‖δ‖F of a tracked change, for each (other factor X, step δ)."""
        return self.step_error * self.w_norm * sum(_norm(x) * _norm(e) for x, e in pairs)

    def exact_f(self) -> None:
        """Re-read f from the residual if its tracked changes carry rounding."""
        if self.drift > 0:
            self.f, self.drift = 0.5 * residual_sq(self.w, self.st.x1, self.st.x2)[0], 0.0

    def moved(self, change: float, noise: float) -> None:
        """f changed by ``change`` (rounding bound ``noise``); rebalance; one more history entry."""
        self.st.rescale(_balance(self.st.x1, self.st.x2))
        self.f = max(self.f + change, 0.0)
        self.drift += noise
        if self.drift > ANCHOR * self.f:
            self.exact_f()
        self.history.append(math.sqrt(2 * self.f / self.w_sq))

    def block_pass(self) -> float:
        """X1 exactly given X2 (least squares when free, HALS when ≥ 0), then X2 by HALS given X1:
        two products with W; returns the decrease of f."""
        st, w, before = self.st, self.w, self.f
        g1 = st.q1 @ st.x1 - st.a1
        if self.nonneg1:
            y1 = st.x1.copy()
            hals_sweeps(y1, st.a1, st.q1, self.sweeps1)
        else:
            y1 = (scipy.linalg.pinvh(st.q1, check_finite=False) @ st.a1).astype(w.dtype, copy=False)
        e1 = y1 - st.x1
        change = dot64(g1, e1) + 0.5 * dot64(st.q1 @ e1, e1)
        noise = self.rounding((st.x2, e1))
        st.x1, st.a2, st.q2 = y1, y1 @ w, y1 @ y1.T
        y2 = st.x2.copy()
        hals_sweeps(y2, st.a2, st.q2, self.sweeps2)
        e2 = y2 - st.x2
        change += dot64(st.q2 @ st.x2 - st.a2, e2) + 0.5 * dot64(st.q2 @ e2, e2)
        noise += self.rounding((y1, e2))
        st.x2, st.a1, st.q1 = y2, y2 @ w.T, y2 @ y2.T
        self.moved(change, noise)
        return before - self.f

    def newton(self, g1: np.ndarray, g2: np.ndarray, m1: np.ndarray | None, m2: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> str:
        """Try one damped Gauss–Newton step: "taken", "rejected" (λ raised), "small" (the model, at
        λ ≤ LAMBDA_TRUST, predicts less than tol/HORIZON) or "stuck" (no step to find at λ = LAMBDA_MAX,
        or none the residuals can tell from rounding)."""
        st, w, f = self.st, self.w, self.f
        y1, y2, predicted = _step(st, g1, g2, m1, m2, p1, p2, self.lam, self.cg_iters, self.nonneg1)
        if 0 < predicted <= self.enough * f:
            trusted = predicted if self.lam <= LAMBDA_TRUST else _step(st, g1, g2, m1, m2, p1, p2, LAMBDA_TRUST, self.cg_iters, self.nonneg1)[2]
            if trusted <= self.enough * f:
                return "small"
        if predicted > 0:
            a1, q1 = y2 @ w.T, y2 @ y2.T
            change = step_change(st, g2, y1, y2, a1, q1)
            noise = rounding = self.rounding((y2, y1 - st.x1), (st.x1, y2 - st.x2))
            if -rounding <= change <= rounding:  # within rounding of the tracked change: ask the residuals (float64)
                self.exact_f()
                change, noise = 0.5 * residual_sq(w, y1, y2)[0] - self.f, 0.0
                if change >= 0 and predicted <= rounding:
                    return "stuck"
            if change < -noise:
                rho = -change / predicted
                self.lam, self.nu = max(LAMBDA_MIN, self.lam * max(1 / 3, 1 - (2 * rho - 1) ** 3)), 2.0
                st.x1, st.x2, st.a1, st.q1 = y1, y2, a1, q1
                st.a2, st.q2 = y1 @ w, y1 @ y1.T
                self.moved(change, noise)
                return "taken"
            self.history.append(math.sqrt(2 * self.f / self.w_sq))  # a product spent on a rejected step
        if self.lam >= LAMBDA_MAX:
            return "stuck"
        self.lam, self.nu = min(LAMBDA_MAX, self.lam * self.nu), 2 * self.nu
        return "rejected"


def solve(w: np.ndarray, x1: np.ndarray, x2: np.ndarray, f0: float, *, nonneg1: bool, tol: float, max_iter: int) -> Solution:
    """Minimize ½‖W − X1ᵀ X2‖F² over X2 ≥ 0 and X1 (≥ 0 when ``nonneg1``) from (X1, X2), which are
    updated in place and returned.

    Parameters
    ----------
    w : (m, n) matrix in the compute dtype.
    x1, x2 : (k, m) and (k, n) start, feasible, C-contiguous, in the dtype of W.
    f0 : ½‖W − X1ᵀ X2‖F² at the start, from the residual (float64).
    nonneg1 : X1 is constrained to be ≥ 0 (classic NMF) or free (semi-NMF).
    tol : converged once neither the model nor a block pass lowers e by tol/HORIZON (relative)
        (module notes).
    max_iter : iterations at most; an iteration is a step evaluated against W (kept only if it
        lowers the error) or a block pass.

    Returns
    -------
    Solution. No kept step raises the error, so the history does not increase, except where f is
    re-read from the residual: by at most ANCHOR·f, the rounding bound of the tracked changes.
    """
    run = _Run(w, x1, x2, f0, nonneg1, tol)
    st = run.st
    block_rate = math.inf  # relative decrease of f by the last block pass: a Gauss–Newton step gaining less is followed by one
    streak: list[float] = []  # e before and after each block pass since the model last found a step
    while True:
        g1, g2, kkt = run.gradient()
        if run.f == 0.0 or kkt <= run.floor:
            return Solution(st.x1, st.x2, run.history, kkt, True)
        m1 = ((st.x1 > 0) | (g1 < 0)) if nonneg1 else None
        m2 = (st.x2 > 0) | (g2 < 0)
        p1 = scipy.linalg.pinvh(st.q1, check_finite=False).astype(w.dtype, copy=False)
        p2 = scipy.linalg.pinvh(st.q2, check_finite=False).astype(w.dtype, copy=False)
        outcome = "rejected"
        before = run.f
        while outcome == "rejected":
            if len(run.history) > max_iter:
                return Solution(st.x1, st.x2, run.history, kkt, False)
            outcome = run.newton(g1, g2, m1, m2, p1, p2)
        if outcome == "taken":
            streak.clear()
            if before - run.f >= block_rate * before:
                continue
        elif not streak:
            streak.append(run.history[-1])
        if len(run.history) > max_iter:
            return Solution(st.x1, st.x2, run.history, run.gradient()[2], False)
        before = run.f
        block_rate = run.block_pass() / before
        if outcome == "taken":
            continue
        if outcome == "stuck":
            run.lam, run.nu = LAMBDA_START, 2.0
        streak.append(run.history[-1])
        if len(streak) > HORIZON and streak[-1 - HORIZON] - streak[-1] <= tol * streak[-1 - HORIZON]:
            return Solution(st.x1, st.x2, run.history, run.gradient()[2], True)
