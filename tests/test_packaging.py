"""Packaging metadata: the distribution name is ours, the license an SPDX expression, hints install what exists."""

from __future__ import annotations

import tomllib
from pathlib import Path

from weightlens.__about__ import DISTRIBUTION
from weightlens.pipeline.executors.cluster import INSTALL_HINT as DASK_HINT
from weightlens.plot import INSTALL_HINT as PLOT_HINT

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())


def test_distribution_name_is_not_the_unrelated_weightlens() -> None:
    """'weightlens' on the package index is another project (0.3.0): pip install weightlens would install it."""
    project = PYPROJECT["project"]
    assert project["name"] == DISTRIBUTION != "weightlens"
    assert project["scripts"]["weightlens"] == "weightlens.cli:main"


def test_license_is_an_spdx_string() -> None:
    """A TOML table is deprecated (setuptools warns during every install)."""
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


def test_install_hints_name_installable_packages() -> None:
    assert "'weightlens[" not in DASK_HINT + PLOT_HINT
    assert "dask[distributed]" in DASK_HINT and "pip install matplotlib" in PLOT_HINT
