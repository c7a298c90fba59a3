"""Property: whatever bytes lie on disk, weightlens returns a report or raises its own input error.

Valid checkpoints are mutated at the JSON level (entries given arbitrary values, keys dropped or
added) and at the byte level (flips, truncation, insertion — anywhere, the length prefix included).
No other exception may escape, and no RuntimeWarning either (pytest turns them into errors).
"""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weightlens import AnalysisOptions, analyze
from weightlens.errors import WeightlensError
from weightlens.testing import encode, write_safetensors

DTYPES = ["F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I64", "I8", "U8", "BOOL"]
# Derandomized so that CI is reproducible; raise max_examples locally to search further.
SETTINGS = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None, derandomize=True)
OPTIONS = AnalysisOptions(full_spectrum=True)

shapes = st.lists(st.integers(0, 6), min_size=0, max_size=4).map(tuple)
tensor = st.tuples(st.sampled_from(DTYPES), shapes, st.integers(0, 2**32 - 1))
checkpoints = st.dictionaries(st.text(min_size=1, max_size=12), tensor, min_size=1, max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)


def build(spec: dict[str, tuple[str, tuple[int, ...], int]]) -> bytes:
    tensors = {}
    for name, (dtype, shape, seed) in spec.items():
        values = np.random.default_rng(seed).standard_normal(shape) * 3
        tensors[name] = encode(values if dtype.startswith(("F", "B")) else values.astype(np.int64) % 100, dtype)
    with tempfile.TemporaryDirectory() as d:
        return write_safetensors(Path(d) / "x.safetensors", tensors).read_bytes()


def run(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.safetensors"
        path.write_bytes(content)
        try:
            report = analyze(path, OPTIONS)
        except WeightlensError as e:
            assert "\n" not in str(e) and str(path) in str(e)
            return
        json.dumps(report.to_dict(), allow_nan=False)


@SETTINGS
@given(checkpoints, st.data())
def test_header_mutations(spec, data) -> None:  # type: ignore[no-untyped-def]
    content = build(spec)
    (n,) = struct.unpack("<Q", content[:8])
    header = json.loads(content[8 : 8 + n])
    names = list(header)
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(names))
        action = data.draw(st.sampled_from(["replace", "field", "drop-field", "add"]))
        if action == "replace":
            header[name] = data.draw(json_values)
        elif action == "add":
            header[data.draw(st.text(max_size=6))] = data.draw(json_values)
        elif isinstance(header[name], dict) and header[name]:
            key = data.draw(st.sampled_from(sorted(header[name])))
            if action == "field":
                header[name][key] = data.draw(json_values | st.lists(st.integers(-(2**66), 2**66), max_size=3))
            else:
                del header[name][key]
    raw = json.dumps(header).encode()
    run(struct.pack("<Q", len(raw)) + raw + content[8 + n :])


@SETTINGS
@given(checkpoints, st.data())
def test_byte_mutations(spec, data) -> None:  # type: ignore[no-untyped-def]
    content = bytearray(build(spec))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "set-length"]))
        pos = data.draw(st.integers(0, max(0, len(content) - 1)))
        if action == "flip" and content:
            content[pos] ^= data.draw(st.integers(1, 255))
        elif action == "truncate":
            del content[pos:]
        elif action == "insert":
            content[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif action == "set-length" and len(content) >= 8:
            content[:8] = struct.pack("<Q", data.draw(st.integers(0, 2**64 - 1)))
    run(bytes(content))
