"""Config: pyproject discovery, precedence (defaults < pyproject < --config < CLI), overrides, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from weightlens.check import find_pyproject, load_config, run_check
from weightlens.errors import ConfigError
from weightlens.testing import geometric_spectrum, with_spectrum


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_are_the_health_rules() -> None:
    config = load_config(pyproject=False)
    assert {r.name for r in config.active_rules()} == {"allow_unreadable", "allow_nonfinite", "allow_all_zero"}
    assert {r.name for r in config.active_rules(baseline=True)} == {
        "allow_unreadable", "allow_nonfinite", "allow_all_zero", "allow_appeared", "allow_disappeared"
    }  # fmt: skip


def test_nearest_pyproject_with_the_table_is_found_walking_up(tmp_path: Path, monkeypatch) -> None:
    root = write(tmp_path / "pyproject.toml", "[tool.weightlens]\nmax_condition = 1e4\n")
    write(tmp_path / "pkg" / "pyproject.toml", "[project]\nname = 'pkg'\n")  # no table: passed over
    deep = tmp_path / "pkg" / "src" / "deep"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_pyproject() == root
    config = load_config()
    assert config.limits["max_condition"] == 1e4
    assert config.sources == (str(root),)
    nearer = write(tmp_path / "pkg" / "pyproject.toml", "[tool.weightlens]\nmax_condition = 50\n")
    assert find_pyproject() == nearer
    assert load_config().limits["max_condition"] == 50
    assert load_config(pyproject=False).limits["max_condition"] is None


def test_precedence_defaults_pyproject_config_file_command_line(tmp_path: Path, monkeypatch) -> None:
    write(
        tmp_path / "pyproject.toml",
        "[tool.weightlens]\nmax_condition = 1e4\nmin_rank_ratio = 0.5\nmax_dead_cols = 0.2\nallow_all_zero = true\n",
    )
    rules = write(tmp_path / "rules.toml", "min_rank_ratio = 0.25\nmax_dead_cols = 0.1\n")
    monkeypatch.chdir(tmp_path)
    config = load_config({"max_dead_cols": 0.05, "max_condition": None}, rules)
    assert config.limits["max_condition"] == 1e4  # pyproject (the CLI did not set it)
    assert config.limits["min_rank_ratio"] == 0.25  # --config beats pyproject
    assert config.limits["max_dead_cols"] == 0.05  # the command line beats both
    assert config.limits["allow_all_zero"] is True  # pyproject beats the default
    assert config.limits["allow_nonfinite"] is False  # default
    assert config.sources == (str(tmp_path / "pyproject.toml"), str(rules))


def test_a_pyproject_given_as_config_file_is_read_under_tool_weightlens(tmp_path: Path) -> None:
    other = write(tmp_path / "other" / "pyproject.toml", "[tool.weightlens]\nmax_sigma_max = 3\n")
    assert load_config(config_file=other, pyproject=False).limits["max_sigma_max"] == 3.0


def test_overrides_last_match_wins_and_beat_the_global_limit(tmp_path: Path, monkeypatch) -> None:
    write(
        tmp_path / "pyproject.toml",
        "[tool.weightlens]\nmax_condition = 100\n"
        '[[tool.weightlens.overrides]]\nmatch = ["*embed*", "lm_head.*"]\nmax_condition = 1e4\n'
        '[[tool.weightlens.overrides]]\nmatch = "*embed_positions*"\nmax_condition = inf\nallow_all_zero = true\n',
    )
    rules = write(tmp_path / "rules.toml", '[[overrides]]\nmatch = "lm_head.*"\nmax_condition = 1e5\n')
    monkeypatch.chdir(tmp_path)
    config = load_config({"max_condition": 10}, rules)
    assert config.limits_for("layers.0.q.weight")["max_condition"] == 10  # CLI sets the global limit
    assert config.limits_for("model.embed_tokens.weight")["max_condition"] == 1e4
    assert config.limits_for("model.embed_positions.weight")["max_condition"] == math.inf
    assert config.limits_for("model.embed_positions.weight")["allow_all_zero"] is True
    assert config.limits_for("lm_head.weight")["max_condition"] == 1e5  # the --config file's override comes last


def test_a_rule_on_only_in_an_override_applies_only_there(rng, make_checkpoint, tmp_path) -> None:
    w = with_spectrum(rng, 16, 16, geometric_spectrum(16, 1e3))
    path = make_checkpoint({"attn.q": w, "mlp.up": w.copy()})
    rules = write(tmp_path / "rules.toml", '[[overrides]]\nmatch = "attn.*"\nmax_condition = 10\n')
    result = run_check(path, load_config(config_file=rules, pyproject=False))
    assert "max_condition" in result.rules
    assert [(o.tensor, o.status) for o in result.outcomes if o.rule == "max_condition"] == [("attn.q", "fail")]


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ("max_conditon = 1e4", "max_conditon", "did you mean 'max_condition'"),
        ("frobnicate = 1", "frobnicate", "unknown rule; expected one of: allow_unreadable"),
        ('max_condition = "1e4"', "max_condition", "expected a number >= 1 (inf turns the rule off), got '1e4' (string)"),
        ("max_condition = true", "max_condition", "got True (boolean)"),
        ("max_condition = 0.5", "max_condition", "got 0.5"),
        ("min_rank_ratio = 1.5", "min_rank_ratio", "expected a number in [0, 1], got 1.5"),
        ("max_dead_cols = nan", "max_dead_cols", "got nan"),
        ("allow_nonfinite = 1", "allow_nonfinite", "expected true or false, got 1 (integer)"),
        ("allow_nonfinite = 'no'", "allow_nonfinite", "expected true or false, got 'no' (string)"),
        ("[overrides]\nmax_condition = 1", "overrides", "expected an array of tables"),
        ("[[overrides]]\nmax_condition = 10", "overrides[0].match", "expected a glob or a non-empty list of globs, got None"),
        ("[[overrides]]\nmatch = []\nmax_condition = 10", "overrides[0].match", "got []"),
        ('[[overrides]]\nmatch = "*"', "overrides[0]", "sets no rule"),
        ('[[overrides]]\nmatch = "*"\nmax_conditon = 10', "overrides[0].max_conditon", "did you mean 'max_condition'"),
        ("max_condition = ", "TOML", "Invalid value"),
    ],
)
def test_config_errors_name_the_file_and_key(toml: str, key: str, problem: str, tmp_path: Path) -> None:
    path = write(tmp_path / "rules.toml", toml + "\n")
    with pytest.raises(ConfigError) as e:
        load_config(config_file=path, pyproject=False)
    assert e.value.key == key
    assert e.value.source == str(path)
    assert problem in str(e.value)
    assert str(e.value).startswith(f"{path}: {key}: ")


def test_pyproject_errors_name_the_table(tmp_path: Path, monkeypatch) -> None:
    write(tmp_path / "pyproject.toml", "[tool.weightlens]\nmax_sigma_max = 'x'\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"pyproject.toml \[tool.weightlens\]: max_sigma_max: expected a number >= 0"):
        load_config()


def test_command_line_errors_name_the_flag() -> None:
    with pytest.raises(ConfigError, match="^command line: --min-rank-ratio: expected a number in"):
        load_config({"min_rank_ratio": 2.0}, pyproject=False)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml: file: cannot read"):
        load_config(config_file=tmp_path / "nope.toml", pyproject=False)


def test_numbers_are_stored_as_floats() -> None:
    assert load_config({"max_condition": 10000}, pyproject=False).limits["max_condition"] == pytest.approx(1e4)  # a parsed integer: exact
    assert isinstance(load_config({"max_condition": 10000}, pyproject=False).limits["max_condition"], float)
    assert np.isinf(load_config({"max_condition": math.inf}, pyproject=False).limits["max_condition"])
