"""Analyze one tensor: read it, view it as a matrix, run the selected passes.

:func:`analyze_tensor` is a pure function of (tensor header entry, options): it opens the
file itself, so the same call runs serially, in a process pool or on a remote worker.
"""

from __future__ import annotations

from weightlens.checkpoint.discover import Unreadable
from weightlens.checkpoint.header import TensorInfo
from weightlens.checkpoint.reader import read_tensor
from weightlens.errors import InputError
from weightlens.linalg.spectrum import SpectrumOverflow
from weightlens.passes import PASSES, TensorContext
from weightlens.passes.options import AnalysisOptions
from weightlens.report.records import TensorRecord
from weightlens.views.matrix import layout_of

NON_FINITE = "non-finite"
"""The ``skipped`` reason of a matrix holding NaN or Inf."""


def blank_record(info: TensorInfo) -> TensorRecord:
    """A tensor's record before any pass ran: identity, matrix view, why it has none."""
    layout = layout_of(info)
    return TensorRecord(
        name=info.name,
        file=str(info.file),
        dtype=info.dtype,
        shape=info.shape,
        parameters=info.parameters,
        kind=layout.kind,
        matrix_shape=layout.matrix_shape,
        skipped=layout.reason,
        hf_name=getattr(info, "hf_name", None),  # GGUF tensors only
    )


def analyze_tensor(info: TensorInfo | Unreadable, options: AnalysisOptions) -> TensorRecord:
    """Run the selected passes on one tensor.

    Elementwise passes run on every decodable tensor; spectral passes only on finite matrices.
    A tensor whose bytes cannot be read (or whose shard failed validation) gets a record with
    ``error`` set instead of raising, so one bad tensor does not lose the others' results.
    """
    if isinstance(info, Unreadable):
        return TensorRecord(info.name, str(info.file), "unknown", (), 0, "unreadable", error=info.problem)
    layout = layout_of(info)
    record = blank_record(info)
    if layout.kind == "unsupported":
        return record
    try:
        values = read_tensor(info)
    except InputError as e:
        record.error = e.problem
        return record
    ctx = TensorContext(info, layout, values, options)
    selected = [PASSES[name] for name in PASSES if name in options.passes]
    if layout.is_matrix and not ctx.stats.finite:
        record.skipped = NON_FINITE
    for p in selected:
        if p.scope == "matrix" and record.skipped is not None:
            continue
        try:
            record.metrics.update(p.run(ctx))
        except SpectrumOverflow as e:
            record.skipped = f"overflow: {e}"
    return record
