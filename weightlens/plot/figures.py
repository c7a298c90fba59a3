"""The figures: one matrix's spectrum (two panels) and the metrics through the network's depth.

Built on ``matplotlib.figure.Figure`` directly, never pyplot: no global state, no GUI backend,
safe to call from any thread. Tensor names are drawn literally (``parse_math=False``): a name
with ``$`` in it is not mathtext; control characters in it are drawn as escapes
(:func:`~weightlens.text.visible`), which no font lacks a glyph for.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from weightlens.linalg.powerlaw import PowerLawFit
from weightlens.plot.names import layer_index, series_key
from weightlens.render.table import ALPHA_RANGE
from weightlens.report.records import TensorRecord
from weightlens.text import visible

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Text

FORMATS = ("png", "svg")
DPI = 110
_TAIL = "#c0392b"
_MARK = "#7f8c8d"


def _literal(*texts: Text) -> None:
    """Draw these matplotlib Text objects without mathtext parsing."""
    for t in texts:
        t.set_parse_math(False)


def _short(x: float) -> str:
    """3 significant digits without mathtext: 0.2, 150, 1e-5, 2.5e6."""
    text = f"{x:.3g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def _plain_log_ticks(ax: Axes) -> None:
    """Label log axes in plain text, with minor ticks at 2 and 5 (labelled when the axis spans
    under 2 decades): matplotlib's default labels are mathtext and its 8 minor ticks a decade
    are objects, which together cost more than drawing the rest of the figure."""
    from matplotlib.ticker import Formatter, LogLocator

    class PlainLog(Formatter):
        def __init__(self, minor: bool) -> None:
            self.minor = minor

        def __call__(self, x: float, pos: int | None = None) -> str:
            if self.minor:
                lo, hi = sorted(self.axis.get_view_interval())  # type: ignore[union-attr]  # a formatter set on an axis has one when it is called
                if lo <= 0 or hi / lo > 100:
                    return ""
            return _short(x)

    for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
        if scale == "log":
            axis.set_major_formatter(PlainLog(minor=False))
            axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            axis.set_minor_formatter(PlainLog(minor=True))


def fitted_eigenvalues(record: TensorRecord) -> np.ndarray:
    """λ = σ² of the numerically nonzero singular values (σ > rank_tol; σ > 0 without a tolerance),
    those that overflow float64 left out."""
    sigma = np.asarray(record["sigma"], dtype=np.float64)
    tol = record.get("rank_tol") or 0.0
    with np.errstate(over="ignore"):
        lam = sigma[sigma > tol] ** 2
    return np.sort(lam[np.isfinite(lam)])


def _sigma_panel(ax: Axes, record: TensorRecord) -> None:
    sigma = np.asarray(record["sigma"], dtype=np.float64)
    p = sigma.size
    idx = np.arange(1, p + 1)
    pos = sigma > 0
    ax.loglog(idx[pos], sigma[pos], color="C0", lw=1.6, label="σᵢ")
    zeros = p - int(pos.sum())
    tol = record.get("rank_tol")
    if tol:
        rank = record.get("numerical_rank")
        label = f"rank tol {tol:.3g}" + (f" (rank {rank}/{p})" if rank is not None else "")
        floor = float(sigma[pos].min()) if pos.any() else tol
        if tol >= floor / 100:
            ax.axhline(tol, color=_TAIL, ls="--", lw=1.1, label=label)
        else:  # far below every σ: drawing it would flatten the decay into the top of the panel
            ax.plot([], [], " ", label=f"{label}, below σp")
    for key, tau, style in (("energy_rank_90", "90", ":"), ("energy_rank_99", "99", "-.")):
        k = record.get(key)
        if k:
            ax.axvline(k, color=_MARK, ls=style, lw=1.1, label=f"{tau}% energy: k = {k}")
    ax.set_xlabel("index i")
    ax.set_ylabel("σᵢ")
    ax.set_title("singular-value decay" + (f" ({zeros} exact zeros not shown)" if zeros else ""), fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    _plain_log_ticks(ax)
    ax.legend(fontsize=8, loc="lower left")


def _density_panel(ax: Axes, record: TensorRecord) -> None:
    lam = fitted_eigenvalues(record)
    ax.set_title("eigenvalue density, λ = σ² (σ > rank tol)", fontsize=10)
    ax.set_xlabel("λ")
    ax.set_ylabel("density")
    if lam.size < 2 or lam[-1] <= lam[0]:
        ax.text(0.5, 0.5, "fewer than 2 distinct nonzero eigenvalues", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    bins = np.geomspace(lam[0], lam[-1], int(np.clip(2 * math.sqrt(lam.size), 10, 80)) + 1)
    ax.hist(lam, bins=bins.tolist(), density=True, histtype="stepfilled", color="C0", alpha=0.55, label=f"{lam.size} eigenvalues")
    ax.set_xscale("log")
    ax.set_yscale("log")
    alpha = record.get("alpha")
    if alpha is not None and record.get("alpha_xmin") is not None:
        fit = PowerLawFit(
            alpha=alpha,
            xmin=record["alpha_xmin"],
            ks_distance=record["alpha_ks_distance"],
            n_tail=record["alpha_n_tail"],
            n=lam.size,
            stderr=record["alpha_stderr"],
            quality=record["alpha_quality"],
        )
        grid = np.geomspace(fit.xmin, lam[-1], 200)
        ax.plot(grid, fit.density(grid), color=_TAIL, lw=2, label=f"power law α = {fit.alpha:.2f} ± {fit.stderr:.2f}")
        ax.axvline(fit.xmin, color=_TAIL, ls="--", lw=1, label=f"xmin = {fit.xmin:.3g} ({fit.n_tail} in tail)")
        ax.plot([], [], " ", label=f"KS distance {fit.ks_distance:.3f}: {fit.quality.replace('_', ' ')}")
    elif record.get("alpha_quality"):
        ax.plot([], [], " ", label=f"no power-law fit ({record['alpha_quality'].replace('_', ' ')})")
    ax.grid(True, which="major", alpha=0.3)
    _plain_log_ticks(ax)
    ax.legend(fontsize=8, loc="upper right")


def matrix_figure(record: TensorRecord) -> Figure:
    """Two panels for one matrix: σᵢ against i (log-log) with the energy ranks and the rank
    tolerance, and the density of λ = σ² (log bins) with the fitted power-law tail.

    Needs the record's full spectrum (field ``sigma``).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.4))
    fig.subplots_adjust(left=0.08, right=0.985, bottom=0.12, top=0.86, wspace=0.2)  # fixed: no layout engine to run
    left, right = fig.subplots(1, 2)
    _sigma_panel(left, record)
    _density_panel(right, record)
    m, n = record.matrix_shape or (0, 0)
    _literal(fig.suptitle(f"{visible(record.name)}    {m}×{n} {record.dtype}", fontsize=11))
    return fig


