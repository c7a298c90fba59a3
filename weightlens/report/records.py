"""The report: one typed record per tensor, a summary, the inputs and options.

``Report.to_dict()`` is the JSON document (validated by ``schemas/report.schema.json``);
records are flat — identity fields then each pass's fields — so jq and pandas read them
directly. Non-finite floats become ``null``: the JSON never holds NaN or Infinity tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from weightlens.__about__ import __version__
from weightlens.passes.options import AnalysisOptions

SCHEMA_VERSION = "1.0"


@overload
def jsonable(x: Mapping[str, Any]) -> dict[str, Any]: ...
@overload
def jsonable(x: Any) -> Any: ...
def jsonable(x: Any) -> Any:
    """A JSON-safe copy: numpy scalars to Python, tuples to lists, NaN/±inf to None."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


class MetricsAccess:
    """``record[key]`` and ``record.get(key)`` read the record's ``metrics`` dict."""

    metrics: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.metrics[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.metrics.get(key, default)


@dataclass
class TensorRecord(MetricsAccess):
    """What weightlens found about one tensor.

    Attributes
    ----------
    name, file, dtype, shape, parameters : identity, from the header.
    kind : "matrix", "reshaped" (>2-D viewed as (shape[0], rest)), "lora" (a LoRA update
        ΔW = s·B·A of an adapter; shape is ΔW's), or why it is no matrix: "vector", "scalar",
        "empty", "non-float", "unsupported", "unreadable" (see ``error``).
    matrix_shape : (m, n) of the matrix view, or None.
    skipped : why the spectral passes did not run ("non-finite", "1-D tensor ...") or None.
    error : why the tensor could not be read at all, or None.
    metrics : each pass's fields (see the passes' declarations and the README glossary).
    hf_name : the Hugging Face name of a GGUF tensor, when gguf's name map has one (in the JSON
        only when set).
    """

    name: str
    file: str
    dtype: str
    shape: tuple[int, ...]
    parameters: int
    kind: str
    matrix_shape: tuple[int, int] | None = None
    skipped: str | None = None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    hf_name: str | None = None

    @property
    def analyzed(self) -> bool:
        """The spectral passes ran."""
        return self.matrix_shape is not None and self.skipped is None and self.error is None

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "name": self.name,
            "file": self.file,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "parameters": self.parameters,
            "kind": self.kind,
            "matrix_shape": list(self.matrix_shape) if self.matrix_shape else None,
            "skipped": self.skipped,
            "error": self.error,
        }
        if self.hf_name is not None:
            head["hf_name"] = self.hf_name
        record: dict[str, Any] = jsonable({**head, **self.metrics})  # Any in the metrics makes the overload ambiguous
        return record

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorRecord:
        """Rebuild a record from its JSON form (e.g. a saved report used as a baseline)."""
        ident = {"name", "file", "dtype", "shape", "parameters", "kind", "matrix_shape", "skipped", "error", "hf_name"}
        return cls(
            name=d["name"],
            file=d["file"],
            dtype=d["dtype"],
            shape=tuple(d["shape"]),
            parameters=d["parameters"],
            kind=d["kind"],
            matrix_shape=tuple(d["matrix_shape"]) if d.get("matrix_shape") else None,
            skipped=d.get("skipped"),
            error=d.get("error"),
            hf_name=d.get("hf_name"),
            metrics={k: v for k, v in d.items() if k not in ident},
        )


@dataclass(frozen=True)
class FileEntry:
    """One file read: path, size, SHA-256 of its header, number of tensors."""

    path: str
    size: int
    header_sha256: str
    tensors: int


@dataclass(frozen=True)
class InputEntry:
    """One checkpoint path as given, how it was laid out, and its files."""

    path: str
    layout: str
    files: tuple[FileEntry, ...]
    tensors: int
    selected: int

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {"path": self.path, "layout": self.layout, "tensors": self.tensors, "selected": self.selected, "files": [vars(f) for f in self.files]}
        )


