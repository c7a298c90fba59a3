"""Tensor names as plot coordinates and file names: layer depth, series, safe file stems."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from weightlens.checkpoint.discover import INDEX_SUFFIX

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
    """A distinct file stem per distinct name (see :func:`stem_list`)."""
    distinct = list(dict.fromkeys(names))
    return dict(zip(distinct, stem_list(distinct, reserved)))


def stem_list(names: Sequence[str], reserved: Iterable[str] = ()) -> list[str]:
    """A distinct file stem per position, made of [A-Za-z0-9._-] only, never starting with a dot.

    The stem is the name with runs of other characters replaced by "_" (at most MAX_STEM
    characters); when that changed the name or collides with another stem or a reserved one,
    the first 10 hex digits of the name's SHA-256 are appended, so distinct names never share
    a file; a name given twice gets "-2", "-3" ... on its later stems.
    """
    taken = set(reserved)
    out: list[str] = []
    for name in names:
        stem = _UNSAFE.sub("_", name).lstrip(".")[:MAX_STEM]
        if stem != name or not stem or stem in taken:
            digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:10]
            stem = f"{stem}-{digest}" if stem else digest
        base, copy = stem, 2
        while stem in taken:
            stem, copy = f"{base}-{copy}", copy + 1
        taken.add(stem)
        out.append(stem)
    return out


def checkpoint_labels(paths: Sequence[str]) -> list[str]:
    """A distinct, file-safe directory name per checkpoint path: the path parts that tell them apart.

    Absolute paths are compared component by component, without the ``.safetensors`` /
    ``.safetensors.index.json`` suffix; the components all paths share at the start and at the
    end are dropped (each path keeps at least one) and the rest joined by "_":
    ``a/m.safetensors``, ``b/m.safetensors`` -> ``a``, ``b``; ``run1.safetensors``,
    ``run2.safetensors`` -> ``run1``, ``run2``. Characters outside [A-Za-z0-9._-] become "_"
    (at most MAX_STEM of them are kept);
    when labels still coincide (the same checkpoint twice), each gets its 1-based position
    in front: ``1-m``, ``2-m``. A single path gets "" (no subdirectory).
    """
    if len(paths) < 2:
        return [""] * len(paths)
    parts = [_components(p) for p in paths]
    keep = min(len(c) for c in parts) - 1
    head = next((i for i in range(keep) if len({c[i] for c in parts}) > 1), keep)
    parts = [c[head:] for c in parts]
    keep = min(len(c) for c in parts) - 1
    tail = next((i for i in range(keep) if len({c[-1 - i] for c in parts}) > 1), keep)
    labels = [_UNSAFE.sub("_", "_".join(c[: len(c) - tail])).lstrip(".")[:MAX_STEM] for c in parts]
    if len(set(labels)) < len(labels) or not all(labels):
        labels = [f"{i}-{label}" if label else str(i) for i, label in enumerate(labels, 1)]
    return labels


def _components(path: str) -> list[str]:
    parts = list(Path(os.path.abspath(path)).parts)
    for suffix in (INDEX_SUFFIX, ".safetensors"):
        if parts[-1].endswith(suffix) and parts[-1] != suffix:
            parts[-1] = parts[-1][: -len(suffix)]
            break
    return parts
