"""The one exception family for bad input.

Everything a user can get wrong — a path, a file, a header, an option, a config — raises a
subclass of :class:`WeightlensError`. The CLI turns it into one line on stderr and exit code 2;
library callers can catch it like any other exception.
"""

from __future__ import annotations

from pathlib import Path


class WeightlensError(Exception):
    """Base class of the errors weightlens reports to the user (exit code 2 in the CLI)."""

    exit_code = 2


class InputError(WeightlensError):
    """A checkpoint path or file that cannot be read as asked.

    Parameters
    ----------
    path : path of the offending file or directory (named in the message).
    problem : what is wrong, phrased as "expected ..., got ..." where that helps.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class HeaderError(InputError):
    """A safetensors header that fails validation."""


class FileFormatError(InputError):
    """An auxiliary file (shard index, adapter config, baseline, saved report, TOML config) that
    opens but is not valid JSON/TOML, or holds what no such file may (NaN, nesting too deep)."""


class UsageError(WeightlensError):
    """An option value or combination that makes no sense."""


class ConfigError(WeightlensError):
    """A configuration value or key that is unknown or of the wrong type.

    Parameters
    ----------
    source : where the setting came from: a file and table ("pyproject.toml [tool.weightlens]")
        or "command line".
    key : the offending key or flag, named in the message.
    problem : what is wrong, phrased as "expected ..., got ...".
    """

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        super().__init__(f"{source}: {key}: {problem}")
