"""Saved reports: read a ``--format json`` report back.

Plots and the HTML report start from a checkpoint or from a saved report, so a large
checkpoint is analyzed once and drawn as often as needed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from weightlens.checkpoint.discover import INDEX_SUFFIX
from weightlens.errors import InputError, UsageError
from weightlens.options import AnalysisOptions
from weightlens.report import FileEntry, InputEntry, Report, TensorRecord, summarize


def is_report_file(path: str | os.PathLike[str]) -> bool:
    """A ``.json`` file that is not a shard index: a weightlens JSON report (or not JSON at all)."""
    p = Path(path)
    return p.suffix == ".json" and not p.name.endswith(INDEX_SUFFIX) and p.is_file()


def read_report(path: str | os.PathLike[str]) -> Report:
    """Read a report written by ``weightlens analyze --format json``.

    The summary is recomputed from the records; options unknown to this version are ignored.

    Raises
    ------
    InputError
        When the file is not JSON or not a weightlens report.
    """
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"expected a weightlens JSON report, got invalid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tensors"), list) or "schema_version" not in doc:
        raise InputError(path, "expected a weightlens JSON report (an object with schema_version and tensors)")
    try:
        records = [TensorRecord.from_dict(t) for t in doc["tensors"]]
        inputs = [
            InputEntry(
                path=i["path"],
                layout=i["layout"],
                files=tuple(FileEntry(f["path"], f["size"], f["header_sha256"], f["tensors"]) for f in i["files"]),
                tensors=i["tensors"],
                selected=i["selected"],
            )
            for i in doc.get("inputs", [])
        ]
        options = _options(doc.get("options", {}))
    except (KeyError, TypeError) as e:
        raise InputError(path, f"malformed weightlens report: missing or invalid {e}") from None
    except UsageError as e:
        raise InputError(path, f"malformed weightlens report options: {e}") from None
    excluded = doc.get("summary", {}).get("excluded", 0)
    return Report(inputs, options, records, summarize(records, excluded))


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
