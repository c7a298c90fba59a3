"""The one exception family for bad input.

Everything a user can get wrong — a path, a file, a header, an option, a config — raises a
subclass of :class:`WeightlensError`. The CLI turns it into one line on stderr and exit code 2;
library callers can catch it like any other exception.

A message names hostile things — a tensor name from a header, a shard name from an index —
only through :func:`quote`: escaped, and at most QUOTE_LIMIT characters of it.
"""

from __future__ import annotations

import os

from weightlens.text import visible

QUOTE_LIMIT = 60
"""Most characters a message spends on one quoted value (quotes and "..." included)."""


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` − 3 characters and "..." when it is longer (for messages of a parser)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A value to name in an error message: a string in single quotes, escaped by
    :func:`~weightlens.text.visible`; anything else as its ``repr``; cut to at most
    ``limit`` characters, ending in "..." when cut (never inside an escape)."""
    text = value if isinstance(value, str) else repr(value)

    def shown(n: int) -> str:
        return f"'{visible(text[:n])}'" if isinstance(value, str) else visible(text[:n], backslash=False)

    if len(text) <= limit and len(full := shown(len(text))) <= limit:
        return full
    n = min(len(text), limit)
    while n > 0 and len(shown(n)) + 3 > limit:
        n -= 1
    return shown(n) + "..."


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

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
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


class OutputError(WeightlensError):
    """A report, figure or stream that cannot be written (full disk, read-only file system, ...).

    Parameters
    ----------
    path : the file, directory or stream ("<stdout>") that could not be written.
    problem : what failed, with the system's reason ("cannot write: No space left on device").
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class OutputClosed(OutputError):
    """The reader of a pipe went away (``weightlens analyze x | head -1``): not an error of the run.

    The CLI exits quietly with 141 (128 + SIGPIPE), the status a shell reports for a command
    stopped by a closed pipe.
    """
