"""PEFT LoRA adapters: tensor naming, ``adapter_config.json``, and lora_A/lora_B pairing.

A LoRA adapter stores, for each targeted module, two factors whose scaled product is the
update of the module's weight: ΔW = s·B·A, B = ``lora_B`` (m×r), A = ``lora_A`` (r×n),
s = lora_alpha/r (rsLoRA: lora_alpha/√r). This module only knows the format; the linear
algebra is in :mod:`weightlens.pipeline.lora`.

Names as PEFT saves them (``adapter_model.safetensors``)::

    base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight      (r, in)
    base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight      (out, r)
    base_model.model.model.embed_tokens.lora_embedding_A                (r, vocab)
    base_model.model.model.embed_tokens.lora_embedding_B                (dim, r)

optionally with an adapter name before ``.weight`` (``lora_A.default.weight``). Conv layers
store A as (r, in, kh, kw) and B as (out, r, 1, 1); both are read as matrices the usual way,
(shape[0], rest), which makes B·A the (out, in·kh·kw) view of the conv kernel's update.
Embedding updates are transposed, ΔW = s·(B·A)ᵀ, as are those of ``fan_in_fan_out`` layers
(GPT-2's Conv1D stores its weight as (in, out)).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from weightlens.checkpoint.header import TensorInfo
from weightlens.checkpoint.regex import MAX_PATTERN, LinearPattern, RegexRejected
from weightlens.checkpoint.safeload import load_json
from weightlens.errors import InputError, quote

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
"""Prefix PEFT puts before the base model's module names."""

_LORA = re.compile(r"^(?P<module>.+)\.lora_(?P<factor>[AB])(?:\.(?P<adapter>[^.]+))?\.weight$")
_LORA_EMBEDDING = re.compile(r"^(?P<module>.+)\.lora_embedding_(?P<factor>[AB])(?:\.(?P<adapter>[^.]+))?$")
_DORA_MAGNITUDE = re.compile(r"^(?P<module>.+)\.lora_magnitude_vector(?:\.(?!weight$)[^.]+)?(?:\.weight)?$")
"""A DoRA magnitude vector: ``lora_magnitude_vector`` as PEFT saves it, or with the adapter
name and/or the ``.weight`` of its in-memory ModuleDict form."""


@dataclass(frozen=True)
class LoraName:
    """What a LoRA factor's tensor name says: the module it updates, which factor, and how."""

    module: str
    factor: str
    adapter: str | None
    embedding: bool


def parse_lora_name(name: str) -> LoraName | None:
    """``...q_proj.lora_A.weight`` -> LoraName("...q_proj", "A", None, False); None for other names."""
    for pattern, embedding in ((_LORA, False), (_LORA_EMBEDDING, True)):
        m = pattern.match(name)
        if m:
            return LoraName(m["module"], m["factor"], m["adapter"], embedding)
    return None


def base_name(name: str) -> str:
    """The base checkpoint's name for an adapter tensor or module.

    Strips PEFT's ``base_model.model.`` prefix and a ``modules_to_save`` or ``base_layer``
    wrapper segment: ``base_model.model.score.modules_to_save.weight`` -> ``score.weight``;
    ``base_model.model.model.embed_tokens.base_layer.weight`` (the copy of a LoRA-wrapped
    embedding that ``save_embedding_layers`` stores) -> ``model.embed_tokens.weight``.
    """
    if name.startswith(PEFT_PREFIX):
        name = name[len(PEFT_PREFIX) :]
    return name.replace(".modules_to_save.", ".").replace(".base_layer.", ".")


def dora_module(name: str) -> str | None:
    """The module whose weight a DoRA magnitude vector rescales, or None for other names:
    ``...q_proj.lora_magnitude_vector`` -> ``...q_proj``."""
    m = _DORA_MAGNITUDE.match(name)
    return m["module"] if m else None


def _peft_pattern(key: str) -> LinearPattern:
    """The pattern PEFT's ``get_pattern_key`` matches a module name against for key k,
    ``rf"(.*\\.)?({k})$"``, compiled to run in linear time."""
    if len(key) > MAX_PATTERN:  # checked on the key, not the wrapped pattern, so that the limit is the one named
        raise RegexRejected(f"it is {len(key)} characters long, more than {MAX_PATTERN}")
    wrapped = rf"(.*\.)?({key})$"
    return LinearPattern(wrapped, max_length=len(wrapped))


