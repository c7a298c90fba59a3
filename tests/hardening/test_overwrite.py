"""Data loss: no output of any command may replace a file the run reads.

Each generated case runs one command with ``-o`` (or ``--junit-xml``) aimed at one of the files
that command reads — by the same path, a path with ``..``, a relative path, a symbolic link or
a hard link — or at a new file that would join an input checkpoint directory. Every case must be
refused with exit 2 and one stderr line before anything is written, and the whole input tree
must be unchanged afterwards.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.hardening.inputs import snapshot
from tests.hardening.inputs import workspace as inputs_workspace
from weightlens.cli import app

runner = CliRunner()
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

INDEX = "idx/model.safetensors.index.json"
SHARDS = ["idx/model-00001-of-00002.safetensors", "idx/model-00002-of-00002.safetensors"]
# command -> (arguments, output options, the files it reads, new files that would join an input checkpoint)
COMMANDS: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {
    "analyze file": (["analyze", "one.safetensors", "-f", "json"], ["-o"], ["one.safetensors"], []),
    "analyze index dir": (["analyze", "idx", "-f", "jsonl"], ["-o"], [INDEX, *SHARDS], ["idx/new.safetensors", "idx/other.safetensors.index.json", "idx/adapter_config.json"]),
    "inspect index file": (["inspect", INDEX, "-f", "json"], ["-o"], [INDEX, *SHARDS], ["idx/adapter_config.json"]),
    "inspect directory": (["inspect", "dir"], ["-o"], ["dir/a.safetensors", "dir/b.safetensors"], ["dir/c.safetensors", "dir/x.safetensors.index.json"]),
    "analyze adapter": (["analyze", "ad", "-p", "health", "-f", "json"], ["-o"], ["ad/adapter_model.safetensors", "ad/adapter_config.json"], ["ad/more.safetensors"]),
    "diff": (["diff", "one.safetensors", "idx", "-f", "json"], ["-o"], ["one.safetensors", INDEX, *SHARDS], ["idx/new.safetensors"]),
    "check": (
        ["check", "one.safetensors", "--config", "rules.toml", "--baseline", "base.json", "--allow-appeared", "--allow-disappeared"],
        ["-o", "--junit-xml"],
        ["one.safetensors", "rules.toml", "base.json", "cwd/pyproject.toml"],
        [],
    ),
    "report from saved": (["report", "base.json", "-q"], ["-o"], ["base.json"], []),
    "report from checkpoint": (["report", "idx", "-q"], ["-o"], [INDEX, *SHARDS], ["idx/new.safetensors"]),
}
LINKS = ["same", "dotted", "relative", "symlink", "hardlink", "symlink to symlink"]


def workspace(template: Path):  # type: ignore[no-untyped-def]
    """A fresh copy of the inputs, entered as the current directory's parent (cwd = root/cwd)."""
    return inputs_workspace(template, "cwd")


def aim(root: Path, relative: str, how: str, n: int) -> str:
    """A path naming root/relative in the way ``how``."""
    target = root / relative
    links = root / "links"
    links.mkdir(exist_ok=True)
    if how == "same":
        return str(target)
    if how == "dotted":
        return str(root / "cwd" / ".." / relative)
    if how == "relative":
        return os.path.relpath(target, root / "cwd")
    link = links / f"l{n}{''.join(target.suffixes)}"
    if how == "hardlink":
        os.link(target, link)
    elif how == "symlink":
        link.symlink_to(target)
    else:
        (links / f"m{n}").symlink_to(target)
        link.symlink_to(links / f"m{n}")
    return str(link)


def args_for(root: Path, args: list[str]) -> list[str]:
    return [str(root / a) if (root / a).exists() else a for a in args]


