"""A saved ``weightlens analyze --format json`` report, as the reference a check compares with."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weightlens.check.rules import Rule
from weightlens.errors import InputError, UsageError, quote
from weightlens.report import TensorRecord
from weightlens.run import selected
from weightlens.schema import shipped_schema


@dataclass(frozen=True)
class Baseline:
    """The tensors of an earlier report, by name.

    Attributes
    ----------
    path : the report file.
    records : name -> record, in the report's order.
    passes : the passes the report was made with (None when it does not say).
    """

    path: str
    records: dict[str, TensorRecord]
    passes: tuple[str, ...] | None = None

    def select(self, include: Sequence[str], exclude: Sequence[str]) -> Baseline:
        """The same baseline restricted to the names a check's filters select."""
        kept = {n: r for n, r in self.records.items() if selected(n, include, exclude)}
        return Baseline(self.path, kept, self.passes)

    def require(self, rules: Sequence[Rule]) -> None:
        """Raise UsageError when a baseline rule needs a pass the report was made without."""
        if self.passes is None:
            return
        for rule in rules:
            missing = [p for p in rule.passes if p not in self.passes]
            if rule.baseline and missing:
                raise UsageError(
                    f"{rule.name} compares {', '.join(rule.fields)} with the baseline, but {self.path} was "
                    f"written without the {missing[0]} pass (passes: {', '.join(self.passes) or 'none'}); "
                    f"rerun analyze with it or turn {rule.name} off"
                )


def _schema_problem(doc: Any) -> str | None:
    import jsonschema  # a runtime dependency, imported only when a baseline is used

    validator = jsonschema.Draft202012Validator(shipped_schema("report"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is None:
        return None
    where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "top level"
    return f"{where.lstrip('.')}: {error.message}"


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read and validate a JSON report written by ``weightlens analyze --format json``.

    Raises
    ------
    InputError
        When the file cannot be read, is no JSON, does not validate against the shipped report
        schema (``weightlens schema report``), or names a tensor twice.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, f"cannot read the baseline: {e.strerror or e}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"expected a JSON report written by 'weightlens analyze --format json', got invalid JSON ({e})") from None
    problem = _schema_problem(doc)
    if problem is not None:
        raise InputError(path, f"not a weightlens analyze report: {problem}")
    records: dict[str, TensorRecord] = {}
    for entry in doc["tensors"]:
        if entry["name"] in records:
            raise InputError(path, f"tensor {quote(entry['name'])} appears twice; a baseline must name each tensor once")
        records[entry["name"]] = TensorRecord.from_dict(entry)
    passes = doc["options"].get("passes")
    return Baseline(str(path), records, tuple(passes) if isinstance(passes, list) else None)
