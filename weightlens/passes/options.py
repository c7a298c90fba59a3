"""Options of an analysis run, validated once, where they are made."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from weightlens.errors import UsageError
from weightlens.linalg.spectrum import Precision, SpectrumMode

RankSpec = int | float
"""A rank: an integer k ≥ 1, or a fraction 0 < f < 1 of p = min(m, n)."""


def parse_rank_spec(text: str, what: str = "rank") -> RankSpec:
    """Parse "32" as the rank 32 and "0.1" as the fraction 0.1 of p."""
    try:
        value: RankSpec = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{what}: expected an integer >= 1 or a fraction in (0, 1), got {text!r}") from None
    check_rank_spec(value, what)
    return value


def check_rank_spec(value: RankSpec, what: str = "rank") -> None:
    ok = (isinstance(value, int) and value >= 1) or (isinstance(value, float) and 0.0 < value < 1.0)
    if not ok or isinstance(value, bool):
        raise UsageError(f"{what}: expected an integer >= 1 or a fraction in (0, 1), got {value!r}")


def parse_passes(text: str | None) -> tuple[str, ...]:
    """The passes a ``--passes`` value selects, in any order ('' or None: the default set).

    ``all`` selects every pass; ``rank,condition`` exactly those; ``+nmf`` or ``-alpha,-nmf``
    add to or remove from the default set (every item signed). Names are checked against the
    registry.
    """
    from weightlens.passes import DEFAULT_PASSES, PASSES

    items = [p.strip() for p in (text or "").split(",") if p.strip()]
    if not items:
        return DEFAULT_PASSES
    if items == ["all"]:
        return tuple(PASSES)
    signed = [p[0] in "+-" for p in items]
    if any(signed) and not all(signed):
        raise UsageError(f"--passes: sign every item (+name, -name) or none, got {text!r}")
    for name in (p.lstrip("+-") for p in items):
        if name not in PASSES:
            raise UsageError(f"unknown pass {name!r}; expected 'all' or some of: {', '.join(PASSES)}")
    if not any(signed):
        return tuple(items)
    chosen = set(DEFAULT_PASSES)
    for p in items:
        (chosen.add if p[0] == "+" else chosen.discard)(p[1:])
    if not chosen:
        raise UsageError(f"--passes: {text!r} leaves no pass to run")
    return tuple(p for p in PASSES if p in chosen)


NMFMode = Literal["auto", "semi", "nonneg", "abs"]
"""auto: nonneg for W ≥ 0, else semi; semi: F signed, G ≥ 0; nonneg: F, G ≥ 0 (W ≥ 0 only);
abs: nonneg on |W|."""

NMF_MODES: tuple[str, ...] = get_args(NMFMode)


def resolve_rank(spec: RankSpec, p: int) -> int:
    """The rank a spec means for a matrix with p = min(m, n): min(k, p), or max(1, round(f·p))."""
    if isinstance(spec, float):
        return max(1, min(p, round(spec * p)))
    return min(spec, p)


def default_nmf_rank(p: int) -> int:
    """The NMF rank when none is asked for: min(32, p/2), at least 1."""
    return max(1, min(32, p // 2))


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(frozen=True)
class AnalysisOptions:
    """What to compute, and how.

    Attributes
    ----------
    passes : names of the passes to run, in any order (they run in registry order).
    top_k : how many leading singular values to report (``top_sigma``).
    svd_ranks : ranks at which to report the optimal rank-k error ``svd_rel_error``.
    full_spectrum : also report all p singular values (``sigma``).
    precision : "auto" picks the route per matrix from its storage dtype; "float32"/"float64"
        force LAPACK's gesdd in that dtype.
    spectrum : "exact" computes all singular values; "fast" only the top_k and σmin of large
        matrices (Lanczos on the Gram matrix, flagged ``spectrum_exact: false``).
    near_zero_tau : τ of ``near_zero_fraction`` (|w| ≤ τ·rms).
    include, exclude : fnmatch globs on tensor names; a tensor is analyzed when it matches an
        include glob (or none are given) and no exclude glob.
    nmf_ranks : ranks of the NMF pass; empty means min(32, p/2) (at least 1).
    nmf_mode : which factorization the NMF pass runs (see :data:`NMFMode`).
    nmf_max_iter, nmf_tol : NMF stops after nmf_max_iter iterations, or once its model predicts the
        relative error to fall by less than nmf_tol (relative) over the next 10 steps
        (:mod:`weightlens.linalg.nmf_newton`).
    seed : seed of every randomized step (the NMF starts); same seed, same report.
    """

    passes: tuple[str, ...] = ()
    top_k: int = 8
    svd_ranks: tuple[RankSpec, ...] = (0.1, 0.25, 0.5)
    full_spectrum: bool = False
    precision: Precision = "auto"
    spectrum: SpectrumMode = "exact"
    near_zero_tau: float = 1e-3
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    nmf_ranks: tuple[RankSpec, ...] = ()
    nmf_mode: NMFMode = "auto"
    nmf_max_iter: int = 200
    nmf_tol: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        from weightlens.passes import DEFAULT_PASSES, PASSES

        if not self.passes:
            object.__setattr__(self, "passes", DEFAULT_PASSES)
        unknown = [p for p in self.passes if p not in PASSES]
        if unknown:
            raise UsageError(f"unknown pass {unknown[0]!r}; expected some of: {', '.join(PASSES)}")
        if not isinstance(self.top_k, int) or self.top_k < 1:
            raise UsageError(f"top_k: expected an integer >= 1, got {self.top_k!r}")
        for spec in self.svd_ranks:
            check_rank_spec(spec, "svd_ranks")
        if self.precision not in ("auto", "float32", "float64"):
            raise UsageError(f"precision: expected auto, float32 or float64, got {self.precision!r}")
        if self.spectrum not in ("exact", "fast"):
            raise UsageError(f"spectrum: expected exact or fast, got {self.spectrum!r}")
        if self.spectrum == "fast" and self.full_spectrum:
            raise UsageError("full_spectrum: needs spectrum 'exact' (the fast spectrum computes only the top_k values and σmin)")
        if not 0.0 <= self.near_zero_tau < 1.0:
            raise UsageError(f"near_zero_tau: expected 0 <= tau < 1, got {self.near_zero_tau!r}")
        for spec in self.nmf_ranks:
            check_rank_spec(spec, "nmf_ranks")
        if self.nmf_mode not in NMF_MODES:
            raise UsageError(f"nmf_mode: expected one of {', '.join(NMF_MODES)}, got {self.nmf_mode!r}")
        if not _is_int(self.nmf_max_iter) or self.nmf_max_iter < 1:
            raise UsageError(f"nmf_max_iter: expected an integer >= 1, got {self.nmf_max_iter!r}")
        if isinstance(self.nmf_tol, bool) or not isinstance(self.nmf_tol, (int, float)) or not 0.0 <= self.nmf_tol < 1.0:
            raise UsageError(f"nmf_tol: expected 0 <= tol < 1, got {self.nmf_tol!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise UsageError(f"seed: expected an integer >= 0, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
