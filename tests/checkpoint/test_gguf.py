"""GGUF reading: the header parser against gguf's GGUFReader, every dequantizable type against
gguf.quants.dequantize, σ against a float64 SVD of the dequantized values, names, discovery."""

from __future__ import annotations

import importlib.metadata
import json
import os
import pickle
from pathlib import Path

import gguf
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import validate_report
from weightlens import AnalysisOptions, analyze
from weightlens.checkpoint import open_checkpoint, read_header, read_tensor
from weightlens.checkpoint.gguf import GGML_DTYPES, GGUFFile, GGUFTensorInfo, QuantType, read_gguf
from weightlens.checkpoint.gguf_names import hf_candidates
from weightlens.checkpoint.reader import DECODE_CHUNK
from weightlens.cli import app
from weightlens.errors import HeaderError, InputError
from weightlens.testing import low_rank, with_spectrum
from weightlens.testing.gguf_writer import Blocks, dequantized, quantize, random_blocks, write_gguf

runner = CliRunner()

QUANTIZABLE = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "TQ1_0", "TQ2_0", "MXFP4", "BF16"]
DEQUANTIZABLE = sorted(n for n, d in GGML_DTYPES.items() if isinstance(d, QuantType) and d.kind == "float")
UNDEQUANTIZABLE = sorted(n for n, d in GGML_DTYPES.items() if isinstance(d, QuantType) and d.kind == "unsupported")


def blocks_for(rng: np.random.Generator, type_name: str, shape: tuple[int, int]) -> Blocks:
    """Quantized values where gguf can quantize the type, random blocks elsewhere."""
    if type_name in QUANTIZABLE:
        return quantize(rng.standard_normal(shape), type_name)
    return random_blocks(rng, shape, type_name)


def block_size(type_name: str) -> int:
    return gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[type_name]][0]


def test_the_installed_gguf_dequantizes_what_the_tables_say() -> None:
    # Every type gguf.quants dequantizes is readable, and each has a code width (a new gguf type would fail here).
    assert {"Q4_0", "Q8_0", "Q2_K", "Q4_K", "Q6_K", "IQ2_XXS", "IQ4_XS", "TQ1_0", "MXFP4"} <= set(DEQUANTIZABLE)
    assert {"Q8_K", "Q8_1"} <= set(UNDEQUANTIZABLE)
    for name, d in GGML_DTYPES.items():
        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[name]]
        if isinstance(d, QuantType):
            assert (d.block_size, d.type_size) == (block, size) and d.bits_per_weight == 8 * size / block
            assert d.unit_roundoff == (2.0**-2 if name in ("MXFP4", "NVFP4") else 2.0 ** -d.bits) and 1 <= d.bits <= 8