@dataclass(frozen=True)
class AdapterConfig:
    """The parts of a PEFT LoRA ``adapter_config.json`` that fix ΔW.

    Attributes
    ----------
    path : the file read.
    r, lora_alpha : the default rank and alpha (PEFT's defaults 8 and 8 when absent).
    use_rslora : s = alpha/√r instead of alpha/r (Kalajdzievski 2023).
    fan_in_fan_out : the targeted weights are stored (in, out): ΔW = s·(B·A)ᵀ.
    use_dora : DoRA adapter; B·A is then the direction update before the magnitude rescaling.
    rank_pattern, alpha_pattern : per-module overrides of r and alpha, keys are regular
        expressions matched against the end of the module name, first match wins (as in PEFT),
        by :class:`~weightlens.checkpoint.regex.LinearPattern` (linear time; constructs that need
        backtracking are rejected).

    Raises
    ------
    InputError
        When a pattern key is rejected (named with its key), or, in :meth:`rank_alpha`, when a
        module name is too long to match.
    """

    path: Path
    r: int = 8
    lora_alpha: float = 8.0
    use_rslora: bool = False
    fan_in_fan_out: bool = False
    use_dora: bool = False
    rank_pattern: Mapping[str, int] = field(default_factory=dict)
    alpha_pattern: Mapping[str, float] = field(default_factory=dict)
    _matchers: dict[tuple[str, str], LinearPattern] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        for which, patterns in (("rank_pattern", self.rank_pattern), ("alpha_pattern", self.alpha_pattern)):
            for key in patterns:
                try:
                    self._matchers[which, key] = _peft_pattern(key)
                except RegexRejected as e:
                    raise InputError(self.path, f"{which}[{quote(key)}]: rejected, {e}") from None

    def _pattern_value(self, which: str, module: str) -> Any:
        """PEFT's ``get_pattern_key``: the value of the first key k (in file order) with
        re.match(rf"(.*\\.)?({k})$", module); None when no key matches."""
        patterns: Mapping[str, Any] = getattr(self, which)
        for key, value in patterns.items():
            try:
                if self._matchers[which, key].match(module):
                    return value
            except RegexRejected as e:
                raise InputError(self.path, f"{which}: {e}") from None
        return None

    def rank_alpha(self, module: str) -> tuple[int, float]:
        """(r, alpha) for one module (its name with or without PEFT's prefix), overrides applied."""
        key = base_name(module)
        r = self._pattern_value("rank_pattern", key)
        alpha = self._pattern_value("alpha_pattern", key)
        return (self.r if r is None else r), float(self.lora_alpha if alpha is None else alpha)

    def scale(self, module: str) -> float:
        """s = alpha/r, or alpha/√r with rsLoRA."""
        r, alpha = self.rank_alpha(module)
        return alpha / (math.sqrt(r) if self.use_rslora else r)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def read_adapter_config(path: str | Path) -> AdapterConfig:
    """Read and validate a PEFT ``adapter_config.json``.

    Raises
    ------
    InputError
        When the file is not JSON, is not a LoRA config, or a key has the wrong type.
    """
    path = Path(path)
    doc = load_json(path, "adapter config")
    if not isinstance(doc, dict):
        raise InputError(path, f"adapter config must be a JSON object, got {type(doc).__name__}")
    peft_type = doc.get("peft_type")
    if peft_type is not None and str(peft_type).upper() != "LORA":
        raise InputError(path, f"peft_type: expected 'LORA', got {quote(peft_type)} (only LoRA adapters are analyzed as ΔW = s·B·A)")

    def get(key: str, default: Any, ok: Any, expected: str) -> Any:
        value = doc.get(key)
        if value is None:
            return default
        if not ok(value):
            raise InputError(path, f"{key}: expected {expected}, got {quote(value)}")
        return value

    def positive_int(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool) and x >= 1

    def patterns(key: str, ok: Any, expected: str) -> dict[str, Any]:
        value: dict[str, Any] = get(key, {}, lambda v: isinstance(v, dict), "an object of module pattern -> value")
        for k, v in value.items():
            if not ok(v):
                raise InputError(path, f"{key}[{quote(k)}]: expected {expected}, got {quote(v)}")
            try:
                re.compile(k)
            except re.error as e:
                raise InputError(path, f"{key}: {quote(k)} is not a regular expression ({e})") from None
        return value

    return AdapterConfig(
        path=path,
        r=get("r", 8, positive_int, "an integer >= 1"),
        lora_alpha=float(get("lora_alpha", 8, _is_number, "a number")),
        use_rslora=get("use_rslora", False, lambda v: isinstance(v, bool), "true or false"),
        fan_in_fan_out=get("fan_in_fan_out", False, lambda v: isinstance(v, bool), "true or false"),
        use_dora=get("use_dora", False, lambda v: isinstance(v, bool), "true or false"),
        rank_pattern=patterns("rank_pattern", positive_int, "an integer >= 1"),
        alpha_pattern={k: float(v) for k, v in patterns("alpha_pattern", _is_number, "a number").items()},
    )


def find_adapter_config(path: Path) -> Path | None:
    """``adapter_config.json`` in a checkpoint directory, or beside a checkpoint file."""
    candidate = (path if path.is_dir() else path.parent) / ADAPTER_CONFIG
    return candidate if candidate.exists() else None  # a FIFO or directory there is refused when read, not skipped


