"""JUnit XML for CI dashboards: one testcase per tensor × rule.

``classname`` is the tensor name (dotted names group like packages in most viewers), ``name``
the rule; a violation is a ``<failure>``, a check that could not be measured a ``<skipped>``.
Characters XML 1.0 cannot carry (control characters in a tensor name) are written as ``\\xNN``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from weightlens.check.result import CheckResult
from weightlens.check.rules import RULES_BY_NAME

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 forbids replaced by ``\\xNN`` escapes."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


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
        case = ET.SubElement(suite, "testcase", {"classname": xml_text(o.tensor), "name": o.rule, "file": xml_text(o.file)})
        if o.status == "fail":
            rule = RULES_BY_NAME[o.rule]
            failure = ET.SubElement(case, "failure", {"message": xml_text(o.message), "type": o.rule})
            failure.text = xml_text(f"{o.tensor}\nvalue: {o.found}\nlimit: {rule.format_limit(o.limit)}\n{o.message}")
        elif o.status == "skip":
            ET.SubElement(case, "skipped", {"message": xml_text(o.message)})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
