"""One bad shard or tensor does not lose the others; interrupted runs keep whole JSONL lines."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import validate_record, validate_report
from weightlens import analyze
from weightlens.cli import app
from weightlens.testing import write_safetensors, write_sharded

runner = CliRunner()


def three_shards(tmp_path, rng):  # type: ignore[no-untyped-def]
    mk = lambda: rng.standard_normal((8, 6)).astype(np.float32)  # noqa: E731
    return write_sharded(tmp_path / "ckpt", [{"a.w": mk(), "b.w": mk()}, {"c.w": mk(), "d.w": mk()}, {"e.w": mk()}])


def truncate(path, keep: int) -> None:  # type: ignore[no-untyped-def]
    with open(path, "r+b") as f:
        f.truncate(keep)


def test_truncated_shard_loses_only_the_tensors_past_the_cut(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    d = three_shards(tmp_path, rng)
    shard = d / "model-00002-of-00003.safetensors"
    truncate(shard, shard.stat().st_size - 10)  # d.w (laid out last) loses its tail
    report = analyze(d)
    by = {r.name: r for r in report}
    assert [r.name for r in report] == ["a.w", "b.w", "c.w", "d.w", "e.w"]
    assert by["c.w"].analyzed and by["e.w"].analyzed
    assert by["d.w"].kind == "unreadable" and "run past the data buffer" in by["d.w"].error
    assert report.summary.errors == 1 and report.summary.error_list[0][0] == "d.w"

    result = runner.invoke(app, ["analyze", str(d), "-f", "json"])
    assert result.exit_code == 1
    validate_report(result.stdout)
    result = runner.invoke(app, ["analyze", str(d)])
    assert result.exit_code == 1 and "unreadable: d.w" in result.stdout
    result = runner.invoke(app, ["inspect", str(d), "-f", "json"])
    assert result.exit_code == 1 and validate_report(result.stdout, "inspect")["unreadable"][0]["name"] == "d.w"


def test_garbage_shard_lists_every_tensor_the_index_gives_it(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    d = three_shards(tmp_path, rng)
    (d / "model-00002-of-00003.safetensors").write_bytes(b"\x80\x04 a pickle, not a shard")
    report = analyze(d)
    bad = [r for r in report if r.error]
    assert [r.name for r in bad] == ["c.w", "d.w"] and all("pickle" in r.error for r in bad)
    assert sum(r.analyzed for r in report) == 3


def test_broken_file_in_a_directory_without_index(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    write_safetensors(tmp_path / "a.safetensors", {"w": rng.standard_normal((4, 4))})
    (tmp_path / "b.safetensors").write_bytes(b"")
    report = analyze(tmp_path)
    assert [(r.name, r.kind) for r in report] == [("b.safetensors", "unreadable"), ("w", "matrix")]


def test_a_single_broken_file_is_an_input_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "x.safetensors").write_bytes(b"1234567890")
    result = runner.invoke(app, ["analyze", str(tmp_path / "x.safetensors")])
    assert result.exit_code == 2


def test_tensor_unreadable_at_read_time(tmp_path, rng, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = write_safetensors(tmp_path / "m.safetensors", {"a": rng.standard_normal((4, 4)), "b": rng.standard_normal((4, 4))})
    from weightlens.checkpoint import open_checkpoint

    plan_infos = open_checkpoint(path).tensors
    truncate(path, plan_infos[1].offset + 3)  # the file shrinks after its header was validated
    from weightlens.passes.options import AnalysisOptions
    from weightlens.pipeline.analyze import analyze_tensor

    a, b = (analyze_tensor(t, AnalysisOptions()) for t in plan_infos)
    # Not the file its header described any more: no tensor of it is read, even one before the cut.
    assert a.error == f"cannot read tensor 'a': the file changed size (384 -> {plan_infos[1].offset + 3} bytes) since its header was read"
    assert b.error and "cannot read tensor 'b'" in b.error and not b.analyzed


@pytest.mark.parametrize(("fmt", "kept"), [("jsonl", 2), ("json", None)])
def test_interrupt_exits_130_and_keeps_whole_jsonl_lines(tmp_path, rng, monkeypatch, fmt: str, kept) -> None:  # type: ignore[no-untyped-def]
    path = write_safetensors(tmp_path / "m.safetensors", {f"w{i}": rng.standard_normal((6, 6)) for i in range(5)})
    import weightlens.cli.analyze as cli_analyze

    real = cli_analyze.iter_records

    def interrupted(tensors, options, **kwargs):  # type: ignore[no-untyped-def]
        for i, record in enumerate(real(tensors, options, **kwargs)):
            if i == 2:
                raise KeyboardInterrupt
            yield record

    monkeypatch.setattr(cli_analyze, "iter_records", interrupted)
    out = tmp_path / f"report.{fmt}"
    result = runner.invoke(app, ["analyze", str(path), "-f", fmt, "-o", str(out)])
    assert result.exit_code == 130 and "interrupted" in result.stderr
    if kept is None:
        assert not out.exists()
    else:
        lines = out.read_text().splitlines()
        assert len(lines) == kept and all(validate_record(json.loads(line)) for line in lines)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_inputs_are_never_modified(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    d = three_shards(tmp_path, rng)
    files = sorted(d.iterdir())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in files}
    for args in (["analyze", str(d)], ["analyze", str(d), "-f", "json", "-o", str(tmp_path / "r.json")], ["inspect", str(d)], ["analyze", str(d), "-f", "jsonl"]):
        assert runner.invoke(app, args).exit_code == 0
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in sorted(d.iterdir())} == before
