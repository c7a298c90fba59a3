"""Consoles of any width, terminal or not: names whole, violations shown (COLUMNS=0, COLUMNS=20)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from weightlens import analyze
from weightlens.check import load_config, run_check
from weightlens.pipeline.run import plan
from weightlens.render.check_table import render_check_table
from weightlens.render.inspect import render_inspect
from weightlens.render.table import render_table
from weightlens.testing import write_safetensors

NAME = "model.layers.11.self_attention.query_key_value.weight"
N_WIDTHS = 40
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_safetensors(tmp_path_factory.mktemp("w") / "m.safetensors", {NAME: np.zeros((4, 3), np.float32)})


@pytest.fixture(scope="module")
def renders(ckpt: Path):  # type: ignore[no-untyped-def]
    report, result, the_plan = analyze(ckpt), run_check(ckpt, load_config({}, pyproject=False)), plan([ckpt])
    return {
        "analyze": lambda c: render_table(report, c),
        "inspect": lambda c: render_inspect(the_plan, c),
        "check": lambda c: render_check_table(result, c),
    }


@settings(derandomize=True, max_examples=N_WIDTHS, deadline=None)
@given(width=st.integers(0, 120), terminal=st.booleans(), which=st.sampled_from(["analyze", "inspect", "check"]))
def test_names_whole_at_any_width(renders, width: int, terminal: bool, which: str) -> None:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    renders[which](Console(file=buf, width=width, force_terminal=terminal, highlight=False, soft_wrap=False))
    lines = ANSI.sub("", buf.getvalue()).splitlines()
    row = next((line for line in lines if line.startswith(NAME)), None)
    assert row is not None, lines
    if which == "check":
        assert "allow_all_zero" in row and "violation" in lines[-1]
    else:
        assert "4×3" in row
