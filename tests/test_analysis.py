"""The analysis pipeline: layouts, pass selection, filters, order, summary, library API."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import weightlens
from weightlens import AnalysisOptions, UsageError, analyze
from weightlens.passes import PASSES
from weightlens.testing import write_sharded


def test_layouts_and_reasons(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    path = make_checkpoint(
        {
            "matrix": rng.standard_normal((6, 4)).astype(np.float32),
            "conv": rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
            "bias": np.ones(4, np.float32),
            "scalar": np.float32(2.0) * np.ones((), np.float32),
            "ids": np.arange(6, dtype=np.int64).reshape(2, 3),
            "mask": np.ones((2, 2), bool),
            "empty": np.zeros((0, 4), np.float32),
        }
    )
    r = {t.name: t for t in analyze(path)}
    assert r["matrix"].kind == "matrix" and r["matrix"].analyzed
    assert r["conv"].kind == "reshaped" and r["conv"].matrix_shape == (4, 18) and r["conv"].analyzed
    for name, kind in [("bias", "vector"), ("scalar", "scalar"), ("ids", "non-float"), ("mask", "non-float"), ("empty", "empty")]:
        assert r[name].kind == kind and r[name].skipped and not r[name].analyzed, name
        assert "sigma_max" not in r[name].metrics
    assert r["ids"]["zero_fraction"] == pytest.approx(1 / 6)  # a ratio of counts: one division's rounding


def test_conv_kernel_spectrum_is_that_of_the_reshaped_matrix(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    w = rng.standard_normal((8, 4, 3, 3))
    rec = analyze(make_checkpoint({"k": w})).tensors[0]
    assert rec["sigma_max"] == pytest.approx(np.linalg.norm(w.reshape(8, 36), 2), rel=1e-12)  # float64 gesdd: ≤ max(m,n)·eps64·σ1 ≈ 1e-14·σ1


def test_unsupported_dtype_is_listed_not_fatal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    header = json.dumps({"c": {"dtype": "C64", "shape": [2], "data_offsets": [0, 16]}}).encode()
    path = tmp_path / "c.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    rec = analyze(path).tensors[0]
    assert rec.kind == "unsupported" and "C64" in rec.skipped and rec.metrics == {}


def test_pass_selection(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    path = make_checkpoint({"w": rng.standard_normal((6, 4))})
    rec = analyze(path, AnalysisOptions(passes=("condition",))).tensors[0]
    assert set(rec.metrics) == {f.name for f in PASSES["condition"].fields}
    with pytest.raises(UsageError, match="unknown pass 'svd'"):
        AnalysisOptions(passes=("svd",))


def test_each_pass_returns_exactly_its_declared_fields(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    path = make_checkpoint({"w": rng.standard_normal((12, 9))})
    for name, p in PASSES.items():
        rec = analyze(path, AnalysisOptions(passes=(name,), full_spectrum=True)).tensors[0]
        assert list(rec.metrics) == [f.name for f in p.fields], name


def test_include_exclude_and_checkpoint_order(tmp_path, rng) -> None:  # type: ignore[no-untyped-def]
    mk = lambda: rng.standard_normal((4, 4)).astype(np.float32)  # noqa: E731
    d = write_sharded(tmp_path / "m", [{"layers.10.attn.w": mk(), "layers.2.mlp.w": mk()}, {"layers.2.attn.w": mk(), "embed.w": mk()}])
    report = analyze(d, AnalysisOptions(include=("layers.*",), exclude=("*mlp*",)))
    assert [r.name for r in report] == ["layers.2.attn.w", "layers.10.attn.w"]
    assert report.summary.excluded == 2
    assert report.inputs[0].tensors == 4 and report.inputs[0].selected == 2 and report.inputs[0].layout == "index"


def test_several_paths(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    a = make_checkpoint({"x": rng.standard_normal((3, 3))}, "a.safetensors")
    b = make_checkpoint({"y": rng.standard_normal((3, 3))}, "b.safetensors")
    report = analyze([a, b])
    assert [r.name for r in report] == ["x", "y"] and len(report.inputs) == 2


def test_summary(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    nan = np.ones((4, 4), np.float32)
    nan[0, 0] = np.nan
    path = make_checkpoint(
        {
            "good": weightlens.testing.with_spectrum(rng, 8, 8, np.linspace(1, 0.5, 8)),
            "bad": weightlens.testing.with_spectrum(rng, 8, 8, np.geomspace(1, 1e-3, 8)),
            "low": weightlens.testing.low_rank(rng, 8, 8, 2),
            "nan": nan,
            "b": np.zeros(3, np.float32),
        }
    )
    s = analyze(path).summary
    assert (s.tensors, s.analyzed, s.skipped, s.errors) == (5, 3, 2, 0)
    assert s.flags["nonfinite"] == 1 and s.flags["singular"] == 1 and s.flags["all_zero"] == 1
    assert [n for n, _ in s.worst_condition] == ["low", "bad", "good"]
    assert s.worst_condition[0][1] is None
    assert s.lowest_rank_ratio[0] == ("low", 0.25)
    assert s.skipped_reasons == {"non-finite": ["nan"], "1-D tensor (bias/norm vector)": ["b"]}


def test_on_record_streams_in_order(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    path = make_checkpoint({f"w{i}": rng.standard_normal((3, 3)) for i in range(4)})
    seen: list[str] = []
    report = analyze(path, on_record=lambda r: seen.append(r.name))
    assert seen == [r.name for r in report] == ["w0", "w1", "w2", "w3"]


def test_record_round_trips_through_json(make_checkpoint, rng) -> None:  # type: ignore[no-untyped-def]
    rec = analyze(make_checkpoint({"w": rng.standard_normal((5, 3))})).tensors[0]
    again = weightlens.TensorRecord.from_dict(json.loads(json.dumps(rec.to_dict())))
    assert again.to_dict() == rec.to_dict()


@pytest.mark.parametrize(("kwargs", "message"), [({"top_k": 0}, "top_k"), ({"svd_ranks": (1.5,)}, "svd_ranks"), ({"precision": "half"}, "precision"), ({"near_zero_tau": 2.0}, "near_zero_tau")])
def test_option_validation(kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=message):
        AnalysisOptions(**kwargs)