def test_header_matches_gguf_reader(tmp_path: Path, rng: np.random.Generator) -> None:
    tensors = {
        "token_embd.weight": rng.standard_normal((40, 64)).astype(np.float16),
        "blk.0.attn_q.weight": quantize(rng.standard_normal((64, 64)), "Q8_0"),
        "blk.0.ffn_down.weight": random_blocks(rng, (64, 512), "Q4_K"),
        "blk.1.ffn_up.weight": random_blocks(rng, (16, 256), "Q8_K"),
        "output_norm.weight": rng.standard_normal(64).astype(np.float32),
        "blk.1.experts": random_blocks(rng, (3 * 8, 256), "Q6_K"),
    }
    meta = {
        "general.name": "tiny",
        "llama.context_length": (4096, gguf.GGUFValueType.UINT32),
        "general.quantization_version": (2, gguf.GGUFValueType.UINT32),
        "general.file_type": (15, gguf.GGUFValueType.UINT32),
        "x.u8": (250, gguf.GGUFValueType.UINT8),
        "x.i16": (-3, gguf.GGUFValueType.INT16),
        "x.u64": (2**63 + 5, gguf.GGUFValueType.UINT64),
        "x.i64": (-(2**40), gguf.GGUFValueType.INT64),
        "x.f64": (0.1, gguf.GGUFValueType.FLOAT64),
        "x.f32": 1.5,
        "x.flag": True,
        "x.heads": [8, 8, 4],
        "x.tokens": ["a", "bé", ""],
        "x.scores": [0.5] * 5000,
        "x.template": "{{ x }}" * 20000,
    }
    path = write_gguf(tmp_path / "m.gguf", tensors, metadata=meta, alignment=64)
    header = read_gguf(path)
    ref = gguf.GGUFReader(path)
    assert header.data_offset == ref.data_offset and header.alignment == ref.alignment == 64
    by_name = {t.name: t for t in header.tensors}
    assert set(by_name) == {t.name for t in ref.tensors} - {"blk.1.ffn_up.weight"}
    assert header.invalid == (("blk.1.ffn_up.weight", f"ggml type Q8_K: gguf {importlib.metadata.version('gguf')} cannot dequantize it"),)
    for r in ref.tensors:
        if r.name not in by_name:
            continue
        t = by_name[r.name]
        assert t.dtype == r.tensor_type.name and t.offset == r.data_offset and t.nbytes == r.n_bytes
        assert t.shape == tuple(reversed(r.shape.tolist())) and t.parameters == r.n_elements
        assert isinstance(t, GGUFTensorInfo) and t.file == path
    assert by_name["blk.1.experts"].shape == (24, 256)
    for key, field in ref.fields.items():
        if key.startswith("GGUF."):
            continue
        value = header.kv[key]
        if key in ("x.scores", "x.template"):
            assert (value.type, value.length) == (("ARRAY[FLOAT32]", 5000) if key == "x.scores" else ("STRING", len(meta[key])))  # type: ignore[union-attr]
        elif key == "x.tokens":
            assert (value.type, value.length) == ("ARRAY[STRING]", 3)  # type: ignore[union-attr]
        elif isinstance(value, tuple):
            assert list(value) == field.contents()
        else:
            assert value == field.contents()
    assert header.kv_types["x.u8"] == "UINT8" and header.kv_types["x.heads"] == "ARRAY[INT32]"
    s = header.summary()
    assert (s["architecture"], s["name"], s["block_count"], s["context_length"], s["quantization_version"], s["file_type"], s["file_type_name"]) == ("llama", "tiny", 2, 4096, 2, 15, "MOSTLY_Q4_K_M")
    assert len(header.sha256) == 64 and header.header_size <= header.data_offset


