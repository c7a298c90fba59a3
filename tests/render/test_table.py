"""The table: literal names, no truncation or colour in pipes, summary content."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from weightlens import analyze
from weightlens.render.console import data_console
from weightlens.render.table import render_table

LONG = "model.decoder.layers.31.encoder_attn.very_long_projection_name_that_goes_on.weight"


def render(report, **console_kwargs) -> str:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    console = data_console(buf) if not console_kwargs else Console(file=buf, **console_kwargs)
    render_table(report, console)
    return buf.getvalue()


def test_names_are_literal_and_whole_in_a_pipe(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    path = make_checkpoint({"[red]x[/red]": rng.standard_normal((4, 4)), LONG: rng.standard_normal((4, 4)), "[bold]b": np.ones(3)})
    out = render(analyze(path))
    assert "[red]x[/red]" in out and LONG in out and "[bold]b" in out
    assert "\x1b[" not in out  # no escape codes into a pipe
    line = next(line for line in out.splitlines() if LONG in line)
    assert "4×4" in line  # the whole row stays on one line


def test_no_colour_with_no_color_even_on_a_terminal(make_checkpoint, rng, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_COLOR", "1")
    path = make_checkpoint({"w": np.zeros((4, 4))})
    out = render(analyze(path), force_terminal=True, width=200)
    assert "singular" in out and "\x1b[3" not in out and "\x1b[9" not in out


def test_colour_on_a_terminal(make_checkpoint, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("NO_COLOR", raising=False)
    out = render(analyze(make_checkpoint({"w": np.zeros((4, 4))})), force_terminal=True, width=200, color_system="standard")
    assert "\x1b[31m" in out  # singular in red


def test_rows_flags_and_summary(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    nan = rng.standard_normal((4, 4)).astype(np.float32)
    nan[0, 0] = np.nan
    dead = rng.standard_normal((6, 6))
    dead[2] = 0
    out = render(analyze(make_checkpoint({"nan": nan, "dead": dead, "bias": np.ones(2), "zero": np.zeros((3, 3))})))
    rows = {line.split()[0]: line for line in out.splitlines() if line and line.split()[0] in {"nan", "dead", "zero"}}
    assert "1 NaN" in rows["nan"]
    assert "dead rows/cols" in rows["dead"] and "5/6" in rows["dead"]
    assert "all-zero" in rows["zero"] and "singular" in rows["zero"] and "0/3" in rows["zero"]
    assert "4 tensors" in out and "not analyzed, non-finite: nan" in out and "bias" in out
    assert "worst κ: zero (singular)" in out


def test_columns_follow_the_passes(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    from weightlens import AnalysisOptions

    out = render(analyze(make_checkpoint({"w": rng.standard_normal((4, 4))}), AnalysisOptions(passes=("sparsity",))))
    header = out.splitlines()[0]
    assert "zeros" in header and "κ" not in header and "rank" not in header
