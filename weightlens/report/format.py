"""Number formatting shared by the human-readable renderers."""

from __future__ import annotations

import math


def num(x: float | None, digits: int = 4) -> str:
    """Compact general format: 4 significant digits, '-' for None, 'inf'/'nan' spelled out."""
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}g}"


def percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def count(n: int) -> str:
    """Human count: 1234567 -> '1.23M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def nbytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
