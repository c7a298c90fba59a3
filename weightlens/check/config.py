"""Rule settings: defaults < pyproject.toml ``[tool.weightlens]`` < ``--config FILE`` < command line.

A config table holds rule keys (see :data:`weightlens.check.rules.RULES`) and an array of
``overrides``, each with ``match`` (a glob or a list of globs on tensor names) and its own rule
keys, in the style of ruff's per-file settings::

    [tool.weightlens]
    max_condition = 1e4
    min_rank_ratio = 0.5

    [[tool.weightlens.overrides]]
    match = ["*embed_tokens*", "lm_head.*"]
    max_condition = 1e6

For one tensor, a rule's limit is the one set by the last override matching its name (pyproject
overrides first, then the ``--config`` file's), else the global one, where the command line
beats ``--config``, which beats pyproject.toml, which beats the built-in default.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weightlens.check.rules import RULES, RULES_BY_NAME, Limit, Rule
from weightlens.checkpoint.safeload import load_toml
from weightlens.errors import ConfigError, FileFormatError, InputError, quote

COMMAND_LINE = "command line"


@dataclass(frozen=True)
class Override:
    """Limits for the tensors whose name matches one of ``match`` (fnmatch globs, case-sensitive)."""

    match: tuple[str, ...]
    limits: Mapping[str, Limit]
    source: str

    def applies_to(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, g) for g in self.match)


@dataclass(frozen=True)
class CheckConfig:
    """The merged rule settings of a check.

    Attributes
    ----------
    limits : the global limit of every rule (None = off).
    overrides : per-glob limits, later ones winning.
    sources : the config files read, in precedence order.
    """

    limits: Mapping[str, Limit | None] = field(default_factory=lambda: {r.name: r.default for r in RULES})
    overrides: tuple[Override, ...] = ()
    sources: tuple[str, ...] = ()

    def limits_for(self, name: str) -> dict[str, Limit | None]:
        """Every rule's limit for the tensor called ``name``."""
        limits = dict(self.limits)
        for o in self.overrides:
            if o.applies_to(name):
                limits.update(o.limits)
        return limits

    def active_rules(self, baseline: bool = False) -> tuple[Rule, ...]:
        """The rules on for at least one tensor (baseline rules only when there is a baseline)."""
        settings = [self.limits, *(o.limits for o in self.overrides)]
        return tuple(r for r in RULES if (baseline or not r.baseline) and any(r.is_on(s.get(r.name)) for s in settings))

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": list(self.sources),
            "rules": {k: v for k, v in self.limits.items() if v is not None},
            "overrides": [{"match": list(o.match), "rules": dict(o.limits), "source": o.source} for o in self.overrides],
        }


def _unknown(source: str, key: str) -> ConfigError:
    close = difflib.get_close_matches(key, RULES_BY_NAME, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of: {', '.join(RULES_BY_NAME)}"
    return ConfigError(source, key, f"unknown rule{hint}")


def _rule_limits(table: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, Limit]:
    out: dict[str, Limit] = {}
    for key, value in table.items():
        rule = RULES_BY_NAME.get(key)
        if rule is None:
            raise _unknown(source, prefix + key)
        out[key] = rule.validate(value, source, prefix + key)
    return out


def parse_table(table: Mapping[str, Any], source: str) -> tuple[dict[str, Limit], tuple[Override, ...]]:
    """Validate one config table: global limits and overrides; ConfigError names the bad key."""
    table = dict(table)
    raw_overrides = table.pop("overrides", [])
    limits = _rule_limits(table, source)
    if not isinstance(raw_overrides, list) or not all(isinstance(o, dict) for o in raw_overrides):
        raise ConfigError(source, "overrides", "expected an array of tables ([[overrides]]), got " + repr(raw_overrides))
    overrides = []
    for i, entry in enumerate(raw_overrides):
        entry = dict(entry)
        where = f"overrides[{i}]."
        match = entry.pop("match", None)
        if isinstance(match, str):
            match = [match]
        if not match or not isinstance(match, list) or not all(isinstance(g, str) and g for g in match):
            raise ConfigError(source, where + "match", f"expected a glob or a non-empty list of globs, got {quote(match)}")
        if not entry:
            raise ConfigError(source, where.rstrip("."), "sets no rule")
        overrides.append(Override(tuple(match), _rule_limits(entry, source, where), source))
    return limits, tuple(overrides)


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML file; ConfigError keyed "file" (cannot be read) or "TOML" (malformed)."""
    try:
        return load_toml(path, "config")
    except FileFormatError as e:
        raise ConfigError(str(path), "TOML", e.problem) from None
    except InputError as e:
        raise ConfigError(str(path), "file", e.problem) from None


def config_table(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The weightlens table of a TOML file and its label for messages.

    A file named ``pyproject.toml`` holds it under ``[tool.weightlens]`` (None when absent);
    any other file holds the keys at top level (like ruff.toml beside ``[tool.ruff]``).
    """
    doc = read_toml(path)
    if path.name == "pyproject.toml":
        tool = doc.get("tool", {})
        table = tool.get("weightlens") if isinstance(tool, dict) else None
        if table is not None and not isinstance(table, dict):
            raise ConfigError(f"{path}", "tool.weightlens", f"expected a table, got {quote(table)}")
        return table, f"{path} [tool.weightlens]"
    return doc, str(path)


def find_pyproject(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest pyproject.toml with a ``[tool.weightlens]`` table, from ``start`` (the CWD) up.

    Like ruff, a pyproject.toml without the table is passed over, so a package's own
    pyproject.toml does not hide the settings of the repository around it.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and config_table(candidate)[0] is not None:
            return candidate
    return None


def load_config(
    cli: Mapping[str, Any] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    *,
    pyproject: bool = True,
    cwd: str | os.PathLike[str] | None = None,
) -> CheckConfig:
    """Merge the rule settings of a check.

    Parameters
    ----------
    cli : rule name -> limit from the command line (None values are "not given").
    config_file : a TOML file (``--config``): top-level keys, or ``[tool.weightlens]`` when it
        is a pyproject.toml.
    pyproject : read the nearest pyproject.toml with a ``[tool.weightlens]`` table.
    cwd : where the pyproject.toml search starts (default: the current directory).

    Returns
    -------
    CheckConfig

    Raises
    ------
    ConfigError
        For an unreadable file, invalid TOML, an unknown key or a value of the wrong type or range.
    """
    limits: dict[str, Limit | None] = {r.name: r.default for r in RULES}
    overrides: list[Override] = []
    sources: list[str] = []
    files = [p for p in (find_pyproject(cwd) if pyproject else None, Path(config_file) if config_file else None) if p]
    for path in files:
        table, label = config_table(path)
        file_limits, file_overrides = parse_table(table or {}, label)
        limits.update(file_limits)
        overrides.extend(file_overrides)
        sources.append(str(path))
    for key, value in (cli or {}).items():
        if value is None:
            continue
        rule = RULES_BY_NAME.get(key)
        if rule is None:
            raise _unknown(COMMAND_LINE, key)
        limits[key] = rule.validate(value, COMMAND_LINE, rule.flag)
    return CheckConfig(limits, tuple(overrides), tuple(sources))