@pytest.mark.parametrize("type_name", [*DEQUANTIZABLE, "F32", "F16", "BF16", "F64"])
def test_every_type_reads_as_gguf_dequantizes_it(tmp_path: Path, rng: np.random.Generator, type_name: str) -> None:
    cols = max(256, block_size(type_name))
    plain = {"F32": np.float32, "F16": np.float16, "F64": np.float64}.get(type_name)
    stored: dict[str, np.ndarray | Blocks] = {}
    # "big" has more elements than one decode chunk: dequantized chunk by chunk into place.
    for name, rows in (("w", 6), ("big", DECODE_CHUNK // cols + 3)):
        stored[name] = rng.standard_normal((rows, cols)).astype(plain) if plain else blocks_for(rng, type_name, (rows, cols))
    path = write_gguf(tmp_path / "t.gguf", stored)
    ref = {r.name: r for r in gguf.GGUFReader(path).tensors}
    ckpt = open_checkpoint(path)
    assert ckpt.layout == "gguf" and not ckpt.unreadable
    for info in ckpt.tensors:
        got = read_tensor(info)
        r = ref[info.name]
        expected = r.data if r.tensor_type in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F64) else gguf.quants.dequantize(r.data, r.tensor_type)
        assert got.shape == info.shape == expected.shape
        np.testing.assert_array_equal(got, expected)  # bit for bit: the same per-block arithmetic, in chunks
        assert got.dtype == (np.float64 if type_name == "F64" else np.float32)


def test_stacked_tensor_is_reversed_to_out_in(tmp_path: Path, rng: np.random.Generator) -> None:
    values = rng.standard_normal((4, 8, 64)).astype(np.float32)  # numpy (experts, out, in) = ggml ne (in, out, experts)
    path = write_gguf(tmp_path / "e.gguf", {"blk.0.ffn_down_exps.weight": values, "blk.0.q": quantize(values.reshape(32, 64), "Q8_0")})
    header = read_gguf(path)
    info = next(t for t in header.tensors if t.name == "blk.0.ffn_down_exps.weight")
    assert info.shape == (4, 8, 64)
    np.testing.assert_array_equal(read_tensor(info), values)


@pytest.mark.parametrize("type_name", ["Q8_0", "Q4_0", "Q4_K", "IQ4_XS", "MXFP4"])
def test_sigma_matches_a_float64_svd_of_the_dequantized_values(tmp_path: Path, rng: np.random.Generator, type_name: str) -> None:
    shape = (48, 256)
    blocks = blocks_for(rng, type_name, shape) if type_name not in QUANTIZABLE else quantize(with_spectrum(rng, *shape, np.geomspace(4.0, 0.01, 48)), type_name)
    path = write_gguf(tmp_path / "s.gguf", {"blk.0.attn_output.weight": blocks})
    rec = analyze(path, AnalysisOptions(full_spectrum=True, passes=("spectrum", "rank", "condition"))).tensors[0]
    ref = np.linalg.svd(dequantized(blocks).astype(np.float64), compute_uv=False)
    assert rec.dtype == type_name and rec.kind == "matrix" and rec.hf_name == "model.layers.0.self_attn.o_proj.weight"
    # |σ̂i − σi| ≤ sigma_error: the bound the record reports for its route (float32 compute: ≤ 16-bit-like storage)
    np.testing.assert_allclose(rec["sigma"], ref, rtol=0, atol=rec["sigma_error"])
    assert rec["sigma_error"] < 1e-3 * ref[0]


def test_planted_rank_survives_q8_0_and_q4_0(tmp_path: Path, rng: np.random.Generator) -> None:
    w = low_rank(rng, 64, 128, 5)
    path = write_gguf(tmp_path / "r.gguf", {"blk.0.attn_q.weight": quantize(w, "Q8_0"), "blk.0.attn_k.weight": quantize(w, "Q4_0"), "blk.0.attn_v.weight": quantize(rng.standard_normal((64, 128)), "Q4_0")})
    recs = {r.name: r for r in analyze(path, AnalysisOptions(passes=("spectrum", "rank"))).tensors}
    # rank_tol uses u_store = 2^-b of the b-bit grid: the quantization noise of a rank-5 matrix stays below it
    assert recs["blk.0.attn_q.weight"]["numerical_rank"] == 5
    assert recs["blk.0.attn_k.weight"]["numerical_rank"] == 5
    assert recs["blk.0.attn_v.weight"]["numerical_rank"] == 64  # a full-rank Gaussian stays full rank at 4 bits


def test_unsupported_and_unknown_types_are_unreadable_and_the_rest_analyzed(tmp_path: Path, rng: np.random.Generator) -> None:
    path = write_gguf(tmp_path / "u.gguf", {"blk.0.attn_q.weight": random_blocks(rng, (16, 256), "Q8_K"), "blk.0.attn_k.weight": random_blocks(rng, (16, 256), "Q4_K"), "blk.0.attn_v.weight": random_blocks(rng, (16, 64), "Q8_1")})
    raw = bytearray(path.read_bytes())
    ref = {r.name: r for r in gguf.GGUFReader(path).tensors}
    # Give blk.0.attn_v.weight a type id the installed gguf does not know (its u32 sits 12 bytes before its u64 offset's end).
    field = ref["blk.0.attn_v.weight"].field
    type_at = field.offset + sum(p.nbytes for p in field.parts[:4])
    assert int.from_bytes(raw[type_at : type_at + 4], "little") == gguf.GGMLQuantizationType.Q8_1
    raw[type_at : type_at + 4] = (250).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    result = runner.invoke(app, ["analyze", str(path), "-f", "json"])
    assert result.exit_code == 1, result.output
    doc = validate_report(result.stdout)
    recs = {r["name"]: r for r in doc["tensors"]}
    assert recs["blk.0.attn_k.weight"]["kind"] == "matrix" and recs["blk.0.attn_k.weight"]["sigma_max"] > 0 and recs["blk.0.attn_k.weight"]["error"] is None
    assert recs["blk.0.attn_q.weight"]["kind"] == "unreadable" and "Q8_K" in recs["blk.0.attn_q.weight"]["error"]
    assert recs["blk.0.attn_v.weight"]["kind"] == "unreadable" and "ggml type 250 is unknown to gguf" in recs["blk.0.attn_v.weight"]["error"]
    listing = runner.invoke(app, ["inspect", str(path)])
    assert listing.exit_code == 1 and "unreadable: blk.0.attn_q.weight (u.gguf): ggml type Q8_K" in listing.stdout


LLAMA_HF = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
    "blk.0.attn_norm.weight": "model.layers.0.input_layernorm.weight",
    "blk.0.attn_q.weight": "model.layers.0.self_attn.q_proj.weight",
    "blk.0.attn_k.weight": "model.layers.0.self_attn.k_proj.weight",
    "blk.0.attn_v.weight": "model.layers.0.self_attn.v_proj.weight",
    "blk.0.attn_output.weight": "model.layers.0.self_attn.o_proj.weight",
    "blk.1.ffn_norm.weight": "model.layers.1.post_attention_layernorm.weight",
    "blk.1.ffn_gate.weight": "model.layers.1.mlp.gate_proj.weight",
    "blk.1.ffn_up.weight": "model.layers.1.mlp.up_proj.weight",
    "blk.1.ffn_down.weight": "model.layers.1.mlp.down_proj.weight",
}
"""The names transformers' LlamaForCausalLM gives these tensors."""


