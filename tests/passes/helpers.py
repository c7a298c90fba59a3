"""Run one pass-set on one array through the real pipeline (write, read, analyze)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weightlens import AnalysisOptions, analyze
from weightlens.report.records import TensorRecord
from weightlens.testing import Encoded, encode, write_safetensors


def analyze_array(tmp_path: Path, values: np.ndarray | Encoded, dtype: str | None = None, **options) -> TensorRecord:  # type: ignore[no-untyped-def]
    """Store ``values`` (in ``dtype`` if given) and return its record."""
    tensor = encode(values, dtype) if dtype else values
    path = write_safetensors(tmp_path / "t.safetensors", {"w": tensor})
    return analyze(path, AnalysisOptions(**options)).tensors[0]


def stored(values: np.ndarray, dtype: str) -> np.ndarray:
    """The float64 values of ``values`` after rounding to ``dtype`` (independent: via ml_dtypes)."""
    import ml_dtypes

    target = {"BF16": ml_dtypes.bfloat16, "F16": np.float16, "F32": np.float32, "F64": np.float64, "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2}[dtype]
    src = values.astype(np.float32) if dtype == "BF16" else values
    return src.astype(target).astype(np.float64)
