"""Helpers for the check tests: planted matrices, running the CLI, running the library."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from weightlens.check import CheckResult, load_config, run_check
from weightlens.cli import app


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Any]:
    """cli("check", path, "--max-condition", "10") -> click Result (stdout and stderr apart).

    Runs in an empty directory so that no pyproject.toml of the repository is found.
    """
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    runner = CliRunner()

    def invoke(*args: str | Path) -> Any:
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture
def check() -> Callable[..., CheckResult]:
    """check(path, max_condition=10, ...) -> CheckResult with only these limits over the defaults."""

    def run(path: Path, baseline: Any = None, **limits: Any) -> CheckResult:
        return run_check(path, load_config(limits, pyproject=False), baseline=baseline)

    return run