def test_hf_names_of_a_llama_file(tmp_path: Path, rng: np.random.Generator) -> None:
    tensors: dict[str, np.ndarray | Blocks] = {n: quantize(rng.standard_normal((8, 32)), "Q8_0") if n.endswith("weight") and "norm" not in n else rng.standard_normal(32).astype(np.float32) for n in LLAMA_HF}
    tensors["blk.5.attn_q.weight"] = rng.standard_normal((4, 4)).astype(np.float32)  # beyond block_count: no name
    path = write_gguf(tmp_path / "l.gguf", tensors, block_count=2)
    header = read_gguf(path)
    names = {t.name: t.hf_name for t in header.tensors if isinstance(t, GGUFTensorInfo)}
    assert names == {**LLAMA_HF, "blk.5.attn_q.weight": None}
    # gguf's own forward map sends each chosen name back to its GGUF name.
    forward = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2)
    for name, hf in LLAMA_HF.items():
        assert forward.get_name(hf, try_suffixes=(".weight", ".bias")) == name


@pytest.mark.parametrize("arch", ["llama", "qwen3", "gemma3", "gpt2", "qwen3moe", "falcon"])
def test_hf_candidates_invert_gguf_tensor_map(arch: str) -> None:
    model_arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch)
    forward = gguf.TensorNameMap(model_arch, 3).mapping
    inverted = 0
    for hf, (_, name) in forward.items():
        if any(c.isdigit() for c in hf) and not any(c.isdigit() for c in name):
            continue  # a per-block HF tensor ("layers.N...inv_freq") mapped to one GGUF tensor: no block index to invert
        if hf != name:
            assert hf in hf_candidates(name, arch, 3), (hf, name)
            assert hf + ".weight" in hf_candidates(name + ".weight", arch, 3)
            inverted += 1
    assert inverted > 20
    assert hf_candidates("blk.3.attn_q", arch, 3) == () and hf_candidates("no.such.tensor", arch, 3) == ()


