"""LoRA updates ΔW = s·B·A analyzed exactly, without forming the m×n product.

With B = Q_B·R_B and Aᵀ = Q_A·R_A (thin QR; Q_B, Q_A have orthonormal columns),

    B·A = Q_B·(R_B·R_Aᵀ)·Q_Aᵀ,    so    σ(s·B·A) = |s|·σ(R_B·R_Aᵀ),

the singular values of an r×r core. That costs O((m+n)·r²) flops and O((m+n)·r) memory instead
of O(m·n·min(m,n)) and O(m·n), and its result is a :class:`~weightlens.linalg.spectrum.Spectrum` with
all p = min(m, n) values (the r computed, then p − r exact zeros), so the spectrum, rank and
condition passes read it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import scipy.linalg

from weightlens.checkpoint.peft import LoraPair
from weightlens.checkpoint.reader import read_tensor
from weightlens.errors import InputError
from weightlens.linalg.elementwise import element_stats, pow2_scale
from weightlens.linalg.spectrum import Spectrum, SpectrumOverflow, noise_from_norms, row_col_sq
from weightlens.passes import PASSES, Field, TensorContext
from weightlens.passes.options import AnalysisOptions
from weightlens.pipeline.analyze import NON_FINITE
from weightlens.report.records import TensorRecord

ROUTE = "lora-qr"
"""``svd_route`` of a spectrum computed from the LoRA factors."""

LORA_FIELDS: tuple[Field, ...] = (
    Field("lora_A", "string", "name of the lora_A tensor (r×n) of a LoRA record"),
    Field("lora_B", "string", "name of the lora_B tensor (m×r) of a LoRA record"),
    Field("lora_rank", "integer", "r: the rows of lora_A"),
    Field("lora_alpha", "number", "lora_alpha from adapter_config.json (rank/alpha patterns applied); null without a config", nullable=True),
    Field("lora_scale", "number", "s in ΔW = s·B·A: alpha/r, alpha/√r with rsLoRA, 1 without adapter_config.json"),
)
"""Identity fields of a LoRA record (kind "lora"), before the passes' fields."""


def _factor_noise(x: np.ndarray, u_store: float) -> float:
    """Spectral norm of the rounding noise of a stored factor (the formula of :class:`Spectrum`)."""
    rows, cols, scale = row_col_sq(x)
    return scale * noise_from_norms(math.sqrt(rows.max()), math.sqrt(cols.max()), u_store)


def lowrank_spectrum(b: np.ndarray, a: np.ndarray, scale: float, u_b: float, u_a: float, transpose: bool = False) -> Spectrum:
    """Singular values of ΔW = s·B·A (or its transpose) from the QR factors of B and Aᵀ.

    Parameters
    ----------
    b : B, m×r, finite.
    a : A, r×n, finite.
    scale : s.
    u_b, u_a : unit roundoff of the dtypes B and A were stored in.
    transpose : ΔW = s·(B·A)ᵀ (same singular values; only the reported shape changes).

    Returns
    -------
    Spectrum
        p = min(m, n) values, descending, route "lora-qr", computed in float64.

    Raises
    ------
    SpectrumOverflow
        When σ1(ΔW) is beyond float64 (factors near the F64 maximum).

    Notes
    -----
    σ(s·B·A) = |s|·σ(R_B·R_Aᵀ) with B = Q_B R_B, Aᵀ = Q_A R_A. B and A are divided by the
    powers of two ≥ their max |entry| first (exact), so nothing overflows.

    Tolerance. The product of the stored factors has rank ≤ r exactly, so rounding cannot
    add rank beyond r; what it blurs is the rank *within* r. Storing B and A adds errors
    E_B, E_A, and s·B·A moves by s·(E_B·A + B·E_A) to first order, of spectral norm at most
    |s|·(‖E_B‖₂‖A‖₂ + ‖B‖₂‖E_A‖₂). ‖E_X‖₂ is estimated by the storage noise of each factor
    (c·u·(max row norm + max column norm)/√3, as for any stored matrix), so

        storage_noise = |s|·(ν_B·‖A‖₂ + ‖B‖₂·ν_A).

    Householder QR and the core SVD are backward stable: their errors are a few ulps of
    |s|·‖B‖₂‖A‖₂ — of the factors' norms, not of σ1(ΔW), which is smaller when B's column
    space and A's row space are misaligned — hence svd_error = max(m, n)·eps·|s|·‖B‖₂‖A‖₂.
    tol = max(storage_noise, svd_error).
    """
    (m, r), (r2, n) = b.shape, a.shape
    if r != r2:
        raise ValueError(f"B is {m}×{r} and A is {r2}×{n}: they do not multiply")
    sb = pow2_scale(float(np.abs(b).max()))
    sa = pow2_scale(float(np.abs(a).max()))
    rb: np.ndarray = np.linalg.qr(b.astype(np.float64) / sb, mode="r")  # type: ignore[assignment]  # mode "r" returns R alone
    ra: np.ndarray = np.linalg.qr(a.T.astype(np.float64) / sa, mode="r")  # type: ignore[assignment]  # as above

    def svdvals(x: np.ndarray) -> np.ndarray:
        return scipy.linalg.svd(x, compute_uv=False, check_finite=False, lapack_driver="gesvd")

    factor = abs(scale) * sb * sa
    with np.errstate(over="ignore"):
        core = svdvals(rb @ ra.T) * factor
        norm_b, norm_a = float(svdvals(rb)[0]) * sb, float(svdvals(ra)[0]) * sa
    if not (np.all(np.isfinite(core)) and math.isfinite(norm_b * norm_a * abs(scale))):
        raise SpectrumOverflow(f"σ1 of s·B·A exceeds the float64 range (|s| = {abs(scale):.3g}, max|B| ≤ {sb:.3g}, max|A| ≤ {sa:.3g})")
    eps = float(np.finfo(np.float64).eps)
    noise = abs(scale) * (_factor_noise(b, u_b) * norm_a + norm_b * _factor_noise(a, u_a))
    svd_error = max(m, n) * eps * abs(scale) * norm_b * norm_a
    p = min(m, n)
    sigma = np.zeros(p)
    sigma[: min(p, core.size)] = np.sort(core)[::-1][:p]
    return Spectrum(
        sigma=sigma,
        shape=(n, m) if transpose else (m, n),
        route=ROUTE,
        compute_dtype="float64",
        eps_compute=eps,
        u_store=max(u_b, u_a),
        storage_noise=noise,
        svd_error=svd_error,
        tol=max(noise, svd_error),
    )


