"""What a pass is: a function of one tensor's context with declared output fields.

A pass reads what it needs from :class:`TensorContext` — values, matrix view, elementwise
statistics, the spectrum — each computed at most once per tensor and shared, and returns a
dict with exactly its declared fields. Adding a pass touches no other pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np

from weightlens.checkpoint.header import TensorInfo
from weightlens.linalg.elementwise import ElementStats, element_stats
from weightlens.linalg.spectrum import Spectrum, compute_spectrum
from weightlens.passes.options import AnalysisOptions
from weightlens.views.matrix import Layout, as_matrix

JsonType = Literal["number", "integer", "boolean", "string", "array", "object"]


@dataclass(frozen=True)
class Field:
    """One output field of a pass: its JSON report name, type and meaning.

    ``schema`` overrides the JSON Schema derived from ``type``/``nullable`` (for arrays and objects).
    """

    name: str
    type: JsonType
    description: str
    nullable: bool = False
    schema: Mapping[str, Any] | None = None

    def json_schema(self) -> dict[str, Any]:
        if self.schema is not None:
            s = dict(self.schema)
        else:
            s = {"type": [self.type, "null"] if self.nullable else self.type}
        s["description"] = self.description
        return s


@dataclass(frozen=True)
class Pass:
    """An analysis pass.

    Attributes
    ----------
    name : the name used in ``--passes``.
    description : one line for help texts.
    scope : "tensor" runs on every decoded tensor (elementwise passes); "matrix" runs only on
        finite matrices (spectral passes).
    fields : the fields ``run`` returns, in report order.
    run : ``run(ctx) -> {field name: value}``.
    spectrum_only : ``run`` reads nothing but ``ctx.spectrum`` and ``ctx.options``, so the pass
        also runs on matrices known only through their singular values (a LoRA update
        ΔW = s·B·A, whose m×n product is never formed; see :mod:`weightlens.pipeline.lora`).
    """

    name: str
    description: str
    scope: Literal["tensor", "matrix"]
    fields: tuple[Field, ...]
    run: Callable[[TensorContext], dict[str, Any]] = field(repr=False)
    spectrum_only: bool = False


class TensorContext:
    """One tensor under analysis; derived quantities are computed on first use and cached.

    Parameters
    ----------
    info : the tensor's header entry.
    layout : how it is viewed (matrix or not, and why).
    values : decoded values in the declared shape.
    options : the run's options.
    """

    def __init__(self, info: TensorInfo, layout: Layout, values: np.ndarray, options: AnalysisOptions) -> None:
        self.info = info
        self.layout = layout
        self.values = values
        self.options = options

    @cached_property
    def stats(self) -> ElementStats:
        return element_stats(self.values)

    @cached_property
    def matrix(self) -> np.ndarray:
        return as_matrix(self.values, self.layout)

    @cached_property
    def spectrum(self) -> Spectrum:
        u_store = self.info.dtype_info.unit_roundoff
        assert u_store is not None, "spectral passes run on float tensors only"
        o = self.options
        return compute_spectrum(self.matrix, u_store, o.precision, max_abs=self.stats.max_abs, mode=o.spectrum, top_k=o.top_k)