def test_gguf_is_recognised_by_its_magic_wherever_a_path_is_accepted(tmp_path: Path, rng: np.random.Generator) -> None:
    values = {"blk.0.attn_q.weight": quantize(low_rank(rng, 32, 64, 3), "Q8_0")}
    (tmp_path / "d").mkdir()
    for path in (tmp_path / "model.safetensors", tmp_path / "sha256-9f8e7d", tmp_path / "d" / "model-Q8_0.gguf"):
        write_gguf(path, values)
        for given in (path, path.parent) if path.parent.name == "d" else (path,):
            ckpt = open_checkpoint(given)
            assert ckpt.layout == "gguf" and [t.name for t in ckpt.tensors] == ["blk.0.attn_q.weight"]
            for cmd in (["analyze", str(given)], ["inspect", str(given)], ["check", str(given)]):
                result = runner.invoke(app, cmd)
                assert result.exit_code == 0, (cmd, result.output)
    # read as safetensors, the message says what the file is (it used to claim a 14 GB header length)
    with pytest.raises(HeaderError, match="this is a GGUF file") as e:
        read_header(tmp_path / "model.safetensors")
    assert "100 MB" not in str(e.value)


def test_a_directory_of_unrelated_gguf_files_is_refused(tmp_path: Path, rng: np.random.Generator) -> None:
    write_gguf(tmp_path / "model-Q4_0.gguf", {"a": quantize(rng.standard_normal((4, 32)), "Q4_0")})
    write_gguf(tmp_path / "mmproj.gguf", {"b": rng.standard_normal((4, 4)).astype(np.float32)})
    with pytest.raises(InputError, match=r"2 GGUF files that are not the parts of one split model \(mmproj.gguf, model-Q4_0.gguf\); pass one of them"):
        open_checkpoint(tmp_path)


def split_part(path: Path, no: int, count: int, tensors: dict[str, np.ndarray | Blocks]) -> Path:
    meta = {"split.no": (no, gguf.GGUFValueType.UINT16), "split.count": (count, gguf.GGUFValueType.UINT16), "split.tensors.count": (2 * count, gguf.GGUFValueType.INT32)}
    return write_gguf(path, tensors, metadata=meta, block_count=count)


