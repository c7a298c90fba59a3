"""Saved reports: read a ``--format json`` report back.

Plots and the HTML report start from a checkpoint or from a saved report, so a large
checkpoint is analyzed once and drawn as often as needed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weightlens.checkpoint.discover import INDEX_SUFFIX
from weightlens.checkpoint.safeload import load_json
from weightlens.errors import FileFormatError, UsageError
from weightlens.options import AnalysisOptions
from weightlens.report import FileEntry, InputEntry, Report, TensorRecord, summarize
from weightlens.schema import shipped_schema


def is_report_file(path: str | os.PathLike[str]) -> bool:
    """A ``.json`` file that is not a shard index: a weightlens JSON report (or not JSON at all)."""
    p = Path(path)
    return p.suffix == ".json" and not p.name.endswith(INDEX_SUFFIX) and p.is_file()


def report_problem(doc: Any) -> str | None:
    """Where and how ``doc`` breaks the shipped report schema (``weightlens schema report``); None when it does not."""
    import jsonschema  # a runtime dependency, imported only when a saved report is read

    validator = jsonschema.Draft202012Validator(shipped_schema("report"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is None:
        return None
    where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "top level"
    return f"{where.lstrip('.')}: {_cut(error.message)}"


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_report_document(path: str | os.PathLike[str], what: str = "saved report") -> dict[str, Any]:
    """The JSON document of a saved ``analyze --format json`` report, validated against its schema.

    Raises
    ------
    InputError
        When the file cannot be read, is not standard JSON (NaN, Infinity and out-of-range
        numbers included), or does not validate against the shipped report schema.
    """
    doc = load_json(path, what)
    problem = report_problem(doc)
    if problem is not None:
        raise FileFormatError(path, f"cannot read {what}: not a weightlens analyze report: {problem}")
    return doc


def read_report(path: str | os.PathLike[str]) -> Report:
    """Read a report written by ``weightlens analyze --format json``.

    The summary is recomputed from the records; options unknown to this version are ignored.

    Raises
    ------
    InputError
        When the file is not JSON or not a weightlens report (see :func:`load_report_document`).
    """
    doc = load_report_document(path)
    records = [TensorRecord.from_dict(t) for t in doc["tensors"]]
    inputs = [
        InputEntry(
            path=i["path"],
            layout=i["layout"],
            files=tuple(FileEntry(f["path"], f["size"], f["header_sha256"], f["tensors"]) for f in i["files"]),
            tensors=i["tensors"],
            selected=i["selected"],
        )
        for i in doc["inputs"]
    ]
    try:
        options = _options(doc["options"])
    except (TypeError, UsageError) as e:
        raise FileFormatError(path, f"cannot read saved report: invalid options ({e})") from None
    return Report(inputs, options, records, summarize(records, doc["summary"]["excluded"]))


def _options(d: dict[str, Any]) -> AnalysisOptions:
    known = {f.name for f in dataclasses.fields(AnalysisOptions)}
    return AnalysisOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known})


def select(report: Report, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Report:
    """The report restricted to the tensors the name globs select (as ``--include``/``--exclude``)."""
    from weightlens.run import selected

    if not include and not exclude:
        return report
    kept = [r for r in report.tensors if selected(r.name, include, exclude)]
    excluded = report.summary.excluded + len(report.tensors) - len(kept)
    return dataclasses.replace(report, tensors=kept, summary=summarize(kept, excluded))
