"""The analysis passes, in the order they run and report.

To add a pass: write a module with a ``PASS = Pass(...)`` and list it here.
"""

from weightlens.passes import alpha, condition, health, nmf, rank, sparsity, spectrum
from weightlens.passes.base import Field, Pass, TensorContext

PASSES: dict[str, Pass] = {p.name: p for p in (health.PASS, spectrum.PASS, rank.PASS, condition.PASS, alpha.PASS, sparsity.PASS, nmf.PASS)}
"""Every pass by name, in run order."""

OPT_IN_PASSES: frozenset[str] = frozenset({"nmf"})
"""Passes that run only when asked for (``--passes all`` or ``+nmf``): NMF costs several times
the SVD of a matrix, and most runs do not need a compression measure."""

DEFAULT_PASSES: tuple[str, ...] = tuple(p for p in PASSES if p not in OPT_IN_PASSES)
"""The passes ``analyze`` runs when none are named."""

__all__ = ["DEFAULT_PASSES", "OPT_IN_PASSES", "PASSES", "Field", "Pass", "TensorContext"]
