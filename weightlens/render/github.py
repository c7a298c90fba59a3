"""GitHub Actions workflow commands: one ``::error`` annotation per violation.

Escaping follows the Actions toolkit (``@actions/core`` ``issueCommand``): in the message,
``%``, CR and LF become ``%25``, ``%0D``, ``%0A``; in properties (``file``, ``title``) also
``:`` and ``,`` become ``%3A`` and ``%2C``. Before that, names and messages go through
:func:`~weightlens.text.visible`: the runner writes an annotation's message to the log
and its page, where ESC, BS or a bidi override would act as they do in a terminal.
"""

from __future__ import annotations

from weightlens.check.result import CheckResult
from weightlens.text import visible


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: CheckResult) -> str:
    """``::error file=F,title=weightlens RULE::TENSOR: MESSAGE`` lines, one per violation."""
    return "".join(
        f"::error file={escape_property(visible(v.file, backslash=False))},title={escape_property(f'weightlens {v.rule}')}::"
        f"{escape_data(visible(v.tensor) + ': ' + visible(v.message, backslash=False))}\n"
        for v in result.violations
    )