@dataclass
class Summary:
    """Counts over the records and the layers most worth a look.

    Attributes
    ----------
    tensors : stored tensors the records cover (a LoRA record covers its two factors);
    records : records in the report; analyzed : spectral passes ran; skipped : they did not
        (with ``skipped_reasons``: reason -> names); errors : tensors that could not be read.
    excluded : tensors left out by include/exclude filters.
    parameters : total elements of the reported tensors.
    flags : count per health flag (nonfinite, all_zero, singular, ill_conditioned, rank_deficient;
        lora_rank_deficient: LoRA updates of numerical rank < r); ``flagged``: flag -> the names
        counted, in checkpoint order.
    worst_condition : up to 5 (name, κ) with the largest κ, singular (κ = None) first,
        by increasing rank ratio.
    lowest_rank_ratio : up to 5 (name, rank_ratio), smallest first.
    LoRA updates have rank ≤ r < min(m, n) by construction, so they are singular and
    rank-deficient by definition; they count in neither those flags nor the two rankings.
    """

    tensors: int = 0
    records: int = 0
    analyzed: int = 0
    skipped: int = 0
    errors: int = 0
    excluded: int = 0
    parameters: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, list[str]] = field(default_factory=dict)
    worst_condition: list[tuple[str, float | None]] = field(default_factory=list)
    lowest_rank_ratio: list[tuple[str, float]] = field(default_factory=list)
    skipped_reasons: dict[str, list[str]] = field(default_factory=dict)
    error_list: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "tensors": self.tensors,
                "records": self.records,
                "analyzed": self.analyzed,
                "skipped": self.skipped,
                "errors": self.errors,
                "excluded": self.excluded,
                "parameters": self.parameters,
                "flags": self.flags,
                "flagged": self.flagged,
                "worst_condition": [{"name": n, "condition_number": k} for n, k in self.worst_condition],
                "lowest_rank_ratio": [{"name": n, "rank_ratio": r} for n, r in self.lowest_rank_ratio],
                "skipped_reasons": self.skipped_reasons,
                "error_list": [{"name": n, "error": e} for n, e in self.error_list],
            }
        )


FLAG_FIELDS = ("singular", "ill_conditioned", "rank_deficient", "all_zero")
_LORA_EXPECTED = frozenset({"singular", "ill_conditioned", "rank_deficient"})


def summarize(records: list[TensorRecord], excluded: int = 0, worst: int = 5) -> Summary:
    """Counts, flags and worst layers of a list of records."""
    s = Summary(tensors=sum(2 if r.kind == "lora" else 1 for r in records), records=len(records), excluded=excluded)
    s.flagged = {"nonfinite": [], **{f: [] for f in FLAG_FIELDS}, "lora_rank_deficient": []}
    conds: list[tuple[str, float | None]] = []
    ratios: list[tuple[str, float]] = []
    for r in records:
        s.parameters += r.parameters
        if r.error:
            s.errors += 1
            s.error_list.append((r.name, r.error))
            continue
        if r.get("nan_count", 0) or r.get("inf_count", 0):
            s.flagged["nonfinite"].append(r.name)
        lora = r.kind == "lora"
        for f in FLAG_FIELDS:
            if r.get(f) and not (lora and f in _LORA_EXPECTED):
                s.flagged[f].append(r.name)
        if lora and "numerical_rank" in r.metrics and r["numerical_rank"] < r["lora_rank"] and not r.get("all_zero"):
            s.flagged["lora_rank_deficient"].append(r.name)
        if r.analyzed:
            s.analyzed += 1
            if lora:
                continue
            if "singular" in r.metrics:
                conds.append((r.name, r["condition_number"]))
            if r.get("rank_ratio") is not None:
                ratios.append((r.name, r["rank_ratio"]))
        elif r.skipped:
            s.skipped += 1
            s.skipped_reasons.setdefault(r.skipped, []).append(r.name)
    s.flags = {f: len(names) for f, names in s.flagged.items()}
    ratio_of = dict(ratios)
    # Singular first (the lowest rank ratio first among them), then by decreasing κ.
    conds.sort(key=lambda nk: (0, ratio_of.get(nk[0], 0.0)) if nk[1] is None else (1, -nk[1]))
    s.worst_condition = conds[:worst]
    s.lowest_rank_ratio = sorted(ratios, key=lambda nr: nr[1])[:worst]
    return s


@dataclass
class Report:
    """A whole analysis: inputs, options, one record per tensor (checkpoint order), summary."""

    inputs: list[InputEntry]
    options: AnalysisOptions
    tensors: list[TensorRecord]
    summary: Summary

    def __iter__(self) -> Iterator[TensorRecord]:
        return iter(self.tensors)

    def __getitem__(self, name: str) -> TensorRecord:
        for r in self.tensors:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "weightlens", "version": __version__},
            "inputs": [i.to_dict() for i in self.inputs],
            "options": jsonable(self.options.to_dict()),
            "tensors": [r.to_dict() for r in self.tensors],
            "summary": self.summary.to_dict(),
        }