def test_the_parts_of_a_split_model_are_one_checkpoint(tmp_path: Path, rng: np.random.Generator) -> None:
    for i in range(3):
        split_part(tmp_path / f"m-{i + 1:05d}-of-00003.gguf", i, 3, {f"blk.{i}.attn_q.weight": quantize(rng.standard_normal((4, 32)), "Q8_0"), f"blk.{i}.attn_k.weight": rng.standard_normal((4, 8)).astype(np.float32)})
    ckpt = open_checkpoint(tmp_path)
    assert ckpt.layout == "gguf" and len(ckpt.files) == 3 and len(ckpt.tensors) == 6 and not ckpt.unreadable
    (tmp_path / "m-00002-of-00003.gguf").unlink()
    ckpt = open_checkpoint(tmp_path)
    assert len(ckpt.tensors) == 4 and [(u.name, u.problem) for u in ckpt.unreadable] == [("1 of 3 split parts", "not in the directory (a split GGUF model has split.count parts)")]
    (tmp_path / "m-00003-of-00003.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 16)  # a corrupt part is listed, the others read
    ckpt = open_checkpoint(tmp_path)
    assert [t.name for t in ckpt.tensors] == ["blk.0.attn_k.weight", "blk.0.attn_q.weight"] and ckpt.unreadable[0].name == "m-00003-of-00003.gguf"
    result = runner.invoke(app, ["analyze", str(tmp_path)])
    assert result.exit_code == 1 and "unreadable" in result.stdout


def test_inspect_shows_type_bits_shape_and_metadata(tmp_path: Path, rng: np.random.Generator) -> None:
    meta = {"llama.context_length": (8192, gguf.GGUFValueType.UINT32), "general.quantization_version": (2, gguf.GGUFValueType.UINT32), "general.file_type": (15, gguf.GGUFValueType.UINT32), "general.name": "Tiny"}
    path = write_gguf(tmp_path / "i.gguf", {"blk.0.attn_q.weight": random_blocks(rng, (8, 512), "Q4_K"), "blk.0.ffn_down.weight": random_blocks(rng, (8, 256), "Q6_K"), "output_norm.weight": np.ones(8, np.float32)}, metadata=meta)
    result = runner.invoke(app, ["inspect", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = validate_report(result.stdout, "inspect")
    entries = {t["name"]: t for t in doc["tensors"]}
    assert entries["blk.0.attn_q.weight"] == {"name": "blk.0.attn_q.weight", "dtype": "Q4_K", "shape": [8, 512], "parameters": 4096, "nbytes": 8 * 2 * 144, "file": str(path), "bits_per_weight": 8 * 144 / 256, "hf_name": "model.layers.0.self_attn.q_proj.weight"}
    assert entries["blk.0.ffn_down.weight"]["bits_per_weight"] == 8 * 210 / 256 and entries["output_norm.weight"]["bits_per_weight"] == 32
    g = doc["inputs"][0]["files"][0]["gguf"]
    assert (g["architecture"], g["context_length"], g["quantization_version"], g["file_type"], g["file_type_name"], g["name"], g["version"]) == ("llama", 8192, 2, 15, "MOSTLY_Q4_K_M", "Tiny", 3)
    assert g["metadata"]["llama.context_length"] == 8192
    assert json.loads(result.stdout) == json.loads(json.dumps(json.loads(result.stdout)))
    table = runner.invoke(app, ["inspect", str(path)]).stdout
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.strip()}
    assert rows["tensor"][:4] == ["tensor", "dtype", "bits/w", "shape"]
    assert rows["blk.0.attn_q.weight"][1:4] == ["Q4_K", "4.5", "8×512"] and rows["blk.0.ffn_down.weight"][1:3] == ["Q6_K", "6.562"] and rows["output_norm.weight"][1:3] == ["F32", "32"]
    assert "i.gguf: GGUF v3, architecture llama, blocks 1, context length 8192, quantization version 2, file type MOSTLY_Q4_K_M" in table


def test_gguf_jobs_pickle_and_run_in_workers(tmp_path: Path, rng: np.random.Generator) -> None:
    path = write_gguf(tmp_path / "p.gguf", {f"blk.{i}.attn_q.weight": quantize(low_rank(rng, 32, 64, 3), "Q4_0") for i in range(3)})
    header = read_gguf(path)
    t = header.tensors[0]
    assert pickle.loads(pickle.dumps(t)) == t and pickle.loads(pickle.dumps(t)).hf_name == t.hf_name
    serial = analyze(path, AnalysisOptions(passes=("rank",)), jobs=1)
    pooled = analyze(path, AnalysisOptions(passes=("rank",)), jobs=2)
    assert [r["numerical_rank"] for r in serial.tensors] == [r["numerical_rank"] for r in pooled.tensors] == [3, 3, 3]
    assert [r.hf_name for r in pooled.tensors] == [f"model.layers.{i}.self_attn.q_proj.weight" for i in range(3)]


def test_gguf_file_header_is_a_file_header(tmp_path: Path, rng: np.random.Generator) -> None:
    path = write_gguf(tmp_path / "h.gguf", {"w": rng.standard_normal((4, 8)).astype(np.float32)}, arch="nosuch-arch")
    header = read_gguf(path)
    assert isinstance(header, GGUFFile) and header.size == path.stat().st_size and header.stamp is not None
    assert header.architecture == "nosuch-arch" and header.block_count is None and header.tensors[0].hf_name is None  # type: ignore[attr-defined]


def test_a_gguf_changed_since_its_header_was_read_is_that_tensors_error(tmp_path: Path, rng: np.random.Generator) -> None:
    path = write_gguf(tmp_path / "c.gguf", {"blk.0.attn_q.weight": quantize(rng.standard_normal((8, 64)), "Q8_0"), "blk.0.attn_k.weight": quantize(rng.standard_normal((8, 64)), "Q8_0")})
    ckpt = open_checkpoint(path)
    size = path.stat().st_size
    os.truncate(path, size - 1)
    with pytest.raises(InputError, match=rf"cannot read tensor 'blk.0.attn_q.weight': the file changed size \({size} -> {size - 1} bytes\) since its header was read"):
        read_tensor(next(t for t in ckpt.tensors if t.name == "blk.0.attn_q.weight"))