@dataclass(frozen=True)
class Metric:
    """One panel of the overview: a label and how to read its value from a record."""

    label: str
    field: str
    value: Callable[[TensorRecord], float | None]
    log: bool = False
    limits: tuple[float, float] | None = None
    """Fixed y range (linear metrics with a natural scale), widened to fit the data."""


def _erank_ratio(r: TensorRecord) -> float | None:
    p, erank = min(r.matrix_shape or (0, 0)), r["effective_rank"]
    return erank / p if p and erank is not None else None  # None: a partial spectrum (--spectrum fast)


def _kappa(r: TensorRecord) -> float | None:
    kappa: float | None = r["condition_number"] if r["condition_number"] is not None else r.get("condition_number_on_rank")
    return kappa


def _percent(r: TensorRecord) -> float | None:
    z = r["zero_fraction"]
    return None if z is None else 100 * z


OVERVIEW: tuple[Metric, ...] = (
    Metric("σ1", "sigma_max", lambda r: r["sigma_max"], log=True),
    Metric("effective-rank ratio", "effective_rank", _erank_ratio, limits=(0.0, 1.05)),
    Metric("κ (×: singular, σ1/σr)", "condition_number", _kappa, log=True),
    Metric("α", "alpha", lambda r: r["alpha"]),
    Metric("zeros %", "zero_fraction", _percent, limits=(0.0, 5.0)),
)


def depth_positions(records: Sequence[TensorRecord]) -> tuple[list[float], str, float | None]:
    """x of each record in the overview, the axis label, and the x of matrices outside any block.

    With layer indices in the names, x is the block index and matrices without one (embeddings,
    heads) sit together one step past the last block. Without any, x is the report order.
    """
    depths = [layer_index(r.name) for r in records]
    known = [d for d in depths if d is not None]
    if not known:
        return [float(i) for i in range(len(records))], "matrix (report order)", None
    other = float(max(known) + 1)
    return [float(d) if d is not None else other for d in depths], "layer", other if None in depths else None


