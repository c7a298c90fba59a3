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
from weightlens.errors import FileFormatError, UsageError, cut
from weightlens.passes.options import AnalysisOptions
from weightlens.report.records import FileEntry, InputEntry, Report, TensorRecord, summarize
from weightlens.report.schema import shipped_schema


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
    return f"{where.lstrip('.')}: {cut(error.message, 200)}"


def _field_groups() -> dict[str, frozenset[str]]:
    """The fields a record holds all or none of: each pass's, and a LoRA update's (``sigma`` is
    optional: only with full_spectrum)."""
    from weightlens.passes import PASSES
    from weightlens.pipeline.lora import LORA_FIELDS

    groups = {f"{p.name} pass": frozenset(f.name for f in p.fields) - {"sigma"} for p in PASSES.values()}
    groups["LoRA update"] = frozenset(f.name for f in LORA_FIELDS)
    return groups


def record_problem(entry: dict[str, Any]) -> str | None:
    """What makes a schema-valid tensor record inconsistent, as its readers assume it is not; None when nothing.

    ``matrix_shape`` is (m, n); the fields of a pass come all together; ``sigma`` has min(m, n) values.
    """
    shape = entry.get("matrix_shape")
    if shape is not None and len(shape) != 2:
        return f"matrix_shape: expected [m, n], got {len(shape)} numbers"
    for group, fields in _field_groups().items():
        have = fields & entry.keys()
        if have and have != fields:
            return f"{min(fields - have)}: missing, though the record has other fields of the {group}"
    sigma = entry.get("sigma")
    if sigma is not None and (shape is None or len(sigma) != min(shape)):
        return f"sigma: expected min(m, n) values for matrix_shape {shape}, got {len(sigma)}"
    return None


def load_report_document(path: str | os.PathLike[str], what: str = "saved report") -> dict[str, Any]:
    """The JSON document of a saved ``analyze --format json`` report, validated against its schema.

    Raises
    ------
    InputError
        When the file cannot be read, is not standard JSON (NaN, Infinity and out-of-range
        numbers included), or does not validate against the shipped report schema.
    """
    doc: dict[str, Any] = load_json(path, what)
    problem = report_problem(doc)
    for i, entry in enumerate(doc["tensors"] if problem is None else ()):
        problem = record_problem(entry)
        if problem is not None:
            problem = f"tensors[{i}].{problem}"
            break
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
        raise FileFormatError(path, f"cannot read saved report: not a weightlens analyze report: options: {e}") from None
    return Report(inputs, options, records, summarize(records, doc["summary"]["excluded"]))


def _options(d: dict[str, Any]) -> AnalysisOptions:
    """The saved options as AnalysisOptions (which validates their values); unknown ones are ignored."""
    fields = {f.name: f for f in dataclasses.fields(AnalysisOptions)}
    kwargs: dict[str, Any] = {}
    for key, value in d.items():
        if key not in fields:
            continue
        if isinstance(fields[key].default, tuple):  # passes, ranks, globs: JSON arrays
            if not isinstance(value, list):
                raise UsageError(f"{key}: expected an array, got {type(value).__name__}")
            if key in ("passes", "include", "exclude") and not all(isinstance(v, str) for v in value):
                raise UsageError(f"{key}: expected an array of strings")
            value = tuple(value)
        kwargs[key] = value
    return AnalysisOptions(**kwargs)


def select(report: Report, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Report:
    """The report restricted to the tensors the name globs select (as ``--include``/``--exclude``)."""
    from weightlens.pipeline.run import selected

    if not include and not exclude:
        return report
    kept = [r for r in report.tensors if selected(r.name, include, exclude)]
    excluded = report.summary.excluded + len(report.tensors) - len(kept)
    return dataclasses.replace(report, tensors=kept, summary=summarize(kept, excluded))