@dataclass(frozen=True)
class LoraFactors:
    """The decoded factors of one pair as matrices, B (m×r) and A (r×n), with their health."""

    b: np.ndarray
    a: np.ndarray
    nan_count: int
    inf_count: int
    zero_factor: bool

    @property
    def finite(self) -> bool:
        return self.nan_count == 0 and self.inf_count == 0


def read_factors(pair: LoraPair) -> LoraFactors:
    """Read both factors of a pair (raises InputError when the bytes cannot be read)."""
    (shape_b, shape_a) = pair.factor_shapes
    b = read_tensor(pair.b).reshape(shape_b)
    a = read_tensor(pair.a).reshape(shape_a)
    sb, sa = element_stats(b), element_stats(a)
    return LoraFactors(
        b=b,
        a=a,
        nan_count=sb.nan_count + sa.nan_count,
        inf_count=sb.inf_count + sa.inf_count,
        zero_factor=sb.zero_count == sb.count or sa.zero_count == sa.count,
    )


def pair_spectrum(pair: LoraPair, f: LoraFactors) -> Spectrum:
    """The exact spectrum of a pair's ΔW (finite factors)."""
    u_b, u_a = pair.b.dtype_info.unit_roundoff, pair.a.dtype_info.unit_roundoff
    assert u_b is not None and u_a is not None, "LoRA factors are float tensors"
    return lowrank_spectrum(f.b, f.a, pair.scale, u_b, u_a, pair.transpose)


@dataclass(frozen=True)
class _SpectrumContext:
    """What a ``spectrum_only`` pass may read: the spectrum and the options."""

    spectrum: Spectrum
    options: AnalysisOptions


def lora_identity(pair: LoraPair) -> dict[str, Any]:
    """The LORA_FIELDS of a pair."""
    return {"lora_A": pair.a.name, "lora_B": pair.b.name, "lora_rank": pair.rank, "lora_alpha": pair.alpha, "lora_scale": pair.scale}


def analyze_lora(pair: LoraPair, options: AnalysisOptions) -> TensorRecord:
    """One record for a LoRA update ΔW = s·B·A, the m×n product never formed.

    A pure function of (pair, options), like :func:`weightlens.pipeline.analyze.analyze_tensor`.
    The record has kind "lora", shape = matrix_shape = ΔW's (m, n), parameters = the
    factors' stored elements. Passes declared ``spectrum_only`` run on the exact spectrum
    of ΔW; the health pass reports NaN/Inf counts over the factors, all_zero when a factor
    is all zero (PEFT initializes B = 0: an untrained adapter), rms = ‖ΔW‖F/√(mn) and
    max_abs = null (it would need the product). Elementwise passes on ΔW (sparsity) do not
    apply and are left out.
    """
    record = TensorRecord(
        name=pair.name,
        file=str(pair.a.file),
        dtype=pair.dtype,
        shape=pair.shape,
        parameters=pair.parameters,
        kind="lora",
        matrix_shape=pair.shape,
        metrics=lora_identity(pair),
    )
    if pair.problem is not None:
        record.error = pair.problem
        return record
    try:
        f = read_factors(pair)
    except InputError as e:
        record.error = e.problem
        return record
    try:
        sp = pair_spectrum(pair, f) if f.finite else None
    except SpectrumOverflow as e:
        record.skipped = f"overflow: {e}"
        return record
    if "health" in options.passes:
        m, n = pair.shape
        record.metrics.update(
            {
                "nan_count": f.nan_count,
                "inf_count": f.inf_count,
                "all_zero": f.zero_factor,
                "max_abs": None,
                "rms": sp.fro_norm / math.sqrt(m * n) if sp is not None else None,
            }
        )
    if sp is None:
        record.skipped = NON_FINITE
        return record
    ctx = cast(TensorContext, _SpectrumContext(sp, options))
    for p in PASSES.values():
        if p.spectrum_only and p.name in options.passes:
            record.metrics.update(p.run(ctx))
    return record
