"""Helpers to build checkpoints with planted properties (tests, samples, benchmarks).

Like ``numpy.testing``: part of the package so that tests, ``sample_weights/generate.py``
and ``bench/`` share one implementation; weightlens itself never writes checkpoints.
"""

from weightlens.testing.encode import to_bf16_bits, to_f8_e4m3_bits, to_f8_e5m2_bits
from weightlens.testing.planted import (
    geometric_spectrum,
    low_rank,
    nonneg_low_rank,
    orthonormal,
    power_law_sample,
    prune_2_4,
    prune_unstructured,
    with_spectrum,
)
from weightlens.testing.writer import Encoded, encode, write_safetensors, write_sharded

__all__ = [
    "Encoded",
    "encode",
    "geometric_spectrum",
    "low_rank",
    "nonneg_low_rank",
    "orthonormal",
    "power_law_sample",
    "prune_2_4",
    "prune_unstructured",
    "to_bf16_bits",
    "to_f8_e4m3_bits",
    "to_f8_e5m2_bits",
    "with_spectrum",
    "write_safetensors",
    "write_sharded",
]
