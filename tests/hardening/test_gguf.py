"""Hostile GGUF files: truncations, huge counts and lengths, bad offsets, overlapping tensors,
wrong alignments, bad versions — each one line naming the file (exit 2), fast and in bounded
memory; byte-level fuzzing finds nothing else.

The files are built byte by byte here (not by gguf's writer), so that every field can be set
to what no writer would write.
"""

from __future__ import annotations

import json
import struct
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.hardening.inputs import deadline
from weightlens import AnalysisOptions, analyze
from weightlens.checkpoint.gguf import MAX_HEADER_BYTES, MAX_NAME_BYTES, read_gguf
from weightlens.cli import app
from weightlens.errors import HeaderError, WeightlensError
from weightlens.testing.gguf_writer import quantize

U64 = 2**64 - 1
F32, Q8_0, UINT8, UINT32, STRING, ARRAY = 0, 8, 0, 4, 8, 9


def s(text: bytes | str) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def kv(key: str, vtype: int, payload: bytes) -> bytes:
    return s(key) + struct.pack("<I", vtype) + payload


def info(name: bytes | str, ne: tuple[int, ...], type_id: int, offset: int) -> bytes:
    return s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne) + struct.pack("<IQ", type_id, offset)


ARCH = kv("general.architecture", STRING, s("llama"))
Q8_BLOCKS = quantize(np.random.default_rng(0).standard_normal((8, 32)), "Q8_0").data.tobytes()  # 8 rows × 34 bytes
DATA = np.arange(64, dtype=np.float32).tobytes() + Q8_BLOCKS  # w0 at 0 (4×8 F32 = 128 bytes), w1 at 128, q at 256
INFOS = [info("blk.0.attn_q.weight", (8, 4), F32, 0), info("blk.0.attn_k.weight", (8, 4), F32, 128), info("blk.0.attn_v.weight", (32, 8), Q8_0, 256)]


def gguf_bytes(
    kvs: list[bytes] | None = None,
    infos: list[bytes] | None = None,
    data: bytes = DATA,
    version: int = 3,
    tensor_count: int | None = None,
    kv_count: int | None = None,
    alignment: int = 32,
) -> bytes:
    kvs = [ARCH] if kvs is None else kvs
    infos = INFOS if infos is None else infos
    head = b"GGUF" + struct.pack("<IQQ", version, len(infos) if tensor_count is None else tensor_count, len(kvs) if kv_count is None else kv_count)
    head += b"".join(kvs) + b"".join(infos)
    return head + bytes(-len(head) % alignment) + data


