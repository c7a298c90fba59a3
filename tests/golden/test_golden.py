"""The JSON of analyze, diff, check and inspect on the shipped samples is what it was when pinned."""

from __future__ import annotations

import copy
import json

import pytest

from tests.golden.cases import CASES, REPO, differences, golden_path, run


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_the_pinned_json(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the pinned documents hold paths relative to the repository root
    want = json.loads(golden_path(name).read_text())
    code, got = run(name)
    assert code == want["exit_code"]
    problems = differences(want["output"], got)
    assert not problems, problems[:10]


def _pinned(name: str) -> dict:  # type: ignore[type-arg]  # a JSON document
    return json.loads(golden_path(name).read_text())["output"]  # type: ignore[no-any-return]  # json.loads is Any


@pytest.mark.parametrize(("field", "change"), [("sigma_max", lambda r: r["sigma_max"] + 2.5 * r["sigma_error"]), ("numerical_rank", lambda r: r["numerical_rank"] + 1), ("dtype", lambda r: "F32")])
def test_a_change_beyond_the_bounds_is_caught(field: str, change) -> None:  # type: ignore[no-untyped-def]
    """The comparison is not blind: σ1 moved beyond the two runs' combined bound, a rank or a dtype changed."""
    want = _pinned("analyze_tiny_model")
    got = copy.deepcopy(want)
    record = next(r for r in got["tensors"] if r.get("sigma_max"))
    record[field] = change(record)
    assert differences(want, got)


def test_a_change_within_the_bounds_passes() -> None:
    want = _pinned("analyze_tiny_model")
    got = copy.deepcopy(want)
    record = next(r for r in got["tensors"] if r.get("sigma_max"))
    record["sigma_max"] += 0.5 * record["sigma_error"]
    assert differences(want, got) == []
