"""The nmf pass: its report fields, modes, options and CLI flags."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import validate_record, validate_report
from weightlens.checkpoint import open_checkpoint
from weightlens.checkpoint.reader import read_tensor
from weightlens.cli import app
from weightlens.errors import UsageError
from weightlens.linalg.nmf import nonneg_nmf, semi_nmf
from weightlens.passes import DEFAULT_PASSES, PASSES
from weightlens.passes.options import AnalysisOptions
from weightlens.pipeline.analyze import analyze_tensor
from weightlens.report.records import TensorRecord
from weightlens.report.schema import report_schema, shipped_schema
from weightlens.testing import encode, nonneg_low_rank

runner = CliRunner()


def analyze(path: Path, name: str, **opts) -> TensorRecord:
    infos = {t.name: t for t in open_checkpoint(path).tensors}
    return analyze_tensor(infos[name], AnalysisOptions(passes=("nmf",), **opts))


def svd_errors(w: np.ndarray) -> np.ndarray:
    s = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    tail = np.concatenate([np.cumsum((s**2)[::-1])[::-1], [0.0]])
    return np.sqrt(tail / tail[0])


@pytest.fixture
def signed(make_checkpoint: Callable[..., Path], rng: np.random.Generator) -> tuple[Path, np.ndarray]:
    w = rng.standard_normal((48, 36))
    return make_checkpoint({"w": w}), w


def test_opt_in_not_in_the_default_set() -> None:
    """NMF costs several SVDs per matrix: it runs with --passes all or +nmf, not by default."""
    assert "nmf" not in DEFAULT_PASSES and "nmf" in PASSES
    assert list(PASSES)[-1] == "nmf"


def test_semi_entry_against_numpy_svd(signed: tuple[Path, np.ndarray]) -> None:
    path, w = signed
    rec = analyze(path, "w")
    assert rec["nmf_skipped"] is None
    (e,) = rec["nmf"]
    errs = svd_errors(w)
    k = 18  # default: min(32, p/2) with p = 36
    assert e["rank"] == k and e["mode"] == "semi" and e["input"] == "W"
    assert e["svd_rel_error"] == pytest.approx(errs[k], rel=1e-10)  # the SVD floor from the same float64 σ: rounding only (≈ p·eps64)
    assert errs[k] * (1 - 1e-4) <= e["nmf_rel_error"] <= errs[k - 1] * (1 + 1e-4)
    assert e["nmf_svd_ratio"] == pytest.approx(e["nmf_rel_error"] / errs[k], rel=1e-10)  # a quotient of the record's own fields: one rounding
    j = e["svd_rank_equivalent"]
    assert errs[j] <= e["nmf_rel_error"] < errs[j - 1]
    assert j in (k - 1, k)
    ref = semi_nmf(w, k, sigma=np.linalg.svd(w, compute_uv=False), seed=(0, k))
    assert e["nmf_rel_error"] == ref.rel_error
    assert e["iterations"] == ref.iterations and e["converged"] == ref.converged
    validate_record(rec.to_dict())


def test_ranks_integer_and_fraction_sorted_and_deduplicated(signed: tuple[Path, np.ndarray]) -> None:
    path, _ = signed
    rec = analyze(path, "w", nmf_ranks=(9, 0.25, 100, 36), nmf_max_iter=5)
    assert [e["rank"] for e in rec["nmf"]] == [9, 36]  # 0.25·36 = 9; 100 caps at p = 36


def test_auto_mode_runs_classic_nmf_on_nonnegative_matrices(make_checkpoint: Callable[..., Path]) -> None:
    w = nonneg_low_rank(np.random.default_rng(1), 60, 40, 5)
    path = make_checkpoint({"w": w})
    (e,) = analyze(path, "w", nmf_ranks=(5,))["nmf"]
    assert e["mode"] == "nonneg" and e["input"] == "W"
    assert e["nmf_rel_error"] < 1e-3
    assert e["svd_rel_error"] < 1e-12  # exact rank 5
    assert e["svd_rank_equivalent"] == 5
    # k = numerical rank: the SVD error is rounding noise, a ratio of it would be noise too
    assert e["nmf_svd_ratio"] is None


def test_semi_mode_forced_on_a_nonnegative_matrix(make_checkpoint: Callable[..., Path], rng: np.random.Generator) -> None:
    path = make_checkpoint({"w": rng.random((30, 20))})
    (e,) = analyze(path, "w", nmf_mode="semi")["nmf"]
    assert e["mode"] == "semi"


def test_nonneg_mode_refuses_signed_matrices(signed: tuple[Path, np.ndarray]) -> None:
    path, _ = signed
    rec = analyze(path, "w", nmf_mode="nonneg")
    assert rec["nmf"] == []
    assert "negative entries" in rec["nmf_skipped"] and "abs" in rec["nmf_skipped"]
    validate_record(rec.to_dict())


def test_abs_mode_factorizes_abs_w_and_labels_it(signed: tuple[Path, np.ndarray]) -> None:
    path, w = signed
    rec = analyze(path, "w", nmf_mode="abs", nmf_ranks=(4,))
    (e,) = rec["nmf"]
    assert e["mode"] == "nonneg" and e["input"] == "|W|"
    # The shared spectrum is W's, not |W|'s: no SVD comparison is made up.
    assert e["svd_rel_error"] is None and e["nmf_svd_ratio"] is None and e["svd_rank_equivalent"] is None
    assert e["nmf_rel_error"] == nonneg_nmf(np.abs(w), 4, seed=(0, 4)).rel_error
    assert e["nmf_rel_error"] >= svd_errors(np.abs(w))[4] * (1 - 1e-12)
    validate_record(rec.to_dict())


def test_bf16_matrix_runs_in_float32_with_an_accurate_error(make_checkpoint: Callable[..., Path], rng: np.random.Generator) -> None:
    path = make_checkpoint({"w": encode(rng.standard_normal((64, 40)), "BF16")})
    (e,) = analyze(path, "w", nmf_ranks=(10,))["nmf"]
    decoded = read_tensor(open_checkpoint(path).tensors[0])
    assert decoded.dtype == np.float32
    errs = svd_errors(decoded)  # float64 reference of the stored matrix
    assert e["svd_rel_error"] == pytest.approx(errs[10], rel=1e-5)  # float32/gram σ vs float64 SVD: √δ ≈ 1e-7·σ1 relative to the tail norm ≈ 0.5·‖W‖F
    assert errs[10] * (1 - 1e-4) <= e["nmf_rel_error"] <= errs[9] * (1 + 2e-4)
    assert e["nmf_svd_ratio"] >= 1 - 1e-4


def test_zero_matrix(make_checkpoint: Callable[..., Path]) -> None:
    path = make_checkpoint({"z": np.zeros((8, 6))})
    (e,) = analyze(path, "z")["nmf"]
    assert e["nmf_rel_error"] == 0.0 and e["svd_rel_error"] == 0.0
    assert e["nmf_svd_ratio"] is None and e["svd_rank_equivalent"] == 0
    assert e["converged"] and e["iterations"] == 0


def test_same_seed_same_report_other_seed_runs(signed: tuple[Path, np.ndarray]) -> None:
    path, _ = signed
    a = analyze(path, "w", seed=5, nmf_max_iter=20)["nmf"]
    b = analyze(path, "w", seed=5, nmf_max_iter=20)["nmf"]
    assert a == b
    c = analyze(path, "w", seed=6, nmf_max_iter=20)["nmf"]
    assert c[0]["rank"] == a[0]["rank"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nmf_ranks": (0,)}, "nmf_ranks: expected an integer >= 1 or a fraction in \\(0, 1\\), got 0"),
        ({"nmf_ranks": (1.5,)}, "nmf_ranks: expected"),
        ({"nmf_mode": "both"}, "nmf_mode: expected one of auto, semi, nonneg, abs, got 'both'"),
        ({"nmf_max_iter": 0}, "nmf_max_iter: expected an integer >= 1, got 0"),
        ({"nmf_max_iter": 2.5}, "nmf_max_iter: expected an integer >= 1"),
        ({"nmf_tol": 1.0}, "nmf_tol: expected 0 <= tol < 1, got 1.0"),
        ({"nmf_tol": -1e-3}, "nmf_tol: expected"),
        ({"seed": -1}, "seed: expected an integer >= 0, got -1"),
        ({"seed": True}, "seed: expected an integer >= 0"),
    ],
)
def test_options_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        AnalysisOptions(**kwargs)


def test_options_in_the_report_dict() -> None:
    d = AnalysisOptions(nmf_ranks=(8, 0.5), nmf_mode="abs", nmf_max_iter=50, nmf_tol=1e-3, seed=7).to_dict()
    assert d["nmf_ranks"] == [8, 0.5] and d["nmf_mode"] == "abs" and d["nmf_max_iter"] == 50
    assert d["nmf_tol"] == 1e-3 and d["seed"] == 7


def test_shipped_schema_declares_the_nmf_fields() -> None:
    assert shipped_schema() == report_schema()
    props = shipped_schema()["$defs"]["tensor"]["properties"]
    item = props["nmf"]["items"]
    assert set(item["required"]) == {
        "rank",
        "mode",
        "input",
        "nmf_rel_error",
        "svd_rel_error",
        "nmf_svd_ratio",
        "svd_rank_equivalent",
        "iterations",
        "converged",
        "kkt_residual",
    }
    assert props["nmf_skipped"]["type"] == ["string", "null"]


# -- CLI ----------------------------------------------------------------------------------------


def cli(*args: str):
    return runner.invoke(app, list(args))


def test_cli_json_with_flags_validates(signed: tuple[Path, np.ndarray]) -> None:
    path, _ = signed
    args = ["analyze", str(path), "-f", "json", "--nmf-rank", "4", "--nmf-rank", "0.5", "--nmf-max-iter", "30", "--nmf-tol", "1e-3", "--seed", "3"]
    r = cli(*args)
    assert r.exit_code == 0, r.output
    doc = validate_report(r.stdout)
    (rec,) = doc["tensors"]
    assert [e["rank"] for e in rec["nmf"]] == [4, 18]
    assert all(e["iterations"] <= 30 for e in rec["nmf"])
    opts = doc["options"]
    assert opts["nmf_ranks"] == [4, 0.5] and opts["nmf_max_iter"] == 30 and opts["nmf_tol"] == 1e-3 and opts["seed"] == 3
    assert cli(*args).stdout == r.stdout  # same seed, same report


def test_cli_jsonl_records_validate(signed: tuple[Path, np.ndarray]) -> None:
    path, _ = signed
    r = cli("analyze", str(path), "-f", "jsonl", "--nmf-mode", "abs", "--nmf-rank", "3")
    assert r.exit_code == 0, r.output
    rec = validate_record(json.loads(r.stdout.splitlines()[0]))
    assert rec["nmf"][0]["input"] == "|W|"


def test_cli_table_shows_nmf_columns(signed: tuple[Path, np.ndarray], make_checkpoint: Callable[..., Path], rng: np.random.Generator) -> None:
    path, _ = signed
    r = cli("analyze", str(path), "--nmf-rank", "4", "--nmf-max-iter", "20")
    assert r.exit_code == 0, r.output
    header = r.stdout.splitlines()[0]
    assert "nmf err" in header and "nmf/svd" in header
    two = cli("analyze", str(path), "--nmf-rank", "4", "--nmf-rank", "8", "--nmf-max-iter", "5")
    assert "@4" in two.stdout and "@8" in two.stdout
    refused = cli("analyze", str(path), "--nmf-mode", "nonneg")
    assert refused.exit_code == 0 and "no nmf: signed" in refused.stdout
    absolute = cli("analyze", str(path), "--nmf-mode", "abs", "--nmf-max-iter", "5")
    assert "nmf of |W|" in absolute.stdout


def test_cli_passes_without_nmf_has_no_nmf_columns(signed: tuple[Path, np.ndarray]) -> None:
    path, _ = signed
    r = cli("analyze", str(path), "--passes", "spectrum,rank")
    assert r.exit_code == 0, r.output
    assert "nmf" not in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nmf-rank", "0"], "--nmf-rank: expected an integer >= 1 or a fraction in (0, 1), got 0"),
        (["--nmf-rank", "abc"], "--nmf-rank: expected an integer >= 1 or a fraction in (0, 1), got 'abc'"),
        (["--nmf-rank", "1.0"], "--nmf-rank: expected"),
        (["--nmf-tol", "1.5"], "nmf_tol: expected 0 <= tol < 1, got 1.5"),
        (["--nmf-mode", "both"], "--nmf-mode"),
        (["--nmf-max-iter", "0"], "--nmf-max-iter"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_cli_bad_flags_exit_2(signed: tuple[Path, np.ndarray], args: list[str], message: str) -> None:
    path, _ = signed
    r = cli("analyze", str(path), *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert "Traceback" not in r.output
