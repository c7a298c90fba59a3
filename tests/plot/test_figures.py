"""Figures written as files: valid PNG/SVG with the expected panels, read back."""

from __future__ import annotations

import html
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import HOSTILE_NAME
from weightlens import AnalysisOptions, analyze
from weightlens.errors import UsageError
from weightlens.plot import INSTALL_HINT, iter_figures, plot_report, require_matplotlib
from weightlens.plot.figures import DPI, matrix_figure, overview_figure, render
from weightlens.render.json import render_json
from weightlens.report.io import read_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def svg_tree(data: bytes) -> tuple[ET.Element, list[str]]:
    """The parsed SVG and its comments (matplotlib writes each text it draws as paths in a comment)."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.fromstring(data, parser=parser)
    comments = [html.unescape(str(el.text).strip()) for el in root.iter() if el.tag is ET.Comment]
    return root, comments


def axes_ids(root: ET.Element) -> list[str]:
    return [g.get("id", "") for g in root.iter(f"{SVG}g") if g.get("id", "").startswith("axes_")]


@pytest.fixture(scope="module")
def report(layered_checkpoint: Path):  # type: ignore[no-untyped-def]
    return analyze(layered_checkpoint, AnalysisOptions(full_spectrum=True))


@pytest.fixture(scope="module")
def svg_files(report, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:  # type: ignore[no-untyped-def]
    return plot_report(report, tmp_path_factory.mktemp("svg"), "svg")


def test_png_files_read_back(tmp_path, layered_checkpoint) -> None:  # type: ignore[no-untyped-def]
    import matplotlib.image

    report = analyze(layered_checkpoint, AnalysisOptions(full_spectrum=True, include=("model.layers.0.*",)))
    written = plot_report(report, tmp_path / "figs", "png")
    assert [p.name for p in written] == ["overview.png", "model.layers.0.attn.weight.png", "model.layers.0.mlp.weight.png"]
    for path in written:
        assert path.read_bytes().startswith(PNG_MAGIC)
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
        assert pixels[..., :3].std() > 0.05  # something is drawn
    assert matplotlib.image.imread(written[0]).shape[:2] == (12 * DPI, 12 * DPI)
    assert matplotlib.image.imread(written[1]).shape[:2] == (round(4.4 * DPI), 11 * DPI)


def test_svg_files_one_per_matrix_with_their_panels(report, svg_files) -> None:  # type: ignore[no-untyped-def]
    matrices = [r for r in report.tensors if r.analyzed]
    assert len(matrices) == 8 and len(svg_files) == 1 + len(matrices)
    assert svg_files[0].name == "overview.svg"
    assert len({p.parent for p in svg_files}) == 1
    for path in svg_files[1:]:
        root, _ = svg_tree(path.read_bytes())
        assert len(axes_ids(root)) == 2
    _, comments = svg_tree((svg_files[0].parent / "model.layers.1.attn.weight.svg").read_bytes())
    text = " ".join(comments)
    for title in ("singular-value decay", "eigenvalue density", "model.layers.1.attn.weight", "power law α", "rank tol", "90% energy", "99% energy"):
        assert title in text, title


def test_overview_panels(svg_files) -> None:  # type: ignore[no-untyped-def]
    root, comments = svg_tree(svg_files[0].read_bytes())
    assert len(axes_ids(root)) == 5
    text = " ".join(comments)
    for label in ("σ1", "effective-rank ratio", "κ", "α", "zeros %", "layer", "other", "attn.weight", "mlp.weight", "lm_head.weight", HOSTILE_NAME):
        assert label in text, label


def test_hostile_name_is_drawn_literally_and_filed_safely(svg_files) -> None:  # type: ignore[no-untyped-def]
    hostile = [p for p in svg_files if p.name.startswith("evil")]
    assert len(hostile) == 1
    _, comments = svg_tree(hostile[0].read_bytes())
    assert any(HOSTILE_NAME in c for c in comments)  # as text, not mathtext ($x$ would lose its dollars)


def test_a_saved_report_draws_the_same_figures(tmp_path, report, svg_files) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "report.json"
    saved.write_text(render_json(report))
    loaded = read_report(saved)
    assert [r.to_dict() for r in loaded.tensors] == [r.to_dict() for r in report.tensors]
    assert render(overview_figure(loaded.tensors), "svg") == svg_files[0].read_bytes()
    name = "model.layers.2.attn.weight"
    assert render(matrix_figure(loaded[name]), "svg") == (svg_files[0].parent / f"{name}.svg").read_bytes()


def test_a_report_without_spectra_is_refused(layered_checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = analyze(layered_checkpoint)
    with pytest.raises(UsageError, match="--full-spectrum"):
        plot_report(report, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    overview_only = list(iter_figures(report, "png", matrices=False))
    assert len(overview_only) == 1 and overview_only[0][1].startswith(PNG_MAGIC)


def test_unknown_format_and_file_as_directory(tmp_path, report) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="expected one of png, svg"):
        plot_report(report, tmp_path, "jpg")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="expected a directory"):
        plot_report(report, blocker)


def test_missing_matplotlib_names_the_extra(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError) as e:
        require_matplotlib()
    assert str(e.value) == INSTALL_HINT


def test_spectrum_edge_cases_draw(tmp_path, make_checkpoint) -> None:  # type: ignore[no-untyped-def]
    """A zero matrix, a rank-1 matrix (no α fit) and a 1×n matrix still give their two panels."""
    rng = np.random.default_rng(0)
    path = make_checkpoint({"zero": np.zeros((8, 6), np.float32), "rank1": np.outer(rng.standard_normal(30), rng.standard_normal(20)), "row": rng.standard_normal((1, 50))})
    written = plot_report(analyze(path, AnalysisOptions(full_spectrum=True)), tmp_path / "f", "svg")
    assert len(written) == 4
    for p in written[1:]:
        root, comments = svg_tree(p.read_bytes())
        assert len(axes_ids(root)) == 2
    _, comments = svg_tree((tmp_path / "f" / "rank1.svg").read_bytes())
    assert any("no power-law fit" in c or "fewer than 2 distinct" in c for c in comments)


CONTROL_NAME = "model.layers.0.q\x1b]0;pwned\x07\x00\u202e\n::error::x"


def test_names_with_control_characters_draw_escaped_without_warnings(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    import warnings

    from weightlens.plot.names import series_key
    from weightlens.text import visible

    report = analyze(make_checkpoint({CONTROL_NAME: rng.standard_normal((12, 8))}), AnalysisOptions(full_spectrum=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "Glyph ... missing from font" is a UserWarning
        figures = [(matrix_figure(r), r) for r in report.tensors] + [(overview_figure(report.tensors), None)]
        comments = [svg_tree(render(fig, "svg"))[1] for fig, _ in figures]
    assert any(visible(CONTROL_NAME) in c for c in comments[0])  # the title
    assert any(visible(series_key(CONTROL_NAME).split("*.", 1)[1]) in c for c in comments[1])  # the legend
