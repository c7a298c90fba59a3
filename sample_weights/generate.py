#!/usr/bin/env python3
"""Regenerate sample_weights/ deterministically: small checkpoints with planted properties.

    python sample_weights/generate.py [OUT_DIR]     (default: the directory of this script)

Every file and its planted property is listed in sample_weights/README.md; the test suite
checks that weightlens recovers each one. Same numpy version -> same bytes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from weightlens.testing import (
    Encoded,
    encode,
    geometric_spectrum,
    low_rank,
    prune_2_4,
    prune_unstructured,
    with_spectrum,
    write_safetensors,
    write_sharded,
)

SEED = 20261124
HIDDEN, FFN, VOCAB, LAYERS = 64, 172, 1000, 4
DIFF_SEED = 20261125
"""Seed of the diff/ and adapter/ samples: their own generator, so the files above stay byte-identical."""
D_HIDDEN, D_FFN, D_VOCAB = 32, 64, 64


def gaussian(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """A dense layer at the usual init scale: N(0, 1/n)."""
    return rng.standard_normal((m, n)) / np.sqrt(n)


def tiny_model(rng: np.random.Generator) -> list[dict[str, object]]:
    """A 4-layer Llama-shaped BF16 model in two shards, with three planted problems:
    layers.1.self_attn.k_proj has σ decaying geometrically to σ1/1000, its tail below BF16
    rounding noise (reported singular, numerical rank 51 of 64),
    layers.2.self_attn.v_proj has rank 8 of 64 (collapsed), and
    layers.3.mlp.down_proj has 43 of its 172 input columns all zero (dead neurons)."""
    shards: list[dict[str, object]] = [{}, {}]
    shards[0]["model.embed_tokens.weight"] = encode(gaussian(rng, VOCAB, HIDDEN), "BF16")
    for i in range(LAYERS):
        t = shards[0] if i < LAYERS // 2 else shards[1]
        pre = f"model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            # Square Gaussian matrices have σmin near BF16 rounding noise; healthy layers get κ = 5.
            t[pre + f"self_attn.{proj}.weight"] = with_spectrum(rng, HIDDEN, HIDDEN, np.linspace(2.0, 0.4, HIDDEN))
        t[pre + "mlp.gate_proj.weight"] = gaussian(rng, FFN, HIDDEN)
        t[pre + "mlp.up_proj.weight"] = gaussian(rng, FFN, HIDDEN)
        t[pre + "mlp.down_proj.weight"] = gaussian(rng, HIDDEN, FFN)
        t[pre + "input_layernorm.weight"] = np.ones(HIDDEN)
        t[pre + "post_attention_layernorm.weight"] = np.ones(HIDDEN)
    shards[0]["model.layers.1.self_attn.k_proj.weight"] = with_spectrum(rng, HIDDEN, HIDDEN, geometric_spectrum(HIDDEN, 1e3))
    shards[1]["model.layers.2.self_attn.v_proj.weight"] = low_rank(rng, HIDDEN, HIDDEN, 8)
    down = gaussian(rng, HIDDEN, FFN)
    down[:, rng.permutation(FFN)[:43]] = 0.0
    shards[1]["model.layers.3.mlp.down_proj.weight"] = down
    shards[1]["model.norm.weight"] = np.ones(HIDDEN)
    shards[1]["lm_head.weight"] = gaussian(rng, VOCAB, HIDDEN)
    return [{k: v if not isinstance(v, np.ndarray) else encode(v, "BF16") for k, v in s.items()} for s in shards]


def diff_samples(rng: np.random.Generator) -> tuple[dict[str, np.ndarray | Encoded], dict[str, np.ndarray | Encoded], dict[str, np.ndarray], dict[str, object]]:
    """A 2-layer F32 base, a fine-tuned copy with planted changes, and a PEFT LoRA adapter.

    tuned vs base: layers.0.self_attn.q_proj += the adapter's update of that module (rank 4);
    layers.1.self_attn.v_proj += an independent rank-4 update; layers.0.mlp.down_proj += a dense
    full-rank update (‖ΔW‖/‖W‖ ≈ 0.01); layers.0.input_layernorm scaled by 1.05; lm_head cast to
    BF16 (dtype change, ΔW = rounding only); embed_tokens resized 64 -> 72 rows (shape change);
    rotary_emb.inv_freq only in base, score.weight only in tuned; everything else identical.
    adapter (r=8, lora_alpha=16, targets q_proj, v_proj, embed_tokens): layers.0 q_proj has
    r=4 by rank_pattern (scale 16/4 = 4); layers.0 v_proj has numerical rank 2 of r=8;
    layers.1 q_proj has B = 0 (untrained); layers.1 v_proj has lora_alpha 32 by alpha_pattern.
    """
    base: dict[str, np.ndarray] = {"model.embed_tokens.weight": gaussian(rng, D_VOCAB, D_HIDDEN)}
    for i in range(2):
        pre = f"model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            base[pre + f"self_attn.{proj}.weight"] = with_spectrum(rng, D_HIDDEN, D_HIDDEN, np.linspace(2.0, 0.4, D_HIDDEN))
        base[pre + "mlp.gate_proj.weight"] = gaussian(rng, D_FFN, D_HIDDEN)
        base[pre + "mlp.up_proj.weight"] = gaussian(rng, D_FFN, D_HIDDEN)
        base[pre + "mlp.down_proj.weight"] = gaussian(rng, D_HIDDEN, D_FFN)
        base[pre + "input_layernorm.weight"] = np.ones(D_HIDDEN)
        base[pre + "post_attention_layernorm.weight"] = np.ones(D_HIDDEN)
    base["model.layers.1.self_attn.rotary_emb.inv_freq"] = 1.0 / 10000 ** (np.arange(0, D_HIDDEN, 2) / D_HIDDEN)
    base["model.norm.weight"] = np.ones(D_HIDDEN)
    base["lm_head.weight"] = gaussian(rng, D_VOCAB, D_HIDDEN)
    base = {k: v.astype(np.float32) for k, v in base.items()}

    peft = "base_model.model."
    adapter: dict[str, np.ndarray] = {}
    for i in range(2):
        for proj in ("q_proj", "v_proj"):
            r = 4 if (i, proj) == (0, "q_proj") else 8
            module = f"{peft}model.layers.{i}.self_attn.{proj}"
            adapter[module + ".lora_A.weight"] = gaussian(rng, r, D_HIDDEN)
            adapter[module + ".lora_B.weight"] = 0.02 * rng.standard_normal((D_HIDDEN, r))
    adapter[f"{peft}model.layers.0.self_attn.v_proj.lora_B.weight"][:, 2:] = adapter[f"{peft}model.layers.0.self_attn.v_proj.lora_B.weight"][:, :2] @ rng.standard_normal((2, 6))
    adapter[f"{peft}model.layers.1.self_attn.q_proj.lora_B.weight"][:] = 0.0
    adapter[f"{peft}model.embed_tokens.lora_embedding_A"] = 0.05 * rng.standard_normal((8, D_VOCAB))
    adapter[f"{peft}model.embed_tokens.lora_embedding_B"] = 0.05 * rng.standard_normal((D_HIDDEN, 8))
    adapter = {k: v.astype(np.float32) for k, v in adapter.items()}
    config: dict[str, object] = {
        "peft_type": "LORA",
        "base_model_name_or_path": "sample_weights/diff/base.safetensors",
        "r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "use_rslora": False,
        "fan_in_fan_out": False,
        "target_modules": ["q_proj", "v_proj", "embed_tokens"],
        "rank_pattern": {"model.layers.0.self_attn.q_proj": 4},
        "alpha_pattern": {"model.layers.1.self_attn.v_proj": 32},
        "task_type": "CAUSAL_LM",
    }

    tuned: dict[str, np.ndarray | Encoded] = dict(base)
    q0 = "model.layers.0.self_attn.q_proj"
    b, a = adapter[f"{peft}{q0}.lora_B.weight"].astype(np.float64), adapter[f"{peft}{q0}.lora_A.weight"].astype(np.float64)
    tuned[q0 + ".weight"] = (base[q0 + ".weight"] + 4.0 * (b @ a)).astype(np.float32)
    v1 = "model.layers.1.self_attn.v_proj.weight"
    tuned[v1] = (base[v1] + low_rank(rng, D_HIDDEN, D_HIDDEN, 4, scale=0.2)).astype(np.float32)
    down = "model.layers.0.mlp.down_proj.weight"
    tuned[down] = (base[down] + 0.01 * gaussian(rng, D_HIDDEN, D_FFN)).astype(np.float32)
    tuned["model.layers.0.input_layernorm.weight"] = base["model.layers.0.input_layernorm.weight"] * np.float32(1.05)
    tuned["lm_head.weight"] = encode(base["lm_head.weight"], "BF16")
    tuned["model.embed_tokens.weight"] = np.concatenate([base["model.embed_tokens.weight"], gaussian(rng, 8, D_HIDDEN).astype(np.float32)])
    del tuned["model.layers.1.self_attn.rotary_emb.inv_freq"]
    tuned["score.weight"] = gaussian(rng, 2, D_HIDDEN).astype(np.float32)
    return dict(base), tuned, adapter, config


def generate(out: Path) -> None:
    rng = np.random.default_rng(SEED)
    out.mkdir(parents=True, exist_ok=True)
    f32 = np.float32
    write_sharded(out / "tiny_model", tiny_model(rng))
    write_safetensors(
        out / "low_rank.safetensors",
        {"rank16": low_rank(rng, 256, 192, 16).astype(f32), "full": gaussian(rng, 256, 192).astype(f32)},
    )
    write_safetensors(
        out / "ill_conditioned.safetensors",
        {
            "kappa_1e4": with_spectrum(rng, 128, 128, geometric_spectrum(128, 1e4)).astype(f32),
            "kappa_1e10": with_spectrum(rng, 96, 96, geometric_spectrum(96, 1e10)),
        },
    )
    dense = gaussian(rng, 128, 256).astype(f32)
    write_safetensors(
        out / "pruned.safetensors",
        {"unstructured_50": prune_unstructured(rng, dense, 0.5), "two_four": prune_2_4(dense)},
    )
    write_safetensors(
        out / "bf16.safetensors",
        {"rank32": encode(low_rank(rng, 384, 256, 32), "BF16"), "dense": encode(gaussian(rng, 384, 256), "BF16")},
    )
    write_safetensors(out / "f16.safetensors", {"rank24": low_rank(rng, 256, 192, 24).astype(np.float16)})
    write_safetensors(
        out / "f8.safetensors",
        {"e4m3_rank8": encode(low_rank(rng, 128, 128, 8), "F8_E4M3"), "e5m2_dense": encode(gaussian(rng, 128, 128), "F8_E5M2")},
    )
    write_safetensors(
        out / "conv.safetensors",
        {"conv1.weight": (rng.standard_normal((64, 32, 3, 3)) / np.sqrt(288)).astype(f32), "conv1.bias": np.zeros(64, f32)},
    )
    diverged = gaussian(rng, 64, 64).astype(f32)
    diverged[rng.integers(0, 64, 5), rng.integers(0, 64, 5)] = np.nan
    overflowed = gaussian(rng, 64, 64).astype(f32)
    overflowed[3, 7] = np.inf
    write_safetensors(
        out / "nan.safetensors",
        {"diverged": diverged, "overflowed": overflowed, "healthy": gaussian(rng, 64, 64).astype(f32)},
    )

    base, tuned, adapter, config = diff_samples(np.random.default_rng(DIFF_SEED))
    (out / "diff").mkdir(exist_ok=True)
    write_safetensors(out / "diff" / "base.safetensors", base)
    write_safetensors(out / "diff" / "tuned.safetensors", tuned)
    (out / "adapter").mkdir(exist_ok=True)
    write_safetensors(out / "adapter" / "adapter_model.safetensors", adapter, metadata={"format": "pt"})
    (out / "adapter" / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
