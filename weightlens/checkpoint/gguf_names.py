"""Hugging Face names of GGUF tensors: gguf's tensor-name map, inverted.

``gguf.TensorNameMap(arch, n_blocks)`` maps every Hugging Face (or original-checkpoint) name that
llama.cpp's converter knows to the GGUF name it writes ("model.layers.3.self_attn.q_proj" →
"blk.3.attn_q"). Inverted, one GGUF name has several candidates, one per model family the
converter reads ("layers.3.attention.wq" for Meta's checkpoints, "transformer.h.3.attn.c_attn"
for GPT-2, ...). :func:`hf_candidates` lists them in gguf's order; :func:`hf_namer` picks one
per tensor: the first whose prefix is the architecture's Hugging Face convention
(``model.``/``lm_head`` for the transformers models of the Llama lineage, which most current
architectures follow; the older families in :data:`PREFIXES`), else the first candidate.

The map is inverted once per architecture with the block index left as ``{bid}``, so the cost
per tensor is one dictionary lookup whatever block count the file declares.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import gguf
from gguf.tensor_mapping import TensorNameMap

DEFAULT_PREFIXES = ("model.", "lm_head")
"""The transformers convention of LlamaForCausalLM and its descendants (Mistral, Qwen, Gemma, Phi-3, ...)."""

PREFIXES: dict[str, tuple[str, ...]] = {
    "gpt2": ("transformer.", "lm_head"),
    "gptj": ("transformer.", "lm_head"),
    "starcoder": ("transformer.", "lm_head"),
    "refact": ("transformer.", "lm_head"),
    "mpt": ("transformer.", "lm_head"),
    "falcon": ("transformer.", "lm_head"),
    "bloom": ("transformer.", "h.", "word_embeddings", "ln_f", "lm_head"),
    "gptneox": ("gpt_neox.", "embed_out"),
    "bert": ("embeddings.", "encoder."),
    "nomic-bert": ("embeddings.", "encoder.", "emb_ln"),
}
"""Architectures whose Hugging Face names do not follow :data:`DEFAULT_PREFIXES`."""

_BLOCK_MAPPINGS = dict(TensorNameMap.block_mappings_cfg)
"""Taken at import: ``TensorNameMap(arch, ...)`` merges the arch's overrides into this class
attribute itself, so later instances for other architectures would see them."""

_ARCHS = {name: arch for arch, name in gguf.MODEL_ARCH_NAMES.items()}
_DIGITS = re.compile(r"[0-9]+")


@functools.lru_cache(maxsize=32)
def _inverse(arch: gguf.MODEL_ARCH) -> dict[str, tuple[str, ...]]:
    """GGUF name template → Hugging Face name templates, in gguf's order.

    Built as ``TensorNameMap.__init__`` builds its forward map (later keys overwrite earlier
    ones), with ``{bid}`` left in place of the block index, then inverted.
    """
    tensors = set(gguf.MODEL_TENSORS[arch])
    forward: dict[str, str] = {}
    for t, keys in TensorNameMap.mappings_cfg.items():
        if t in tensors:
            forward.update(dict.fromkeys(keys, gguf.TENSOR_NAMES[t]))
    for t, keys in {**_BLOCK_MAPPINGS, **TensorNameMap.arch_block_mappings_cfg.get(arch, {})}.items():
        if t in tensors:
            forward.update(dict.fromkeys(keys, gguf.TENSOR_NAMES[t]))
    inverse: dict[str, list[str]] = {}
    for key, name in forward.items():
        if key != name:
            inverse.setdefault(name, []).append(key)
    return {name: tuple(keys) for name, keys in inverse.items()}


def hf_candidates(name: str, arch: str, block_count: int | None = None) -> tuple[str, ...]:
    """Every Hugging Face name gguf's map sends to GGUF tensor ``name`` in architecture ``arch``.

    ``name`` is a GGUF tensor name with its parameter suffix ("blk.3.attn_q.weight"); the
    candidates carry the same suffix. A block index ≥ ``block_count`` (when given) has none.
    """
    model_arch = _ARCHS.get(arch)
    if model_arch is None:
        return ()
    inverse = _inverse(model_arch)
    base, dot, suffix = name.rpartition(".")
    for stem, tail in ((name, ""), (base, dot + suffix)) if dot else ((name, ""),):
        if stem in inverse:  # a per-block HF key mapped to one GGUF tensor (rope_freqs) has no block index to fill in
            return tuple(k + tail for k in inverse[stem] if "{bid}" not in k)
        for m in _DIGITS.finditer(stem):
            template = stem[: m.start()] + "{bid}" + stem[m.end() :]
            if template in inverse:
                bid = int(m.group())
                if block_count is not None and bid >= block_count:
                    return ()
                return tuple(k.replace("{bid}", m.group()) + tail for k in inverse[template])
    return ()


CANONICAL = frozenset(
    "model layers self_attn mlp experts shared_expert embed_tokens norm lm_head q_proj k_proj v_proj o_proj gate_proj up_proj down_proj "
    "q_norm k_norm input_layernorm post_attention_layernorm pre_feedforward_layernorm post_feedforward_layernorm gate weight bias".split()
)
"""The words of transformers' Llama-lineage names (LlamaForCausalLM, Qwen2/3, Gemma 1–3, Qwen-MoE)."""


def preferred(candidates: tuple[str, ...], arch: str) -> str | None:
    """The candidate that best follows the architecture's naming convention, else the first.

    Ranked by: whether it starts with the architecture's prefix (:data:`PREFIXES`, default
    ``model.``/``lm_head``), then — for the default convention — how many of its words are not
    :data:`CANONICAL` (block indices aside), then gguf's order: "model.layers.0.mlp.up_proj"
    before "model.layers.0.feed_forward.up_proj", "self_attn.q_norm" before "self_attn.q_layernorm".
    """
    if not candidates:
        return None
    prefixes = PREFIXES.get(arch, DEFAULT_PREFIXES)
    canonical = arch not in PREFIXES

    def rank(c: str) -> tuple[bool, int]:
        return not c.startswith(prefixes), sum(w not in CANONICAL and not w.isdigit() for w in c.split(".")) if canonical else 0

    return min(candidates, key=rank)


def hf_namer(arch: str | None, block_count: int | None) -> Callable[[str], str | None]:
    """GGUF tensor name → its preferred Hugging Face name (None when gguf's map has none)."""
    if arch is None or arch not in _ARCHS:
        return lambda name: None
    return lambda name: preferred(hf_candidates(name, arch, block_count), arch)
