"""The README's "Use in CI" section says what the code does."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from weightlens.check.rules import rules_markdown

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_rule_table_is_generated_from_the_rules() -> None:
    assert rules_markdown() in README


def test_sample_output_in_the_readme_is_what_check_prints(cli, monkeypatch) -> None:
    block = re.search(r"```\n\$ (weightlens check sample_weights/tiny_model[^\n]*)\n(.*?)```", README, re.DOTALL)
    assert block is not None
    command, shown = block.group(1), block.group(2).splitlines()
    monkeypatch.chdir(REPO)
    result = cli(*shlex.split(command)[1:])
    printed = [line.rstrip() for line in result.stdout.splitlines()]
    assert result.exit_code == 1
    assert printed[:-1] == shown[:-1]
    timing = re.compile(r" in \d+\.\d\ds$")
    assert timing.sub("", printed[-1]) == timing.sub("", shown[-1])
