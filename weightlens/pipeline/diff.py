"""What did fine-tuning change? Pair the tensors of two checkpoints by name and measure ΔW.

For every pair of matrices, ΔW = W_tuned − W_base:

- how much it moved: rel_change = ‖ΔW‖F/‖W_base‖F, max |ΔW|, cosine(W_base, W_tuned);
- what shape the update has: the singular values of ΔW (one SVD), its numerical, effective
  and energy ranks, and the best rank-r error of ΔW for LoRA-sized r (could it have been a
  LoRA of rank r?);
- what it did to W itself: σ1, κ, effective and numerical rank of W_base and of W_tuned.

That is three SVDs per changed pair, none for an identical one. When TUNED is a PEFT LoRA
adapter, each lora_A/lora_B pair is matched to the base weight it updates and ΔW = s·B·A is
measured exactly from the factors (:mod:`weightlens.pipeline.lora`), without forming the m×n product.

:func:`diff_job` is a pure function of (job, options), like ``analyze_tensor``; memory is
bounded by two matrices and ΔW, one pair at a time.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from weightlens.__about__ import __version__
from weightlens.checkpoint import Checkpoint, TensorInfo, Unreadable, natural_key, open_checkpoint, read_tensor
from weightlens.checkpoint.peft import LoraPair, base_name, dora_module, pair_lora
from weightlens.errors import InputError, UsageError, quote
from weightlens.linalg.elementwise import ElementStats, chunks, element_stats
from weightlens.linalg.spectrum import Precision, Spectrum, SpectrumOverflow, compute_dtype_for, compute_spectrum, noise_from_norms, row_col_sq
from weightlens.passes import Field
from weightlens.passes import spectrum as spectrum_pass
from weightlens.passes.condition import condition_number
from weightlens.passes.rank import effective_rank
from weightlens.pipeline.analyze import NON_FINITE
from weightlens.pipeline.executors import map_tasks
from weightlens.pipeline.lora import lora_identity, pair_spectrum, read_factors
from weightlens.pipeline.run import cost, selected
from weightlens.report.records import SCHEMA_VERSION, FileEntry, InputEntry, MetricsAccess, jsonable
from weightlens.views.matrix import as_matrix, layout_of

Status = Literal["paired", "only_in_base", "only_in_tuned", "dora_magnitude"]
Mode = Literal["checkpoints", "adapter"]

SHAPE_CHANGED = "shape changed"
"""The ``skipped`` reason of a pair whose shapes differ."""


@dataclass(frozen=True)
class DiffOptions:
    """What ``diff`` computes.

    Attributes
    ----------
    lora_ranks : ranks r at which to report the best rank-r relative error of ΔW.
    top_k : how many leading singular values of ΔW to report.
    precision : dtype of the SVDs ("auto": float32 for ≤ 16-bit storage, float64 otherwise).
    include, exclude : fnmatch globs on (base) tensor names.
    """

    lora_ranks: tuple[int, ...] = (8, 16, 64)
    top_k: int = 8
    precision: Precision = "auto"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.lora_ranks or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in self.lora_ranks):
            raise UsageError(f"lora_ranks: expected one or more integers >= 1, got {self.lora_ranks!r}")
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise UsageError(f"top_k: expected an integer >= 1, got {self.top_k!r}")
        if self.precision not in ("auto", "float32", "float64"):
            raise UsageError(f"precision: expected auto, float32 or float64, got {self.precision!r}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def parse_lora_ranks(text: str) -> tuple[int, ...]:
    """'8,16,64' -> (8, 16, 64)."""
    try:
        ranks = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise UsageError(f"--lora-ranks: expected comma-separated integers >= 1, got {text!r}") from None
    if not ranks or min(ranks) < 1:
        raise UsageError(f"--lora-ranks: expected comma-separated integers >= 1, got {text!r}")
    return ranks


_RANK_ERRORS = next(f.schema for f in spectrum_pass.PASS.fields if f.name == "svd_rel_error")
"""[{rank, rel_error}], as ``svd_rel_error`` of ``analyze``."""

UNSCALED = "unscaled: no adapter_config.json"
"""The table note of a LoRA update whose s = alpha/r is unknown (s = 1 used)."""

DIFF_FIELDS: tuple[Field, ...] = (
    Field("lora_unscaled", "boolean", "LoRA update without adapter_config.json: s = 1 was used, so ΔW = B·A and rel_change, delta_* lack the factor alpha/r"),
    Field("identical", "boolean", "W_tuned = W_base element for element (ΔW = 0)"),
    Field("rel_change", "number", "‖ΔW‖F / ‖W_base‖F; null when W_base = 0", nullable=True),
    Field("delta_fro_norm", "number", "‖ΔW‖F"),
    Field("max_abs_delta", "number", "max |ΔW_ij|"),
    Field("cosine", "number", "⟨W_base, W_tuned⟩ / (‖W_base‖F ‖W_tuned‖F); null when either is 0", nullable=True),
    Field("delta_sigma_max", "number", "σ1(ΔW) = ‖ΔW‖2"),
    Field("delta_top_sigma", "array", "the first top_k singular values of ΔW", schema={"type": "array", "items": {"type": "number"}}),
    Field("delta_numerical_rank", "integer", "#{σi(ΔW) > delta_rank_tol}"),
    Field("delta_rank_tol", "number", "rank tolerance of ΔW: rounding noise of both stored matrices, or the SVD's error"),
    Field("delta_effective_rank", "number", "Roy–Vetterli effective rank of ΔW over σi > delta_rank_tol"),
    Field("delta_energy_rank_90", "integer", "smallest k with Σ_{i≤k}σi(ΔW)² ≥ 0.90·‖ΔW‖F²"),
    Field("delta_energy_rank_99", "integer", "smallest k with Σ_{i≤k}σi(ΔW)² ≥ 0.99·‖ΔW‖F²"),
    Field("delta_lora_error", "array", "best rank-r error of ΔW relative to ‖ΔW‖F, sqrt(Σ_{i>r}σi²/Σσi²), at the lora_ranks", schema=_RANK_ERRORS),
    Field("sigma_max_base", "number", "σ1(W_base)"),
    Field("sigma_max_tuned", "number", "σ1(W_tuned)"),
    Field("condition_number_base", "number", "κ(W_base) = σ1/σp; null when singular", nullable=True),
    Field("condition_number_tuned", "number", "κ(W_tuned) = σ1/σp; null when singular", nullable=True),
    Field("effective_rank_base", "number", "effective rank of W_base"),
    Field("effective_rank_tuned", "number", "effective rank of W_tuned"),
    Field("numerical_rank_base", "integer", "numerical rank of W_base"),
    Field("numerical_rank_tuned", "integer", "numerical rank of W_tuned"),
)
"""The metric fields of a diff record, in report order (all optional: which ones a record has
depends on what its tensors are, see :func:`diff_job`)."""


Side = TensorInfo | Unreadable
"""A checkpoint entry: a tensor, or one whose header entry (or shard) failed validation."""


@dataclass(frozen=True)
class DiffJob:
    """One name to compare: the base entry and the tuned entry or LoRA pair (None = absent)."""

    name: str
    base: Side | None
    tuned: Side | LoraPair | None


@dataclass
class DiffRecord(MetricsAccess):
    """What changed in one tensor.

    Attributes
    ----------
    name : the base checkpoint's tensor name (the tuned one's when only in tuned).
    status : "paired", "only_in_base", "only_in_tuned", or "dora_magnitude" for a DoRA
        magnitude vector of the tuned side that the base lacks (listed, not compared).
    kind : the base tensor's layout kind ("matrix", "reshaped", "vector", ...), "lora" for a
        LoRA update of an adapter, "unreadable" when an entry failed validation.
    base_dtype, tuned_dtype, base_shape, tuned_shape : as stored (None on the missing side);
        for a LoRA update, the factors' dtype and ΔW's shape.
    tuned_name : the name on the tuned side when it differs (an adapter's module or tensor).
    matrix_shape : (m, n) of the matrix view, or None.
    skipped : why the pair was not (fully) compared, or None.
    error : why a tensor could not be read, or None.
    metrics : the DIFF_FIELDS computed (and the LoRA fields of a LoRA update).
    """

    name: str
    status: Status
    kind: str
    base_dtype: str | None = None
    tuned_dtype: str | None = None
    base_shape: tuple[int, ...] | None = None
    tuned_shape: tuple[int, ...] | None = None
    tuned_name: str | None = None
    matrix_shape: tuple[int, int] | None = None
    skipped: str | None = None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "kind": self.kind,
            "base_dtype": self.base_dtype,
            "tuned_dtype": self.tuned_dtype,
            "base_shape": list(self.base_shape) if self.base_shape is not None else None,
            "tuned_shape": list(self.tuned_shape) if self.tuned_shape is not None else None,
            "tuned_name": self.tuned_name,
            "matrix_shape": list(self.matrix_shape) if self.matrix_shape else None,
            "skipped": self.skipped,
            "error": self.error,
        }
        record: dict[str, Any] = jsonable({**head, **self.metrics})  # Any in the metrics makes the overload ambiguous
        return record


# ---------------------------------------------------------------------------------------------
# The measurements


def _elementwise(b: np.ndarray, t: np.ndarray, sb: ElementStats, st: ElementStats) -> dict[str, Any]:
    """identical, rel_change, ‖ΔW‖F, max|ΔW|, cosine, in one chunked float64 scan.

    Each matrix is divided by its power-of-two scale (exact) before products are summed, and
    ΔW by 2·max(scale_b, scale_t) (at most 2^1023), so nothing overflows or underflows; ΔW itself
    is exact in float64 for storage of ≤ 32 bits. Only ‖ΔW‖F and max|ΔW| themselves can exceed
    float64, for weights near ±1.8e308 of opposite signs.
    """
    sd = min(2.0 * max(sb.scale, st.scale), 2.0**1023)
    dot = dd = max_d = 0.0
    for cb, ct in zip(chunks(b), chunks(t)):
        xb = cb.astype(np.float64)
        xt = ct.astype(np.float64)
        d = xt / sd - xb / sd
        if d.size:
            max_d = max(max_d, float(np.abs(d).max()))
        dd += float(d @ d)
        dot += float((xb / sb.scale) @ (xt / st.scale))
    fro_d = sd * math.sqrt(dd)
    fro_b = sb.l2_norm
    both = sb.sumsq_scaled > 0 and st.sumsq_scaled > 0
    return {
        "identical": max_d == 0.0,
        "rel_change": fro_d / fro_b if fro_b > 0 else None,
        "delta_fro_norm": fro_d,
        "max_abs_delta": sd * max_d,
        "cosine": min(1.0, max(-1.0, dot / math.sqrt(sb.sumsq_scaled * st.sumsq_scaled))) if both else None,
    }


def _delta_fields(sp: Spectrum, options: DiffOptions) -> dict[str, Any]:
    """The ΔW fields from its spectrum: σ1, top σ, numerical/effective/energy ranks, rank-r errors."""
    ranks = sorted({min(k, sp.p) for k in options.lora_ranks})
    return {
        "delta_sigma_max": sp.sigma_max,
        "delta_top_sigma": sp.sigma[: options.top_k].tolist(),
        "delta_numerical_rank": sp.rank,
        "delta_rank_tol": sp.tol,
        "delta_effective_rank": effective_rank(sp),
        "delta_energy_rank_90": sp.energy_rank(0.90),
        "delta_energy_rank_99": sp.energy_rank(0.99),
        "delta_lora_error": [{"rank": k, "rel_error": sp.rel_error(k)} for k in ranks],
    }


def _w_fields(sp_b: Spectrum, sp_t: Spectrum) -> dict[str, Any]:
    return {
        "sigma_max_base": sp_b.sigma_max,
        "sigma_max_tuned": sp_t.sigma_max,
        "condition_number_base": condition_number(sp_b),
        "condition_number_tuned": condition_number(sp_t),
        "effective_rank_base": effective_rank(sp_b),
        "effective_rank_tuned": effective_rank(sp_t),
        "numerical_rank_base": sp_b.rank,
        "numerical_rank_tuned": sp_t.rank,
    }


def _zero_spectrum(shape: tuple[int, int]) -> Spectrum:
    """The spectrum of ΔW = 0 (identical matrices): no SVD needed."""
    eps = float(np.finfo(np.float64).eps)
    return Spectrum(np.zeros(min(shape)), shape, "identical", "float64", eps, 0.0, 0.0, 0.0, 0.0)


def delta_noise(base: np.ndarray, tuned: np.ndarray, u_base: float, u_tuned: float) -> float:
    """Spectral norm of the rounding noise in ΔW = W_tuned − W_base (both as stored).

    Notes
    -----
    Each stored matrix carries the rounding error of its dtype, e with Var(e_ij) ≤ u²w_ij²/3.
    The errors of the two matrices are independent, so those of ΔW have variance at most
    (u_b²·b_ij² + u_t²·t_ij²)/3, and the row + column bound of :class:`Spectrum` gives

        ν = c·(max_i sqrt(u_b²‖b_i,:‖² + u_t²‖t_i,:‖²) + max_j sqrt(u_b²‖b_:,j‖² + u_t²‖t_:,j‖²))/√3.

    This floor scales with the norms of the *weights*, not of ΔW: a 1e-3 relative update of a
    BF16 matrix sits at the level of its rounding (2^-8 ≈ 4e-3), and ΔW's own norms would set
    the tolerance far below that noise and count the rounding of every element as rank. When
    the base was stored exactly as training started from it, only the tuned side's rounding is
    real noise and ν overstates it by at most √2.
    """
    rb, cb, sb = row_col_sq(base)
    rt, ct, st = row_col_sq(tuned)
    s = max(sb, st)  # both relative to the larger scale: the weights' ratios are ≤ 1, exact powers of two
    wb, wt = (u_base * sb / s) ** 2, (u_tuned * st / s) ** 2
    rows = math.sqrt(float(np.max(wb * rb + wt * rt)))
    cols = math.sqrt(float(np.max(wb * cb + wt * ct)))
    return s * noise_from_norms(rows, cols)


def _read(rec: DiffRecord, info: TensorInfo) -> np.ndarray | None:
    try:
        return read_tensor(info)
    except InputError as e:
        rec.error = e.problem
        return None


def _non_finite(base_ok: bool, tuned_ok: bool) -> str | None:
    sides = [s for s, ok in (("base", base_ok), ("tuned", tuned_ok)) if not ok]
    return f"{NON_FINITE} ({' and '.join(sides)})" if sides else None


def _diff_tensors(rec: DiffRecord, base: TensorInfo, tuned: TensorInfo, options: DiffOptions) -> None:
    lb, lt = layout_of(base), layout_of(tuned)
    if base.shape != tuned.shape:
        rec.skipped = SHAPE_CHANGED
        return
    rec.matrix_shape = lb.matrix_shape
    if "unsupported" in (lb.kind, lt.kind):
        rec.skipped = lb.reason if lb.kind == "unsupported" else lt.reason
        return
    b = _read(rec, base)
    t = _read(rec, tuned) if b is not None else None
    if b is None or t is None:
        return
    if base.dtype_info.kind != "float" or tuned.dtype_info.kind != "float" or b.size == 0:
        rec.metrics["identical"] = bool(np.array_equal(b, t))
        rec.skipped = lb.reason or lt.reason
        return
    sb, st = element_stats(b), element_stats(t)
    rec.skipped = _non_finite(sb.finite, st.finite)
    if rec.skipped:
        return
    rec.metrics.update(_elementwise(b, t, sb, st))
    if not math.isfinite(rec["delta_fro_norm"]):
        rec.metrics = {"identical": False}
        rec.skipped = "overflow: ΔW exceeds the float64 range"
        return
    if lb.matrix_shape is None:  # vectors and scalars: compared elementwise, nothing is skipped
        return
    if rec["identical"]:
        rec.metrics.update(_delta_fields(_zero_spectrum(lb.matrix_shape), options))
        return
    # Three SVDs: W_base, W_tuned, then ΔW once both are released (at most two matrices and ΔW live).
    u_b, u_t = base.dtype_info.unit_roundoff, tuned.dtype_info.unit_roundoff
    assert u_b is not None and u_t is not None
    bm, tm = as_matrix(b, lb), as_matrix(t, lb)
    try:
        w_fields = _w_fields(compute_spectrum(bm, u_b, options.precision, sb.max_abs), compute_spectrum(tm, u_t, options.precision, st.max_abs))
        noise = delta_noise(bm, tm, u_b, u_t)
        u = max(u_b, u_t)
        delta = tm.astype(compute_dtype_for(u, options.precision))
        delta -= bm
        del b, t, bm, tm
        rec.metrics.update(_delta_fields(compute_spectrum(delta, u, options.precision, storage_noise=noise), options))
        rec.metrics.update(w_fields)
    except SpectrumOverflow as e:
        rec.skipped = f"overflow: {e}"


def _lora_inner(w: np.ndarray, left: np.ndarray, right: np.ndarray, scale_w: float) -> tuple[float, float]:
    """(⟨W/scale_w, ΔW⟩, max|ΔW|) for ΔW = left·right, by blocks of rows (never all of ΔW at once)."""
    dot = max_d = 0.0
    step = max(1, (1 << 20) // max(1, w.shape[1]))
    for i in range(0, w.shape[0], step):
        block = left[i : i + step] @ right
        max_d = max(max_d, float(np.abs(block).max()))
        dot += float(np.einsum("ij,ij->", w[i : i + step].astype(np.float64) / scale_w, block))
    return dot, max_d


def _diff_lora(rec: DiffRecord, base: TensorInfo, pair: LoraPair, options: DiffOptions) -> None:
    """ΔW = s·B·A against the base weight it updates: relative size, cosine, exact ΔW spectrum."""
    rec.metrics.update(lora_identity(pair))
    rec.metrics["lora_unscaled"] = pair.alpha is None  # LoraPair.alpha is None exactly when there is no config
    if pair.problem is not None:
        rec.error = pair.problem
        return
    layout = layout_of(base)
    if layout.matrix_shape is None:
        rec.skipped = f"the base tensor is no matrix ({layout.reason})"
        return
    if layout.matrix_shape != pair.shape:
        rec.skipped = f"{SHAPE_CHANGED}: the base matrix is {'×'.join(map(str, layout.matrix_shape))}, ΔW is {'×'.join(map(str, pair.shape))}"
        return
    rec.matrix_shape = pair.shape
    w = _read(rec, base)
    if w is None:
        return
    try:
        f = read_factors(pair)
    except InputError as e:
        rec.error = e.problem
        return
    sw = element_stats(w)
    rec.skipped = _non_finite(sw.finite, f.finite)
    if rec.skipped:
        return
    try:
        sp = pair_spectrum(pair, f)
    except SpectrumOverflow as e:
        rec.skipped = f"overflow: {e}"
        return
    b, a = f.b.astype(np.float64) * pair.scale, f.a.astype(np.float64)
    left, right = (a.T, b.T) if pair.transpose else (b, a)
    dot, max_d = _lora_inner(as_matrix(w, layout), left, right, sw.scale)
    fro_w, fro_d = sw.l2_norm, sp.fro_norm
    cosine = None
    if fro_w > 0:
        # ⟨W, W+ΔW⟩ = ‖W‖² + ⟨W,ΔW⟩ and ‖W+ΔW‖² = ‖W‖² + 2⟨W,ΔW⟩ + ‖ΔW‖², all divided by ‖W‖².
        a_rel = dot / math.sqrt(sw.sumsq_scaled) / fro_w  # dot is ⟨W/scale, ΔW⟩
        merged_sq = 1.0 + 2.0 * a_rel + (fro_d / fro_w) ** 2
        cosine = min(1.0, max(-1.0, (1.0 + a_rel) / math.sqrt(merged_sq))) if merged_sq > 0 else None
    rec.metrics.update(
        {
            "identical": max_d == 0.0,
            "rel_change": fro_d / fro_w if fro_w > 0 else None,
            "delta_fro_norm": fro_d,
            "max_abs_delta": max_d,
            "cosine": cosine,
        }
    )
    rec.metrics.update(_delta_fields(sp, options))


def _status(job: DiffJob) -> Status:
    if job.base is not None and job.tuned is not None:
        return "paired"
    if job.base is not None:
        return "only_in_base"
    return "dora_magnitude" if isinstance(job.tuned, TensorInfo) and dora_module(job.tuned.name) is not None else "only_in_tuned"


def diff_job(job: DiffJob, options: DiffOptions) -> DiffRecord:
    """Compare one name's tensors (a pure function of (job, options): safe for process pools).

    Returns
    -------
    DiffRecord
        For a tensor on one side only: its identity. For a pair: skipped "shape changed" when
        the shapes differ; otherwise ``identical`` and, for floating tensors, rel_change,
        delta_fro_norm, max_abs_delta and cosine; for matrices, the ΔW spectrum fields
        (zeros, without an SVD, when identical) and, when changed, the fields of W_base and
        W_tuned. A LoRA pair gets the ΔW fields from its factors and no W_tuned fields.
        A tensor that cannot be read (or an entry that failed validation) sets ``error``.
    """
    base, tuned = job.base, job.tuned
    tuned_name = tuned.name if tuned is not None else None
    first = base if base is not None else tuned
    rec = DiffRecord(
        name=job.name,
        status=_status(job),
        kind="lora" if isinstance(tuned, LoraPair) else "unreadable" if isinstance(first, Unreadable) else layout_of(first).kind,  # type: ignore[arg-type]  # first is a TensorInfo here: the LoraPair and missing cases are taken first
        tuned_name=tuned_name if tuned_name != job.name else None,
    )
    if isinstance(base, TensorInfo):
        rec.base_dtype, rec.base_shape = base.dtype, base.shape
    if isinstance(tuned, (TensorInfo, LoraPair)):
        rec.tuned_dtype, rec.tuned_shape = tuned.dtype, tuned.shape
    unreadable = [x.problem for x in (base, tuned) if isinstance(x, Unreadable)]
    if unreadable:
        rec.error = "; ".join(unreadable)
        return rec
    if base is None or tuned is None:
        return rec
    assert isinstance(base, TensorInfo)
    if isinstance(tuned, LoraPair):
        _diff_lora(rec, base, tuned, options)
    else:
        assert isinstance(tuned, TensorInfo)
        _diff_tensors(rec, base, tuned, options)
    return rec


# ---------------------------------------------------------------------------------------------
# Pairing, running, summarizing


@dataclass(frozen=True)
class DiffPlan:
    """The two checkpoints (headers only), how they are compared, and the jobs in name order.

    Attributes
    ----------
    mode : "checkpoints" (pair tensors by name) or "adapter" (TUNED is a LoRA adapter: pair
        each update with the base weight it targets; untargeted base tensors are unchanged).
    excluded : names left out by the include/exclude filters.
    untargeted : base tensors an adapter does not touch (adapter mode).
    """

    base: Checkpoint
    tuned: Checkpoint
    mode: Mode
    jobs: tuple[DiffJob, ...]
    excluded: int
    untargeted: int


def _entry(c: Checkpoint, selected_count: int) -> InputEntry:
    files = tuple(FileEntry(str(h.path), h.size, h.sha256, len(h.tensors)) for h in c.files)
    return InputEntry(path=str(c.path), layout=c.layout, files=files, tensors=len(c.tensors), selected=selected_count)


def _nothing_in_common(base: str | os.PathLike[str], tuned: str | os.PathLike[str], cb: Checkpoint, ct: Checkpoint, jobs: list[DiffJob]) -> str:
    """The usage error of two checkpoints that share no tensor name, with the likely cause."""

    def example(names: list[str]) -> str:
        return f", e.g. {quote(names[0])}" if names else ""

    on_base = [j.name for j in jobs if j.base is not None]
    on_tuned = [j.name for j in jobs if j.tuned is not None]
    if cb.layout == "adapter" and ct.layout != "adapter":
        hint = "BASE is a LoRA adapter: give the base checkpoint first, the adapter second"
    elif ct.layout == "adapter":
        hint = "an adapter for another model?"
    else:
        hint = "wrong base, or unrelated checkpoints?"
    return (
        f"{tuned}: no tensor name in common with {base} (base: {len(on_base)} names{example(on_base)}; "
        f"tuned: {len(on_tuned)} names{example(on_tuned)}): {hint}"
    )


def plan_diff(base: str | os.PathLike[str], tuned: str | os.PathLike[str], options: DiffOptions) -> DiffPlan:
    """Open both checkpoints (headers only) and pair their tensors.

    In "checkpoints" mode every name of either side is one job. In "adapter" mode (TUNED is a
    LoRA adapter and BASE is not) each LoRA pair and each other adapter tensor (modules_to_save,
    biases) is paired with the base tensor of its mapped name (PEFT's ``base_model.model.``
    prefix stripped, ``.weight`` appended to a LoRA module).

    Raises
    ------
    WeightlensError
        For a path, header or adapter config that cannot be read; UsageError when the two
        share no tensor name (wrong base, swapped arguments, an adapter for another model).
    """
    cb, ct = open_checkpoint(base), open_checkpoint(tuned)
    by_base = {t.name: t for t in cb.items()}
    jobs: list[DiffJob] = []
    if ct.layout == "adapter" and cb.layout != "adapter":
        mode: Mode = "adapter"
        for item in pair_lora(ct.items(), ct.adapter):
            name = item.base_name if isinstance(item, LoraPair) else base_name(item.name)
            jobs.append(DiffJob(name, by_base.get(name), item))
        targeted = {j.name for j in jobs}
        untargeted = sum(1 for n in by_base if n not in targeted)
    else:
        mode = "checkpoints"
        by_tuned = {t.name: t for t in ct.items()}
        names = sorted(by_base.keys() | by_tuned.keys(), key=natural_key)
        jobs = [DiffJob(n, by_base.get(n), by_tuned.get(n)) for n in names]
        untargeted = 0
    if not any(j.base is not None and j.tuned is not None for j in jobs):
        raise UsageError(_nothing_in_common(base, tuned, cb, ct, jobs))
    chosen = [j for j in jobs if selected(j.name, options.include, options.exclude)]
    chosen.sort(key=lambda j: natural_key(j.name))
    return DiffPlan(cb, ct, mode, tuple(chosen), len(jobs) - len(chosen), untargeted)


def _lost(job: DiffJob, problem: str) -> DiffRecord:
    """The record of a job whose worker process died."""
    return DiffRecord(job.name, _status(job), "unreadable", error=f"not compared: {problem}")


def iter_diff(
    plan: DiffPlan,
    options: DiffOptions,
    *,
    workers: int | None = None,
    on_complete: Callable[[DiffJob], None] | None = None,
) -> Generator[DiffRecord, None, None]:
    """The records of a plan, in name order.

    ``workers`` pairs are compared at once, in worker processes, as ``analyze --jobs`` does
    (:func:`weightlens.pipeline.executors.make_executor`; None: all cores when the work pays for them).
    ``on_complete`` is called with each job as soon as it is done, in completion order.
    """
    costs = [cost(j.tuned if j.tuned is not None else j.base) for j in plan.jobs]  # type: ignore[arg-type]  # a job has a base or a tuned side (the plan never holds neither)
    return map_tasks(functools.partial(diff_job, options=options), plan.jobs, costs, workers=workers, on_complete=on_complete, on_lost=_lost)


@dataclass
class DiffSummary:
    """Counts over a diff and the layers that moved most.

    Attributes
    ----------
    pairs : names present on both sides; changed / identical : pairs with ΔW ≠ 0 / = 0.
    only_in_base, only_in_tuned : names on one side only.
    dora_magnitude : DoRA magnitude vectors of the tuned side (its names; not compared).
    shape_changed : pairs whose shapes differ; dtype_changed : (name, base dtype, tuned dtype).
    skipped : reason -> names of pairs not fully compared; error_list : (name, error).
    excluded : names left out by filters; untargeted : base tensors an adapter leaves alone.
    largest_change : up to 5 (name, rel_change), largest first.
    """

    pairs: int = 0
    changed: int = 0
    identical: int = 0
    only_in_base: list[str] = field(default_factory=list)
    only_in_tuned: list[str] = field(default_factory=list)
    dora_magnitude: list[str] = field(default_factory=list)
    shape_changed: list[str] = field(default_factory=list)
    dtype_changed: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    error_list: list[tuple[str, str]] = field(default_factory=list)
    excluded: int = 0
    untargeted: int = 0
    largest_change: list[tuple[str, float]] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return len(self.error_list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "pairs": self.pairs,
                "changed": self.changed,
                "identical": self.identical,
                "errors": self.errors,
                "excluded": self.excluded,
                "untargeted": self.untargeted,
                "only_in_base": self.only_in_base,
                "only_in_tuned": self.only_in_tuned,
                "dora_magnitude": self.dora_magnitude,
                "shape_changed": self.shape_changed,
                "dtype_changed": [{"name": n, "base": b, "tuned": t} for n, b, t in self.dtype_changed],
                "skipped": self.skipped,
                "error_list": [{"name": n, "error": e} for n, e in self.error_list],
                "largest_change": [{"name": n, "rel_change": r} for n, r in self.largest_change],
            }
        )


def summarize_diff(records: list[DiffRecord], excluded: int = 0, untargeted: int = 0, worst: int = 5) -> DiffSummary:
    """Counts, one-sided names, shape/dtype changes and the largest relative changes."""
    s = DiffSummary(excluded=excluded, untargeted=untargeted)
    changes: list[tuple[str, float]] = []
    for r in records:
        if r.error:
            s.error_list.append((r.name, r.error))
        if r.status == "only_in_base":
            s.only_in_base.append(r.name)
            continue
        if r.status in ("only_in_tuned", "dora_magnitude"):
            (s.only_in_tuned if r.status == "only_in_tuned" else s.dora_magnitude).append(r.tuned_name or r.name)
            continue
        s.pairs += 1
        if r.kind != "lora" and r.base_dtype != r.tuned_dtype:
            s.dtype_changed.append((r.name, r.base_dtype or "", r.tuned_dtype or ""))
        if r.error:
            continue
        if r.skipped == SHAPE_CHANGED:
            s.shape_changed.append(r.name)
        elif r.skipped:
            s.skipped.setdefault(r.skipped, []).append(r.name)
        if "identical" in r.metrics:
            s.identical += r["identical"]
            s.changed += not r["identical"]
        if r.get("rel_change"):
            changes.append((r.name, r["rel_change"]))
    s.largest_change = sorted(changes, key=lambda nc: -nc[1])[:worst]
    return s


@dataclass
class DiffReport:
    """A whole comparison: both inputs, the mode, options, one record per name, a summary."""

    base: InputEntry
    tuned: InputEntry
    mode: Mode
    options: DiffOptions
    records: list[DiffRecord]
    summary: DiffSummary

    def __iter__(self) -> Iterator[DiffRecord]:
        return iter(self.records)

    def __getitem__(self, name: str) -> DiffRecord:
        for r in self.records:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        def entry(i: InputEntry) -> dict[str, Any]:
            return {"path": i.path, "layout": i.layout, "tensors": i.tensors, "selected": i.selected, "files": [vars(f) for f in i.files]}

        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "weightlens", "version": __version__},
            "mode": self.mode,
            "base": jsonable(entry(self.base)),
            "tuned": jsonable(entry(self.tuned)),
            "options": jsonable(self.options.to_dict()),
            "tensors": [r.to_dict() for r in self.records],
            "summary": self.summary.to_dict(),
        }


def report_of(plan: DiffPlan, options: DiffOptions, records: list[DiffRecord]) -> DiffReport:
    """Assemble the report of a plan's records."""
    on_base = sum(1 for j in plan.jobs if j.base is not None)
    on_tuned = sum(1 for j in plan.jobs if j.tuned is not None)
    return DiffReport(
        base=_entry(plan.base, on_base),
        tuned=_entry(plan.tuned, on_tuned),
        mode=plan.mode,
        options=options,
        records=records,
        summary=summarize_diff(records, plan.excluded, plan.untargeted),
    )


def diff(
    base: str | os.PathLike[str],
    tuned: str | os.PathLike[str],
    options: DiffOptions | None = None,
    *,
    jobs: int | None = None,
    on_record: Callable[[DiffRecord], None] | None = None,
) -> DiffReport:
    """Compare two checkpoints, or a base checkpoint and a LoRA adapter.

    Parameters
    ----------
    base : the checkpoint before fine-tuning (file, sharded directory or index).
    tuned : the checkpoint after, or a PEFT LoRA adapter (directory or file).
    options : what to compute.
    jobs : pairs compared at once in worker processes (None: all cores when the work pays for
        them; 1: in this process). With jobs ≠ 1 call from under ``if __name__ == "__main__":``.
    on_record : called with each record as soon as it is done.

    Returns
    -------
    DiffReport
        One record per name (both sides' names in "checkpoints" mode; the adapter's updates and
        tensors in "adapter" mode), in natural name order, and a summary.

    Examples
    --------
    >>> report = weightlens.pipeline.diff("base.safetensors", "tuned.safetensors")    # doctest: +SKIP
    >>> report["model.layers.0.self_attn.q_proj.weight"]["delta_numerical_rank"]  # doctest: +SKIP
    """
    options = options or DiffOptions()
    p = plan_diff(base, tuned, options)
    records = []
    with contextlib.closing(iter_diff(p, options, workers=jobs)) as results:
        for r in results:
            if on_record is not None:
                on_record(r)
            records.append(r)
    return report_of(p, options, records)