@SETTINGS
@given(st.sampled_from(sorted(COMMANDS)), st.data())
def test_no_output_replaces_a_file_the_run_reads(template: Path, command: str, data: st.DataObject) -> None:
    args, flags, reads, joins = COMMANDS[command]
    flag = data.draw(st.sampled_from(flags), label="flag")
    with workspace(template) as root:
        if joins and data.draw(st.booleans(), label="new file in a checkpoint directory"):
            target = str(root / data.draw(st.sampled_from(joins), label="new file"))
        else:
            target = aim(root, data.draw(st.sampled_from(reads), label="input"), data.draw(st.sampled_from(LINKS), label="named by"), 0)
        before = snapshot(root)
        result = runner.invoke(app, [*args_for(root, args), flag, target])
        assert result.exit_code == 2, (command, flag, target, result.output)
        assert result.stderr.startswith("weightlens: error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "refusing to write" in result.stderr, result.stderr
        assert snapshot(root) == before


@pytest.mark.parametrize("command", sorted(c for c in COMMANDS if not c.startswith("report")))  # report: tests/cli/test_draw_commands.py
def test_outputs_beside_the_inputs_are_written(template: Path, command: str) -> None:
    """The guard refuses only what it must: a new file next to the inputs, and /dev/null, are written."""
    args, flags, reads, _ = COMMANDS[command]
    with workspace(template) as root:
        before = snapshot(root)
        for n, flag in enumerate(flags):
            out = root / f"out{n}.txt"
            result = runner.invoke(app, [*args_for(root, args), flag, str(out)])
            assert result.exit_code == 0, result.output
            assert out.stat().st_size > 0
            out.unlink()
            assert runner.invoke(app, [*args_for(root, args), flag, os.devnull]).exit_code == 0
        assert snapshot(root) == before


def test_output_to_a_fifo_is_written(template: Path) -> None:
    """-o onto a FIFO (documented: written into directly) is not refused as a non-regular file."""
    with workspace(template) as root:
        fifo = root / "out.fifo"
        os.mkfifo(fifo)
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
        reader.start()
        result = runner.invoke(app, ["inspect", str(root / "idx"), "-f", "json", "-o", str(fifo)])
        reader.join(10)
        assert result.exit_code == 0, result.output
        assert b'"a.w"' in got[0]


def test_check_refuses_the_same_file_for_output_and_junit(template: Path) -> None:
    with workspace(template) as root:
        out = str(root / "r.xml")
        result = runner.invoke(app, ["check", str(root / "one.safetensors"), "-f", "junit", "-o", out, "--junit-xml", out])
        assert result.exit_code == 2 and "refusing to write" in result.stderr and "--junit-xml" in result.stderr
        assert not Path(out).exists()


def test_plot_refuses_a_directory_holding_an_input_figure_name(template: Path) -> None:
    """A figure may not land on an input: here a checkpoint file named like a figure."""
    with workspace(template) as root:
        figs = root / "figs"
        figs.mkdir()
        shutil.copy(root / "one.safetensors", figs / "overview.png")
        before = snapshot(root)
        result = runner.invoke(app, ["plot", str(figs / "overview.png"), "-o", str(figs), "-q"])
        assert result.exit_code == 2 and "refusing to write" in result.stderr, result.output
        assert snapshot(root) == before
        result = runner.invoke(app, ["plot", str(figs / "overview.png"), "-o", str(figs), "-q", "-f", "svg", "-i", "layers.1.*"])
        assert result.exit_code == 0, result.output
        assert (figs / "overview.svg").exists() and (figs / "overview.png").read_bytes() == (root / "one.safetensors").read_bytes()


def test_stdout_redirected_onto_an_input_is_refused(template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`weightlens analyze m.safetensors >> m.safetensors`: stdout is the input file itself."""
    from weightlens.checkpoint import open_checkpoint
    from weightlens.checkpoint.safeload import recording_reads
    from weightlens.cli.common import guard_output
    from weightlens.errors import UsageError

    with workspace(template) as root:
        ckpt = root / "one.safetensors"
        before = snapshot(root)
        with open(ckpt, "a", encoding="utf-8") as appended, open(os.devnull, "w", encoding="utf-8") as null:
            with recording_reads():
                open_checkpoint(ckpt)
                monkeypatch.setattr("sys.stdout", appended)
                with pytest.raises(UsageError, match="stdout: refusing to write the report over an input of this run, the safetensors file"):
                    guard_output(None, [ckpt])
                monkeypatch.setattr("sys.stdout", null)
                guard_output(None, [ckpt])  # a device: fine
        assert snapshot(root) == before
