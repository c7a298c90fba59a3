"""weightlens: linear-algebra health checks for the weight matrices of safetensors checkpoints.

>>> import weightlens
>>> report = weightlens.analyze("model.safetensors")              # doctest: +SKIP
>>> for rec in report:                                              # doctest: +SKIP
...     print(rec.name, rec.get("numerical_rank"), rec.get("condition_number"))
"""

from weightlens.__about__ import __version__
from weightlens.checkpoint import Checkpoint, TensorInfo, open_checkpoint, read_tensor
from weightlens.errors import HeaderError, InputError, UsageError, WeightlensError
from weightlens.linalg.spectrum import Spectrum, compute_spectrum
from weightlens.passes.options import AnalysisOptions
from weightlens.pipeline.analyze import analyze_tensor
from weightlens.pipeline.diff import DiffOptions, DiffRecord, DiffReport, diff
from weightlens.pipeline.run import analyze, plan
from weightlens.report.records import Report, Summary, TensorRecord

__all__ = [
    "AnalysisOptions",
    "Checkpoint",
    "DiffOptions",
    "DiffRecord",
    "DiffReport",
    "HeaderError",
    "InputError",
    "Report",
    "Spectrum",
    "Summary",
    "TensorInfo",
    "TensorRecord",
    "UsageError",
    "WeightlensError",
    "__version__",
    "analyze",
    "analyze_tensor",
    "compute_spectrum",
    "diff",
    "open_checkpoint",
    "plan",
    "read_tensor",
]
