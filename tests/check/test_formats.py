"""Output formats of a check: JSON (validated), GitHub workflow commands, JUnit XML, the final line."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import validate_report
from weightlens.check import CheckConfig, load_config, run_check
from weightlens.check.evaluate import Outcome
from weightlens.check.result import CheckResult
from weightlens.check.schema import check_schema
from weightlens.render.github import escape_data, escape_property, render_github
from weightlens.render.junit import render_junit, xml_text
from weightlens.report.schema import shipped_schema
from weightlens.testing import geometric_spectrum, low_rank, with_spectrum, write_safetensors

ANNOTATION = re.compile(r"^::error file=(?P<file>[^,:]*),title=(?P<title>[^,:]*)::(?P<message>[^\r\n]*)$")


def unescape(text: str) -> str:
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


@pytest.fixture
def mixed(rng, tmp_path: Path) -> tuple[Path, CheckResult]:
    """A checkpoint with a violation per kind: singular, ill-conditioned, NaN (skipping κ), and a healthy one."""
    nan = with_spectrum(rng, 8, 8, np.linspace(1, 0.5, 8))
    nan[0, 0] = np.nan
    weird = "odd%name,with:colon\nand newline"
    (tmp_path / "we,ird:dir").mkdir()
    path = write_safetensors(
        tmp_path / "we,ird:dir" / "m.safetensors",
        {
            "singular": low_rank(rng, 8, 8, 2),
            weird: with_spectrum(rng, 8, 8, geometric_spectrum(8, 1e3)),
            "nan": nan,
            "ok": with_spectrum(rng, 8, 8, np.linspace(1, 0.5, 8)),
        },
    )
    return path, run_check(path, load_config({"max_condition": 100.0}, pyproject=False))


def test_json_validates_against_the_shipped_schema(mixed) -> None:
    _, result = mixed
    doc = validate_report(json.dumps(result.to_dict(), allow_nan=False), "check")
    assert doc["summary"] | {"duration_s": 0, "line": ""} == {
        "passed": False, "tensors": 4, "rules": ["allow_unreadable", "allow_nonfinite", "allow_all_zero", "max_condition"],
        "checks": 16, "violations": 3, "failed_tensors": 3, "not_evaluated": 1, "strict": False, "duration_s": 0, "line": "",
    }  # fmt: skip
    assert next((v["tensor"], v["rule"], v["value"]) for v in doc["violations"]) == ("nan", "allow_nonfinite", 1)
    assert {v["tensor"]: v["value"] for v in doc["violations"] if v["rule"] == "max_condition"}["singular"] is None
    assert doc["not_evaluated"] == [
        {"tensor": "nan", "file": str(mixed[0]), "rule": "max_condition", "reason": "not evaluated: non-finite"}
    ]


def test_shipped_check_schema_is_the_builders_output() -> None:
    assert shipped_schema("check") == check_schema()


def test_github_annotations_one_per_violation_escaped(mixed) -> None:
    path, result = mixed
    lines = render_github(result).splitlines()
    assert len(lines) == len(result.violations) == 3
    parsed = [ANNOTATION.match(line) for line in lines]
    assert all(parsed), lines
    assert {unescape(m["title"]) for m in parsed} == {"weightlens allow_nonfinite", "weightlens max_condition"}
    assert {unescape(m["file"]) for m in parsed} == {str(path)}
    messages = [unescape(m["message"]) for m in parsed]
    assert "odd%name,with:colon\\x0aand newline: condition number κ = 1000 exceeds max_condition = 100" in messages  # one line


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [("50%", "50%25", "50%25"), ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"), ("x:y,z", "x:y,z", "x%3Ay%2Cz"), ("%3A", "%253A", "%253A")],
)
def test_github_escaping(raw: str, data: str, prop: str) -> None:
    assert escape_data(raw) == data
    assert escape_property(raw) == prop
    assert unescape(prop) == raw


def test_junit_has_one_testcase_per_tensor_and_rule(mixed) -> None:
    _, result = mixed
    root = ET.fromstring(render_junit(result))
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    for element in (root, suite):
        assert {k: element.get(k) for k in ("tests", "failures", "skipped", "errors")} == {
            "tests": "16",
            "failures": "3",
            "skipped": "1",
            "errors": "0",
        }
    cases = suite.findall("testcase")
    assert len(cases) == 16
    assert len({(c.get("classname"), c.get("name")) for c in cases}) == 16
    failed = {(c.get("classname"), c.get("name")): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {("singular", "max_condition"), ("odd%name,with:colon\\x0aand newline", "max_condition"), ("nan", "allow_nonfinite")}
    assert failed["singular", "max_condition"].get("message") == "condition number κ = ∞ (numerically singular) exceeds max_condition = 100"
    assert [c.get("classname") for c in cases if c.find("skipped") is not None] == ["nan"]


def test_junit_survives_names_xml_cannot_hold() -> None:
    result = CheckResult(
        [],
        CheckConfig(),
        None,
        1,
        ("allow_nonfinite",),
        [Outcome("bad\x01name\x00", "f", "allow_nonfinite", "fail", 3, False, "m\x1b", "3")],
        0.1,
    )
    case = ET.fromstring(render_junit(result)).find("testsuite/testcase")
    assert case is not None and case.get("classname") == "bad\\x01name\\x00"
    assert xml_text("ok\tå\U0001f600\ufffe") == "ok\\x09å\U0001f600\\ufffe"


@pytest.mark.parametrize(
    ("tensors", "violations", "skipped", "line"),
    [
        (31, [], 0, "all 31 tensors pass 9 rules in 0.42s"),
        (1, [], 0, "the 1 tensor passes 9 rules in 0.42s"),
        (31, [("a", "x"), ("b", "y")], 0, "2 violations in 2 tensors (31 tensors checked, 9 rules) in 0.42s"),
        (31, [("a", "x"), ("a", "y")], 2, "2 violations in 1 tensor (31 tensors checked, 9 rules, 2 checks not evaluated) in 0.42s"),
        (31, [], 1, "all 31 tensors pass 9 rules, 1 check not evaluated in 0.42s"),
    ],
)
def test_summary_line_like_pytest(tensors, violations, skipped, line) -> None:
    outcomes = [Outcome(t, "f", r, "fail", 1.0, 0.5) for t, r in violations] + [Outcome("s", "f", "r", "skip", None, 1.0)] * skipped
    result = CheckResult([], CheckConfig(), None, tensors, tuple(f"r{i}" for i in range(9)), outcomes, 0.4212)
    assert result.summary_line() == line
    assert result.exit_code == (1 if violations else 0)


def test_cli_formats_put_the_line_on_stderr(cli, mixed) -> None:
    path, _ = mixed
    for fmt in ("json", "github", "junit"):
        result = cli("check", path, "--max-condition", "100", "-f", fmt)
        assert result.exit_code == 1
        assert result.stderr.startswith("3 violations in 3 tensors (4 tensors checked, 4 rules, 1 check not evaluated) in ")
    assert validate_report(cli("check", path, "--max-condition", "100", "-f", "json").stdout, "check")
    assert ET.fromstring(cli("check", path, "--max-condition", "100", "-f", "junit").stdout).get("failures") == "3"
    assert cli("check", path, "-f", "github", "-q", "--max-condition", "100").stderr == ""
