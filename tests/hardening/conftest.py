"""Fixtures of the hardening tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.inputs import build_inputs


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind of input weightlens reads (see :func:`build_inputs`), built once per module."""
    root = tmp_path_factory.mktemp("inputs")
    build_inputs(root)
    return root
