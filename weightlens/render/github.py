"""GitHub Actions workflow commands: one ``::error`` annotation per violation.

Escaping follows the Actions toolkit (``@actions/core`` ``issueCommand``): in the message,
``%``, CR and LF become ``%25``, ``%0D``, ``%0A``; in properties (``file``, ``title``) also
``:`` and ``,`` become ``%3A`` and ``%2C``.
"""

from __future__ import annotations

from weightlens.check.result import CheckResult


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: CheckResult) -> str:
    """``::error file=F,title=weightlens RULE::TENSOR: MESSAGE`` lines, one per violation."""
    return "".join(
        f"::error file={escape_property(v.file)},title={escape_property(f'weightlens {v.rule}')}::"
        f"{escape_data(f'{v.tensor}: {v.message}')}\n"
        for v in result.violations
    )