def _series_labels(keys: Sequence[str]) -> dict[str, str]:
    """Legend labels: the part after the layer index ("*.") when that is unambiguous, escaped."""
    short = {k: k.split("*.", 1)[1] if "*." in k else k for k in keys}
    chosen = short if len(set(short.values())) == len(short) else {k: k for k in keys}
    return {k: visible(v) for k, v in chosen.items()}


def overview_figure(records: Sequence[TensorRecord]) -> Figure:
    """σ1, effective-rank ratio, κ, α and zero fraction of every analyzed matrix by layer depth,
    one line per kind of matrix (q_proj, mlp.down_proj, ...), so trends through the network show."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    rows = [r for r in records if r.analyzed]
    xs, xlabel, other = depth_positions(rows)
    keys = [series_key(r.name) for r in rows]
    order = list(dict.fromkeys(keys))
    labels = _series_labels(order)
    fig = Figure(figsize=(12, 12), layout="constrained")
    axes = fig.subplots(len(OVERVIEW), 1, sharex=True)
    colors = [f"C{i}" for i in range(10)]
    markers = "os^Dv<>ph*"
    for ax, metric in zip(axes, OVERVIEW):
        ax.set_ylabel(metric.label)
        ax.grid(True, alpha=0.3)
        if not any(metric.field in r.metrics for r in rows):
            ax.text(0.5, 0.5, "not computed", ha="center", va="center", transform=ax.transAxes, color=_MARK)
            continue
        for i, key in enumerate(order):
            pts = sorted((x, metric.value(r)) for x, k, r in zip(xs, keys, rows) if k == key and metric.field in r.metrics)
            pts = [(x, y) for x, y in pts if y is not None and math.isfinite(y) and (y > 0 or not metric.log)]
            if pts:
                px, py = zip(*pts)
                ax.plot(px, py, color=colors[i % 10], marker=markers[(i // 10) % len(markers)], ms=4, lw=1.2, label=labels[key])
        if metric.log:
            ax.set_yscale("log")
            _plain_log_ticks(ax)
        if metric.limits is not None:
            lo, hi = ax.get_ylim()
            ax.set_ylim(min(lo, metric.limits[0]), max(hi, metric.limits[1]))
        if metric.field == "condition_number":
            sing = [(x, _kappa(r)) for x, r in zip(xs, rows) if r.get("singular") and _kappa(r)]
            if sing:
                ax.scatter(*zip(*sing), marker="x", color="red", s=50, zorder=5, label="_singular")
        if metric.field == "alpha":
            for y in ALPHA_RANGE:
                ax.axhline(y, color=_MARK, ls="--", lw=1)
            weak = [(x, r["alpha"]) for x, r in zip(xs, rows) if r.get("alpha") is not None and r.get("alpha_quality") != "good"]
            if weak:
                ax.scatter(*zip(*weak), s=90, facecolors="none", edgecolors="black", lw=0.8, zorder=5, label="_weak")
            ax.text(1.0, 1.0, "dashed: α = 2 and 6; circled: fit not good", transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color=_MARK)
    last = axes[-1]
    last.set_xlabel(xlabel)
    last.xaxis.set_major_locator(MaxNLocator(integer=True))
    if other is not None:
        ticks = [t for t in MaxNLocator(integer=True).tick_values(min(xs), other - 1) if min(xs) <= t < other]
        last.set_xticks([*ticks, other])
        last.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "other" if v == other else f"{v:g}"))
    handles, names = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in names:
                handles.append(h)
                names.append(lab)
    if handles:
        legend = fig.legend(handles, names, loc="outside right upper", fontsize=8, title="matrix")
        _literal(*legend.get_texts())
    fig.suptitle(f"metrics by depth ({len(rows)} matrices)", fontsize=12)
    return fig


def render(fig: Figure, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes; SVG has text as paths, no date and fixed ids, so the
    same report gives the same bytes."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "weightlens"}):
        fig.savefig(buf, format=fmt, dpi=DPI, metadata={"Date": None} if fmt == "svg" else {})
    return buf.getvalue()
