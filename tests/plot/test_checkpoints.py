"""Plotting several checkpoints: one subdirectory each, every file written once and counted once."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from weightlens import AnalysisOptions, analyze
from weightlens.cli import app
from weightlens.plot import checkpoint_groups, plot_report
from weightlens.plot.names import MAX_STEM, checkpoint_labels, stem_list
from weightlens.report.io import read_report
from weightlens.testing import write_safetensors

pytest.importorskip("matplotlib")
runner = CliRunner()
SAFE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


def files_under(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """a/m.safetensors and b/m.safetensors: the same tensor names, different weights."""
    root = tmp_path_factory.mktemp("two")
    rng = np.random.default_rng(11)
    w = rng.standard_normal((24, 16)).astype(np.float32)
    paths = []
    for sub, scale in (("a", 1.0), ("b", 3.0)):
        (root / sub).mkdir()
        paths.append(write_safetensors(root / sub / "m.safetensors", {"layers.0.w": w * scale, "layers.0.norm": np.ones(16, np.float32)}))
    return paths[0], paths[1]


def test_same_names_in_two_checkpoints_get_a_directory_each(two, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, b = two
    figs = tmp_path / "figs"
    result = runner.invoke(app, ["plot", str(a), str(b), "-f", "svg", "-o", str(figs)])
    assert result.exit_code == 0, result.stderr
    both = files_under(figs)
    assert sorted(both) == ["a/layers.0.w.svg", "a/overview.svg", "b/layers.0.w.svg", "b/overview.svg"]
    assert result.stderr == f"wrote 4 figures to {figs}: a/ 2, b/ 2\n"
    assert both["a/layers.0.w.svg"] != both["b/layers.0.w.svg"]

    alone = tmp_path / "alone"  # each subdirectory holds what plotting that checkpoint alone gives
    assert runner.invoke(app, ["plot", str(a), "-f", "svg", "-o", str(alone), "-q"]).exit_code == 0
    assert {f"a/{k}": v for k, v in files_under(alone).items()} == {k: v for k, v in both.items() if k.startswith("a/")}

    saved = tmp_path / "r.json"  # a saved report of both is grouped the same way
    assert runner.invoke(app, ["analyze", str(a), str(b), "-q", "-f", "json", "--full-spectrum", "-o", str(saved)]).exit_code == 0
    groups = [(label, [r.name for r in records]) for label, records in checkpoint_groups(read_report(saved))]
    assert groups == [("a", ["layers.0.w"]), ("b", ["layers.0.w"])]


def test_one_checkpoint_given_twice(two, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, _ = two
    report = analyze([a, a], AnalysisOptions(full_spectrum=True))
    assert [(label, [r.name for r in records]) for label, records in checkpoint_groups(report)] == [("1-m", ["layers.0.w"]), ("2-m", ["layers.0.w"])]
    written = plot_report(report, tmp_path, "svg")
    assert len(set(written)) == len(written) == 4
    assert sorted(written) == sorted(p for p in tmp_path.rglob("*") if p.is_file())


PART = st.text(st.sampled_from("ab.-_ $é\n/"), min_size=1, max_size=4).filter(lambda s: s.strip("/") and s not in (".", ".."))


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.lists(st.lists(PART, min_size=1, max_size=4).map("/".join), min_size=2, max_size=5))
def test_checkpoint_labels_are_safe_and_distinct(paths: list[str]) -> None:
    labels = checkpoint_labels(paths)
    assert len(set(labels)) == len(labels)
    assert all(SAFE.match(label) and len(label) <= MAX_STEM + 3 for label in labels), labels


@settings(derandomize=True, max_examples=100, deadline=None)
@given(st.lists(st.text(st.sampled_from("abc"), min_size=1, max_size=3), min_size=2, max_size=5, unique=True), st.sampled_from(["m.safetensors", "model.safetensors.index.json", "ckpt"]))
def test_labels_are_the_differing_directory(dirs: list[str], leaf: str) -> None:
    assert checkpoint_labels([os.path.join("runs", d, leaf) for d in dirs]) == dirs
    assert checkpoint_labels([os.path.join("runs", f"{d}.safetensors") for d in dirs]) == dirs


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.lists(st.text(st.sampled_from("ab._-/ "), max_size=4), max_size=12))
def test_stem_list_is_safe_and_distinct_even_for_repeated_names(names: list[str]) -> None:
    stems = stem_list(names, reserved=("overview",))
    assert len(stems) == len(names) and len(set(stems) | {"overview"}) == len(names) + 1
    assert all(SAFE.match(s) for s in stems)