def refused(tmp_path: Path, content: bytes, match: str, name: str = "x.gguf") -> str:
    """The file is refused with one line naming it and matching ``match``, in < 5 s and < 1 MB."""
    path = tmp_path / name
    path.write_bytes(content)
    tracemalloc.start()
    try:
        with deadline(5), pytest.raises(HeaderError) as e:
            analyze(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(e.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert match in message, message
    assert peak < 1 << 20, peak
    assert path.read_bytes() == content
    return message


def test_the_valid_base_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(gguf_bytes())
    report = analyze(path)
    assert [r.name for r in report.tensors] == ["blk.0.attn_k.weight", "blk.0.attn_q.weight", "blk.0.attn_v.weight"] and report.summary.errors == 0
    assert [r.hf_name for r in report.tensors] == ["model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.weight"]


CASES = {
    "tensor count 2^64-1": (gguf_bytes(tensor_count=U64), "tensor count is 18,446,744,073,709,551,615; at most 1,000,000 are supported"),
    "tensor count past the end": (gguf_bytes(tensor_count=1_000_000), "tensor count (1,000,000) at byte 24 needs 24,000,000 bytes, past the end of the file"),
    "metadata count 2^64-1": (gguf_bytes(kv_count=U64), "metadata count is 18,446,744,073,709,551,615; at most 1,000,000 are supported"),
    "metadata count past the end": (gguf_bytes(kv_count=900), "metadata count (900) at byte 24 needs 11,700 bytes, past the end"),
    "key length 2^64-1": (gguf_bytes(kvs=[struct.pack("<Q", U64) + b"k"]), "metadata key 0 at byte 32 needs 18,446,744,073,709,551,615 bytes, past the end of the file (752 bytes; truncated?)"),
    "key longer than the limit": (gguf_bytes(kvs=[s("k" * (MAX_NAME_BYTES + 1)) + struct.pack("<IB", UINT8, 1)]), f"metadata key 0 is {MAX_NAME_BYTES + 1:,} bytes long; at most {MAX_NAME_BYTES:,} are supported"),
    "string value length 2^64-1": (gguf_bytes(kvs=[s("k") + struct.pack("<IQ", STRING, U64)]), "metadata 'k' at byte 45 needs 18,446,744,073,709,551,615 bytes, past the end"),
    "uint8 array length 2^64-1": (gguf_bytes(kvs=[kv("k", ARRAY, struct.pack("<IQ", UINT8, U64))]), "metadata 'k': array length (18,446,744,073,709,551,615) at byte 49 needs 18,446,744,073,709,551,615 bytes, past the end"),
    "string array length 2^64-1": (gguf_bytes(kvs=[kv("k", ARRAY, struct.pack("<IQ", STRING, U64))]), "metadata 'k': array length is 18,446,744,073,709,551,615; at most 4,194,304 are supported"),
    "string array past the end": (gguf_bytes(kvs=[kv("k", ARRAY, struct.pack("<IQ", STRING, 4_000_000))]), "metadata 'k': array length (4,000,000) at byte 49 needs 32,000,000 bytes, past the end"),
    "array of arrays": (gguf_bytes(kvs=[kv("k", ARRAY, struct.pack("<IQ", ARRAY, 1) + struct.pack("<IQ", UINT8, 0))]), "metadata 'k': an array of arrays"),
    "unknown value type": (gguf_bytes(kvs=[kv("k", 13, b"\0" * 8)]), "metadata 'k': unknown value type 13"),
    "unknown array item type": (gguf_bytes(kvs=[kv("k", ARRAY, struct.pack("<IQ", 99, 0))]), "metadata 'k': unknown array item type 99"),
    "duplicate key": (gguf_bytes(kvs=[ARCH, ARCH]), "duplicate metadata key 'general.architecture'"),
    "duplicate tensor": (gguf_bytes(infos=[INFOS[0], INFOS[0]]), "duplicate tensor name 'blk.0.attn_q.weight'"),
    "5 dimensions": (gguf_bytes(infos=[info("w", (1, 1, 1, 1, 1), F32, 0)]), "tensor 'w': 5 dimensions; ggml tensors have at most 4"),
    "2^32-1 dimensions": (gguf_bytes(infos=[s("w") + struct.pack("<I", 2**32 - 1)]), "tensor 'w': 4294967295 dimensions"),
    "dimension 2^63": (gguf_bytes(infos=[info("w", (2**63, 1), F32, 0)]), "tensor 'w': dimensions [9223372036854775808, 1] are beyond what numpy can hold"),
    "2^80 elements": (gguf_bytes(infos=[info("w", (2**40, 2**40), F32, 0)]), "product of the non-zero dimensions > 2**60"),
    "a row of partial blocks": (gguf_bytes(infos=[info("w", (33, 8), Q8_0, 0)]), "tensor 'w': ne[0] = 33 is not a multiple of Q8_0's block size 32"),
    "offset not aligned": (gguf_bytes(infos=[info("w", (8, 4), F32, 130)]), "tensor 'w': offset 130 is not a multiple of the alignment 32"),
    "offset 2^64-32": (gguf_bytes(infos=[info("w", (8, 4), F32, 2**64 - 32)]), "tensor 'w': data [18446744073709551584, 18446744073709551712] runs past the data section (528 bytes; file truncated?)"),
    "data past the end": (gguf_bytes(infos=[info("w", (8, 4), F32, 512)]), "runs past the data section (528 bytes; file truncated?)"),
    "overlapping tensors": (gguf_bytes(infos=[info("a", (8, 4), F32, 0), info("b", (8, 4), F32, 96)]), "tensors 'a' and 'b' overlap (bytes 0-128 and from 96)"),
    "alignment 0": (gguf_bytes(kvs=[ARCH, kv("general.alignment", UINT32, struct.pack("<I", 0))]), "general.alignment must be a UINT32 power of two, got UINT32 0"),
    "alignment 48": (gguf_bytes(kvs=[ARCH, kv("general.alignment", UINT32, struct.pack("<I", 48))]), "general.alignment must be a UINT32 power of two, got UINT32 48"),
    "alignment as UINT8": (gguf_bytes(kvs=[ARCH, kv("general.alignment", UINT8, b"\x20")]), "general.alignment must be a UINT32 power of two, got UINT8 32"),
    "alignment 2^31": (gguf_bytes(kvs=[ARCH, kv("general.alignment", UINT32, struct.pack("<I", 2**31))]), "runs past the data section (0 bytes; file truncated?)"),
    "alignment larger than the padding written": (gguf_bytes(kvs=[ARCH, kv("general.alignment", UINT32, struct.pack("<I", 64))]), "runs past the data section"),
    "version 1": (gguf_bytes(version=1), "GGUF version 1 is not supported (versions 2, 3 are)"),
    "version 4": (gguf_bytes(version=4), "GGUF version 4 is not supported"),
    "big-endian": (gguf_bytes(version=3 << 24), "a big-endian GGUF file; only little-endian GGUF files are read"),
    "name not UTF-8": (gguf_bytes(infos=[info(b"w\xff", (8, 4), F32, 0)]), "tensor 0 name is not valid UTF-8 (byte 1): 'w\\udcff'"),
    "not GGUF at all": (b"GGUX" + bytes(60), "not a GGUF file (it starts with 'GGUX', not 'GGUF')"),
    "empty": (b"", "not a GGUF file (it starts with '', not 'GGUF')"),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_header_is_one_line(tmp_path: Path, case: str) -> None:
    content, match = CASES[case]
    refused(tmp_path, content, match)


def test_a_header_beyond_256_mib_is_refused_without_reading_it(tmp_path: Path) -> None:
    head = gguf_bytes(kvs=[s("k") + struct.pack("<IQ", STRING, MAX_HEADER_BYTES)], infos=[], data=b"")
    path = tmp_path / "big.gguf"
    with open(path, "wb") as f:  # sparse: 300 MiB on paper, a few bytes on disk
        f.write(head)
        f.truncate(300 << 20)
    with deadline(5), pytest.raises(HeaderError, match=f"metadata 'k' at byte 45 would take the GGUF header past {MAX_HEADER_BYTES >> 20} MiB"):
        read_gguf(path)


def test_every_truncation_is_one_line(tmp_path: Path) -> None:
    content = gguf_bytes()
    for n in range(len(content)):
        path = tmp_path / f"t{n}.gguf"
        path.write_bytes(content[:n])
        with deadline(5), pytest.raises(HeaderError) as e:
            analyze(path)
        assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_the_cli_says_it_in_one_line_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(gguf_bytes(tensor_count=U64))
    for cmd in ("analyze", "inspect", "check"):
        result = CliRunner().invoke(app, [cmd, str(path)])
        assert result.exit_code == 2, result.output
        assert result.stderr == f"weightlens: error: {path}: tensor count is 18,446,744,073,709,551,615; at most 1,000,000 are supported\n"


def test_a_strict_entry_problem_in_a_split_part_is_only_that_tensor(tmp_path: Path) -> None:
    split = [kv("split.no", 2, struct.pack("<H", 0)), kv("split.count", 2, struct.pack("<H", 2))]
    (tmp_path / "m-1.gguf").write_bytes(gguf_bytes(kvs=[ARCH, *split], infos=[*INFOS[:2], info("bad", (8, 4), F32, 4096)]))
    split[0] = kv("split.no", 2, struct.pack("<H", 1))
    (tmp_path / "m-2.gguf").write_bytes(gguf_bytes(kvs=[ARCH, *split], infos=[info("blk.1.attn_q.weight", (8, 4), F32, 0)]))
    report = analyze(tmp_path)
    errors = {r.name: r.error for r in report.tensors if r.error}
    assert errors == {"bad": "tensor 'bad': data [4096, 4224] runs past the data section (528 bytes; file truncated?)"}
    assert report.summary.errors == 1 and len(report.tensors) == 4


SETTINGS = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None, derandomize=True)
OPTIONS = AnalysisOptions(full_spectrum=True)


def run(content: bytes) -> None:
    """A report (strict JSON) or weightlens' own one-line error naming the file; nothing else."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.gguf"
        path.write_bytes(content)
        try:
            with deadline(20):
                report = analyze(path, OPTIONS)
        except WeightlensError as e:
            assert "\n" not in str(e) and str(path) in str(e)
            return
        json.dumps(report.to_dict(), allow_nan=False)
        assert path.read_bytes() == content


@SETTINGS
@given(st.data())
def test_byte_mutations(data) -> None:  # type: ignore[no-untyped-def]
    content = bytearray(gguf_bytes(kvs=[ARCH, kv("llama.block_count", UINT32, struct.pack("<I", 1)), kv("x", ARRAY, struct.pack("<IQ", STRING, 2) + s("ab") + s(""))]))
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "u64", "u32"]))
        pos = data.draw(st.integers(0, max(0, len(content) - 1)))
        if action == "flip" and content:
            content[pos] ^= data.draw(st.integers(1, 255))
        elif action == "truncate":
            del content[pos:]
        elif action == "insert":
            content[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif action == "u64" and pos + 8 <= len(content):
            content[pos : pos + 8] = struct.pack("<Q", data.draw(st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**32, 2**63, U64]) | st.integers(0, U64)))
        elif action == "u32" and pos + 4 <= len(content):
            content[pos : pos + 4] = struct.pack("<I", data.draw(st.sampled_from([0, 1, 9, 13, 2**31, 2**32 - 1]) | st.integers(0, 2**32 - 1)))
    run(bytes(content))
