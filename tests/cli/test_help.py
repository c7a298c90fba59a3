"""Every command's --help: plain metavars (PATH..., N, FILE), nothing eaten by markup."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from weightlens.cli import app

runner = CliRunner()
COMMANDS = ["analyze", "inspect", "diff", "check", "plot", "report", "schema"]
PYTHON_LOOKING = re.compile(r"<(?:int|float|str|bool|path|list\[\w+\])(?: range)?>|\{[a-z_]+\}(?:\.\.\.)?|list\[\w+\]")


def help_of(command: str) -> str:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_no_python_internals_in_help(command: str) -> None:
    out = help_of(command)
    assert not PYTHON_LOOKING.findall(out), PYTHON_LOOKING.findall(out)
    assert "\x1b" not in out


@pytest.mark.parametrize("command", ["analyze", "inspect", "check", "plot", "report"])
def test_paths_argument_is_path_dots(command: str) -> None:
    assert f"Usage: weightlens {command} [OPTIONS] PATH..." in help_of(command)


def test_metavars_a_user_expects() -> None:
    out = help_of("analyze")
    for text in ("--top-k N", "--jobs N", "--output FILE", "--include GLOB", "--passes LIST", "--near-zero-tau X"):
        assert text in out, text
    assert re.search(r"--quiet\s+No progress", out)  # a flag shows no metavar
    assert "Usage: weightlens diff [OPTIONS] BASE TUNED" in help_of("diff")
    assert "-o, --output DIR" in help_of("plot")


@pytest.mark.parametrize(
    ("command", "texts"),
    [
        ("analyze", ["[default: health,spectrum", "[default: 0.1, 0.25, 0.5]", "the weightlens-health[dask] extra", "[default: all cores", "[default: min(32"]),
        ("plot", ["pip install matplotlib (the weightlens-health[plot] extra)"]),
        ("report", ["pip install matplotlib (the weightlens-health[plot] extra)"]),
    ],
)
def test_help_keeps_bracketed_text(command: str, texts: list[str]) -> None:
    out = " ".join(help_of(command).split())  # unwrap
    for text in texts:
        assert text in out, text


def test_help_paragraphs_are_rewrapped() -> None:
    """Docstring line breaks are not kept inside a paragraph (no ragged half-empty lines)."""
    lines = [line for line in help_of("analyze").splitlines() if line.strip()]
    assert "pairs) gets one record" not in [line.strip()[:22] for line in lines]


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "x.safetensors", "-f", "bogus"],
        ["analyze"],
        ["analyze", "x.safetensors", "--top-k", "0"],
        ["check", "x.safetensors", "--max-condition", "abc"],
        ["bogus"],
        ["--bogus"],
        ["diff", "only-one"],
    ],
)
def test_command_line_errors_are_one_line_and_exit_2(args: list[str]) -> None:
    """Like every other error: one 'weightlens: error:' line on stderr, nothing on stdout."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("weightlens: error: ") and line.endswith(" -h')"), line


def test_no_arguments_show_the_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage: weightlens [OPTIONS] COMMAND" in result.output and "analyze" in result.output


def test_an_unknown_top_level_option_is_one_line() -> None:
    """Parsed before any command, by the group itself."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "weightlens", "--bogus"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "weightlens: error: No such option: --bogus (see 'weightlens -h')\n"
