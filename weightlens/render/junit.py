"""JUnit XML for CI dashboards: one testcase per tensor × rule.

``classname`` is the tensor name (dotted names group like packages in most viewers), ``name``
the rule; a violation is a ``<failure>``, a check that could not be measured a ``<skipped>``.
Names and messages are escaped by :func:`~weightlens.text.visible` first, which also
covers every character XML 1.0 cannot carry; the document is pure ASCII (other characters as
``&#N;`` references), so it is the same in any output encoding.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from weightlens.check.result import CheckResult
from weightlens.check.rules import RULES_BY_NAME
from weightlens.text import visible


def xml_text(text: str) -> str:
    """A message as XML 1.0 can carry it: control characters (and U+FFFE/U+FFFF) as escapes."""
    return visible(text, backslash=False)


def render_junit(result: CheckResult) -> str:
    """The check as a JUnit XML document (one ``<testsuite>`` named "weightlens check")."""
    counts = {
        "tests": str(len(result.outcomes)),
        "failures": str(len(result.violations)),
        "errors": "0",
        "skipped": str(len(result.skipped)),
        "time": f"{result.duration:.3f}",
    }
    root = ET.Element("testsuites", {"name": "weightlens check", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "weightlens check", **counts})
    for o in result.outcomes:
        case = ET.SubElement(suite, "testcase", {"classname": visible(o.tensor), "name": o.rule, "file": xml_text(o.file)})
        if o.status == "fail":
            rule = RULES_BY_NAME[o.rule]
            failure = ET.SubElement(case, "failure", {"message": xml_text(o.message), "type": o.rule})
            failure.text = "\n".join((visible(o.tensor), *map(xml_text, (f"value: {o.found}", f"limit: {rule.format_limit(o.limit)}", o.message))))
        elif o.status == "skip":
            ET.SubElement(case, "skipped", {"message": xml_text(o.message)})
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="us-ascii", xml_declaration=True)
    return xml.decode("ascii") + "\n"
