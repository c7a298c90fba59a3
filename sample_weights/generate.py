#!/usr/bin/env python3
"""Regenerate sample_weights/ deterministically: small checkpoints with planted properties.

    python sample_weights/generate.py [OUT_DIR]     (default: the directory of this script)

Every file and its planted property is listed in sample_weights/README.md; the test suite
checks that weightlens recovers each one. Same numpy version -> same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from weightlens.testing import (
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


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