def has_lora_pairs(tensors: Sequence[TensorInfo]) -> bool:
    """Some tensor is a lora_A whose lora_B is present too."""
    seen: set[tuple[str, str | None, bool, str]] = set()
    for t in tensors:
        n = parse_lora_name(t.name)
        if n is not None:
            seen.add((n.module, n.adapter, n.embedding, n.factor))
            if (n.module, n.adapter, n.embedding, "B" if n.factor == "A" else "A") in seen:
                return True
    return False


@dataclass(frozen=True)
class LoraPair:
    """One LoRA update ΔW = s·B·A (or its transpose): everything needed to analyze it.

    Attributes
    ----------
    name : the record name: the targeted module as named in the adapter (with ``[adapter]``
        appended when the factor names carry an adapter name).
    a, b : the ``lora_A`` and ``lora_B`` tensors.
    scale : s (1.0 when there is no adapter config).
    alpha : lora_alpha used for s, or None without a config.
    transpose : ΔW = s·(B·A)ᵀ (embeddings, ``fan_in_fan_out``).
    base_name : the name of the weight ΔW updates in the base checkpoint.
    problem : why the two tensors do not make a LoRA update (shapes, dtypes, config), or None.
    """

    name: str
    a: TensorInfo
    b: TensorInfo
    scale: float
    alpha: float | None
    transpose: bool
    base_name: str
    problem: str | None = None

    @property
    def rank(self) -> int:
        """r: the rows of A."""
        return self.a.shape[0] if self.a.shape else 0

    @property
    def factor_shapes(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(B as an m×r matrix, A as an r×n matrix): each factor viewed as (shape[0], rest)."""
        return _as_2d(self.b.shape), _as_2d(self.a.shape)

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of ΔW as it adds to the base weight's matrix view."""
        (m, _), (_, n) = self.factor_shapes
        return (n, m) if self.transpose else (m, n)

    @property
    def parameters(self) -> int:
        return self.a.parameters + self.b.parameters

    @property
    def dtype(self) -> str:
        """The factors' dtype ("BF16"), or both when they differ ("F32/BF16": B's, then A's)."""
        return self.a.dtype if self.a.dtype == self.b.dtype else f"{self.b.dtype}/{self.a.dtype}"


def _as_2d(shape: tuple[int, ...]) -> tuple[int, int]:
    return (shape[0], math.prod(shape[1:])) if len(shape) >= 2 else (math.prod(shape), 1)


def _pair_problem(a: TensorInfo, b: TensorInfo, config: AdapterConfig | None, module: str) -> str | None:
    for t in (a, b):
        if t.dtype_info.kind != "float":
            return f"{t.name} is {t.dtype}, expected a floating-point LoRA factor"
        if len(t.shape) < 2 or 0 in t.shape:
            return f"{t.name} has shape {list(t.shape)}, expected a non-empty matrix"
    (_, rb), (ra, _) = _as_2d(b.shape), _as_2d(a.shape)
    if rb != ra:
        return f"lora_B {list(b.shape)} and lora_A {list(a.shape)} do not multiply: B has {rb} columns, A has {ra} rows"
    if config is not None:
        r, _ = config.rank_alpha(module)
        if r != ra:
            return f"{config.path.name} gives r={r} for this module (r or rank_pattern), but lora_A has {ra} rows"
    return None


T = TypeVar("T")


def _lora_key(item: object) -> tuple[str, str | None, bool, str] | None:
    """(module, adapter, embedding, factor) of a LoRA factor tensor; None for anything else."""
    n = parse_lora_name(item.name) if isinstance(item, TensorInfo) else None
    return (n.module, n.adapter, n.embedding, n.factor) if n is not None else None


def pair_lora(items: Sequence[T], config: AdapterConfig | None) -> list[T | LoraPair]:
    """Group lora_A/lora_B tensors into one :class:`LoraPair` each; other items pass through.

    The order is the items' order, a pair taking the place of its first factor. A factor
    without its partner stays a plain tensor; entries that are not tensors (unreadable ones)
    are never paired.
    """
    factors: dict[tuple[str, str | None, bool], dict[str, Any]] = {}
    for t in items:
        k = _lora_key(t)
        if k is not None:
            factors.setdefault(k[:3], {})[k[3]] = t
    complete = {key: f for key, f in factors.items() if len(f) == 2}
    out: list[T | LoraPair] = []
    done: set[tuple[str, str | None, bool]] = set()
    for t in items:
        k = _lora_key(t)
        key = k[:3] if k is not None else None
        if key is None or key not in complete:
            out.append(t)
            continue
        if key in done:
            continue
        done.add(key)
        a, b = complete[key]["A"], complete[key]["B"]
        module, adapter, embedding = key
        out.append(
            LoraPair(
                name=module if adapter is None else f"{module}[{adapter}]",
                a=a,
                b=b,
                scale=config.scale(module) if config is not None else 1.0,
                alpha=config.rank_alpha(module)[1] if config is not None else None,
                transpose=embedding or (config is not None and config.fan_in_fan_out),
                base_name=base_name(module) + ".weight",
                problem=_pair_problem(a, b, config, module),
            )
        )
    return out
