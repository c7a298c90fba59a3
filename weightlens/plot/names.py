"""Tensor names as plot coordinates and file names: layer depth, series, safe file stems."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_LAYER = re.compile(r"(?:^|\.)(?:layers?|h|blocks?)\.(\d+)\.")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = 120
"""Longest file stem derived from a tensor name (before the disambiguating hash)."""


def layer_index(name: str) -> int | None:
    """The block a tensor belongs to, from names like ``model.layers.12.mlp...``,
    ``transformer.h.12.attn...``, ``blocks.12...``, ``encoder.layer.12...``; None when absent."""
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None


def series_key(name: str) -> str:
    """The name with its layer index replaced by "*": the same matrix in every block shares one key.

    ``model.layers.12.self_attn.q_proj.weight`` -> ``model.layers.*.self_attn.q_proj.weight``.
    """
    m = _LAYER.search(name)
    return name[: m.start(1)] + "*" + name[m.end(1) :] if m else name


def safe_stems(names: Iterable[str], reserved: Iterable[str] = ()) -> dict[str, str]:
    """A distinct file stem per name, made of [A-Za-z0-9._-] only, never starting with a dot.

    The stem is the name with runs of other characters replaced by "_" (at most MAX_STEM
    characters); when that changed the name or collides with another stem or a reserved one,
    the first 10 hex digits of the name's SHA-256 are appended, so distinct names never share
    a file.
    """
    taken = set(reserved)
    out: dict[str, str] = {}
    for name in names:
        stem = _UNSAFE.sub("_", name).lstrip(".")[:MAX_STEM]
        if stem != name or not stem or stem in taken:
            digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
            stem = f"{stem}-{digest}" if stem else digest
        taken.add(stem)
        out[name] = stem
    return out
