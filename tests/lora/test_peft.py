"""PEFT naming, adapter_config.json, pairing of lora_A/lora_B, and adapter discovery."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from weightlens.checkpoint import open_checkpoint
from weightlens.checkpoint.peft import AdapterConfig, LoraName, LoraPair, base_name, dora_module, pair_lora, parse_lora_name, read_adapter_config
from weightlens.errors import InputError

Q = "base_model.model.model.layers.0.self_attn.q_proj"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"{Q}.lora_A.weight", LoraName(Q, "A", None, False)),
        (f"{Q}.lora_B.weight", LoraName(Q, "B", None, False)),
        (f"{Q}.lora_A.default.weight", LoraName(Q, "A", "default", False)),
        ("base_model.model.model.embed_tokens.lora_embedding_A", LoraName("base_model.model.model.embed_tokens", "A", None, True)),
        ("x.lora_embedding_B.other", LoraName("x", "B", "other", True)),
        (f"{Q}.weight", None),
        (f"{Q}.lora_magnitude_vector", None),
        (f"{Q}.lora_C.weight", None),
        ("lora_A.weight", None),
    ],
)
def test_parse_lora_name(name, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_lora_name(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (Q, "model.layers.0.self_attn.q_proj"),
        ("base_model.model.score.modules_to_save.weight", "score.weight"),
        ("model.norm.weight", "model.norm.weight"),
        ("base_model.model.model.embed_tokens.base_layer.weight", "model.embed_tokens.weight"),  # save_embedding_layers
    ],
)
def test_base_name(name, expected) -> None:  # type: ignore[no-untyped-def]
    assert base_name(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"{Q}.lora_magnitude_vector", Q),
        (f"{Q}.lora_magnitude_vector.weight", Q),
        (f"{Q}.lora_magnitude_vector.default", Q),
        (f"{Q}.lora_magnitude_vector.default.weight", Q),
        (f"{Q}.lora_magnitude_vector.a.b", None),
        (f"{Q}.lora_A.weight", None),
        ("lora_magnitude_vector", None),
    ],
)
def test_dora_module(name, expected) -> None:  # type: ignore[no-untyped-def]
    assert dora_module(name) == expected


def test_scale_with_patterns_and_rslora(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = AdapterConfig(
        tmp_path / "c.json",
        r=8,
        lora_alpha=16,
        rank_pattern={"layers.0.self_attn.q_proj": 4, "q_proj": 2},
        alpha_pattern={"v_proj": 64},
    )
    assert cfg.rank_alpha(Q) == (4, 16.0)  # the first matching pattern wins, as in PEFT
    assert cfg.scale(Q) == 4.0
    assert cfg.rank_alpha("model.layers.1.self_attn.q_proj") == (2, 16.0)
    assert cfg.scale("model.layers.1.self_attn.v_proj") == 8.0
    assert cfg.rank_alpha("model.layers.1.self_attn.xq_proj") == (8, 16.0)  # patterns match whole name segments
    assert cfg.scale("model.layers.1.mlp.up_proj") == 2.0
    rs = AdapterConfig(tmp_path / "c.json", r=16, lora_alpha=8, use_rslora=True)
    assert rs.scale("a.b") == pytest.approx(8 / math.sqrt(16))  # a Python float expression, exact to one rounding


def test_read_adapter_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "adapter_config.json"
    p.write_text(json.dumps({"peft_type": "LORA", "r": 16, "lora_alpha": 32, "use_rslora": True, "target_modules": ["q_proj"], "rank_pattern": {"q_proj": 8}, "alpha_pattern": {}}))
    cfg = read_adapter_config(p)
    assert (cfg.r, cfg.lora_alpha, cfg.use_rslora, dict(cfg.rank_pattern)) == (16, 32.0, True, {"q_proj": 8})
    p.write_text("{}")
    assert (read_adapter_config(p).r, read_adapter_config(p).lora_alpha) == (8, 8.0)  # PEFT's defaults


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("not json", "cannot read adapter config"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"peft_type": "LOHA"}), "peft_type: expected 'LORA', got 'LOHA'"),
        (json.dumps({"r": "8"}), "r: expected an integer >= 1, got '8'"),
        (json.dumps({"r": 0}), "r: expected an integer >= 1, got 0"),
        (json.dumps({"lora_alpha": True}), "lora_alpha: expected a number"),
        (json.dumps({"use_rslora": "yes"}), "use_rslora: expected true or false"),
        (json.dumps({"rank_pattern": {"q": 1.5}}), "rank_pattern['q']: expected an integer >= 1"),
        (json.dumps({"alpha_pattern": {"(": 4}}), "alpha_pattern: '(' is not a regular expression"),
    ],
)
def test_bad_adapter_config_names_file_and_key(tmp_path, doc, message) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "adapter_config.json"
    p.write_text(doc)
    with pytest.raises(InputError) as e:
        read_adapter_config(p)
    assert message in str(e.value) and "adapter_config.json" in str(e.value)


def _adapter(make_checkpoint, rng, **extra):  # type: ignore[no-untyped-def]
    tensors = {
        f"{Q}.lora_A.weight": rng.standard_normal((4, 16)).astype(np.float32),
        f"{Q}.lora_B.weight": rng.standard_normal((12, 4)).astype(np.float32),
        "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight": rng.standard_normal((4, 16)).astype(np.float32),
        "base_model.model.score.modules_to_save.weight": rng.standard_normal((2, 16)).astype(np.float32),
        **extra,
    }
    return make_checkpoint(tensors, "adapter_model.safetensors")


def test_pairs_and_leftovers_keep_checkpoint_order(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    ckpt = open_checkpoint(_adapter(make_checkpoint, rng))
    assert ckpt.layout == "adapter" and ckpt.adapter is None
    jobs = pair_lora(ckpt.tensors, None)
    assert [j.name for j in jobs] == [
        "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight",  # a factor without its partner stays a tensor
        Q,
        "base_model.model.score.modules_to_save.weight",
    ]
    pair = jobs[1]
    assert isinstance(pair, LoraPair)
    assert (pair.rank, pair.shape, pair.scale, pair.alpha, pair.problem) == (4, (12, 16), 1.0, None, None)
    assert pair.base_name == "model.layers.0.self_attn.q_proj.weight"
    assert pair.parameters == 4 * 16 + 12 * 4


def test_adapter_directory_reads_its_config(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    _adapter(make_checkpoint, rng)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8, "fan_in_fan_out": True}))
    ckpt = open_checkpoint(tmp_path)
    assert ckpt.layout == "adapter" and ckpt.adapter is not None and ckpt.adapter.lora_alpha == 8
    (pair,) = [j for j in pair_lora(ckpt.tensors, ckpt.adapter) if isinstance(j, LoraPair)]
    assert pair.scale == 2.0 and pair.transpose and pair.shape == (16, 12)


def test_problems_are_attached_to_the_pair(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    path = make_checkpoint(
        {
            "m.lora_A.weight": rng.standard_normal((4, 16)).astype(np.float32),
            "m.lora_B.weight": rng.standard_normal((12, 5)).astype(np.float32),
            "n.lora_A.weight": rng.standard_normal((4, 16)).astype(np.float32),
            "n.lora_B.weight": rng.standard_normal((12, 4)).astype(np.float32),
            "i.lora_A.weight": np.ones((4, 16), np.int32),
            "i.lora_B.weight": np.ones((12, 4), np.int32),
        }
    )
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 8}))
    ckpt = open_checkpoint(path)
    problems = {j.name: j.problem for j in pair_lora(ckpt.tensors, ckpt.adapter) if isinstance(j, LoraPair)}
    assert "do not multiply" in problems["m"]
    assert "gives r=8 for this module" in problems["n"]
    assert "expected a floating-point LoRA factor" in problems["i"]


def test_plain_checkpoints_are_not_adapters(make_checkpoint, rng, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = make_checkpoint({"w.weight": rng.standard_normal((3, 3)).astype(np.float32)})
    (tmp_path / "adapter_config.json").write_text("broken")  # not read: no LoRA pairs
    ckpt = open_checkpoint(path)
    assert ckpt.layout == "file" and ckpt.adapter is None


def test_bad_config_of_an_adapter_is_an_input_error(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    _adapter(make_checkpoint, rng)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "ADALORA"}))
    with pytest.raises(InputError, match="peft_type"):
        open_checkpoint(tmp_path)


def test_a_catastrophic_rank_pattern_is_matched_in_linear_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`(a+)+b` against a 27-letter module name takes Python's re ~4 s (×2 per letter); here ms."""
    import time

    cfg = AdapterConfig(tmp_path / "adapter_config.json", r=8, rank_pattern={"(a+)+b": 4, "q_proj": 2})
    start = time.perf_counter()
    assert cfg.rank_alpha("base_model.model." + "a" * 27) == (8, 8.0)
    assert cfg.rank_alpha("x." + "a" * 900 + "b") == (4, 8.0)  # PEFT's answer where it matches
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ({"rank_pattern": {"(?<=self_attn\\.)q_proj": 4}}, "rank_pattern['(?<=self_attn\\\\.)q_proj']: rejected, it uses a lookaround"),
        ({"alpha_pattern": {"(q)_\\1": 4}}, "alpha_pattern['(q)_\\\\1']: rejected, it uses a backreference"),
        ({"rank_pattern": {"q" * 300: 4}}, "rejected, it is 300 characters long, more than 256"),
    ],
)
def test_unsafe_patterns_are_a_clean_input_error(tmp_path, make_checkpoint, rng, patterns, message) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from weightlens.cli import app

    _adapter(make_checkpoint, rng)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 4, **patterns}))
    result = CliRunner().invoke(app, ["analyze", str(tmp_path)])
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"weightlens: error: {tmp_path / 'adapter_config.json'}: ") and message in line, line


def test_a_module_name_too_long_to_match_is_a_clean_input_error(tmp_path, make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    long = "base_model.model." + "m" * 1100
    make_checkpoint({f"{long}.lora_A.weight": np.ones((4, 8), np.float32), f"{long}.lora_B.weight": np.ones((8, 4), np.float32)}, "adapter_model.safetensors")
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 4, "rank_pattern": {"q_proj": 2}}))
    ckpt = open_checkpoint(tmp_path)
    message = "rank_pattern: a name of 1100 characters is longer than the 1024 matched against patterns"
    with pytest.raises(InputError, match=message):
        pair_lora(ckpt.tensors, ckpt.adapter)
    from typer.testing import CliRunner

    from weightlens.cli import app

    result = CliRunner().invoke(app, ["analyze", str(tmp_path)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_a_key_of_the_maximum_length_is_accepted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = "a" * 250 + "q_proj"
    cfg = AdapterConfig(tmp_path / "adapter_config.json", r=8, rank_pattern={key: 4})
    assert cfg.rank_alpha("m." + key) == (4, 8.0) and cfg.rank_alpha("m.q_proj") == (8, 8.0)
