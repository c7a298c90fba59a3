"""``weightlens check`` on the command line: exit codes, config precedence, the sample checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import validate_report
from weightlens.report.schema import shipped_schema
from weightlens.testing import encode, gaussian, geometric_spectrum, with_spectrum, write_sharded

SAMPLES = Path(__file__).resolve().parents[2] / "sample_weights"
TINY = SAMPLES / "tiny_model"


@pytest.fixture
def clean(rng, tmp_path: Path) -> Path:
    """A small healthy BF16 model in two shards (index.json), with norm vectors."""
    shards = []
    for layer in range(2):
        pre = f"model.layers.{layer}."
        shards.append(
            {
                pre + "self_attn.q_proj.weight": encode(with_spectrum(rng, 32, 32, np.linspace(2.0, 0.5, 32)), "BF16"),
                pre + "mlp.up_proj.weight": encode(gaussian(rng, 64, 32), "BF16"),
                pre + "mlp.down_proj.weight": encode(gaussian(rng, 32, 64), "BF16"),
                pre + "input_layernorm.weight": encode(np.ones(32), "BF16"),
            }
        )
    return write_sharded(tmp_path / "clean", shards)


STRICT = ["--max-condition", "100", "--min-rank-ratio", "0.9", "--min-effective-rank-ratio", "0.5", "--max-zero-fraction", "0.01",
          "--max-near-zero-fraction", "0.05", "--max-dead-rows", "0", "--max-dead-cols", "0", "--max-sigma-max", "10"]  # fmt: skip


def test_clean_checkpoint_passes_quietly_with_exit_0(cli, clean: Path) -> None:
    result = cli("check", clean, *STRICT)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("all 8 tensors pass 11 rules in ")
    assert result.stderr == ""
    quiet = cli("check", clean, *STRICT, "-q")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


def test_sample_checkpoint_fails_with_its_planted_problems(cli) -> None:
    result = cli("check", TINY, "--max-condition", "1e4", "--min-rank-ratio", "0.9", "--max-dead-cols", "0.1", "-f", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    found = {(v["tensor"], v["rule"]): v["value"] for v in doc["violations"]}
    assert found == {
        ("model.layers.1.self_attn.k_proj.weight", "max_condition"): None,  # singular: κ = ∞ -> null
        ("model.layers.1.self_attn.k_proj.weight", "min_rank_ratio"): 51 / 64,
        ("model.layers.2.self_attn.v_proj.weight", "max_condition"): None,
        ("model.layers.2.self_attn.v_proj.weight", "min_rank_ratio"): 8 / 64,
        ("model.layers.3.mlp.down_proj.weight", "max_dead_cols"): 43 / 172,
    }
    assert doc["summary"]["line"].startswith("5 violations in 3 tensors (39 tensors checked, 6 rules) in ")
    assert result.stderr.startswith("5 violations in 3 tensors")


def test_adapter_factors_are_checked_as_stored(cli) -> None:
    """The sample adapter: layers.1 q_proj was never trained (lora_B = 0), layers.0 v_proj uses
    rank 2 of its r = 8 (lora_B has rank 2). Every other factor has full rank r, although every
    update ΔW = s·B·A is low-rank: the rank rules see wasted adapter rank, not LoRA itself."""
    result = cli("check", SAMPLES / "adapter", "--min-rank-ratio", "0.9", "-f", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    found = {(v["tensor"], v["rule"]): v["value"] for v in doc["violations"]}
    pre = "base_model.model.model.layers."
    assert found == {
        (pre + "0.self_attn.v_proj.lora_B.weight", "min_rank_ratio"): 2 / 8,
        (pre + "1.self_attn.q_proj.lora_B.weight", "min_rank_ratio"): 0,
        (pre + "1.self_attn.q_proj.lora_B.weight", "allow_all_zero"): True,
    }
    assert doc["summary"]["tensors"] == 10


def test_unreadable_shard_is_a_violation_not_an_error(cli, clean: Path) -> None:
    shard = clean / "model-00002-of-00002.safetensors"
    shard.write_bytes(b"\x80\x04 a pickle, not a shard")
    result = cli("check", clean, "--max-condition", "100", "-f", "json")
    assert result.exit_code == 1
    doc = validate_report(result.stdout, "check")
    assert {v["rule"] for v in doc["violations"]} == {"allow_unreadable"}
    layer1 = ("self_attn.q_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm")  # every tensor of the bad shard
    assert sorted(v["tensor"] for v in doc["violations"]) == sorted(f"model.layers.1.{t}.weight" for t in layer1)
    assert "pickle" in doc["violations"][0]["message"]


def test_violations_table_prints_tensor_rule_value_limit(cli, make_checkpoint, rng) -> None:
    w = gaussian(rng, 8, 8)
    w[0, 0] = np.nan
    name = "[red]layer[/red].weight"  # printed literally, never as markup
    path = make_checkpoint(
        {name: w, "ok": with_spectrum(rng, 8, 8, np.linspace(1, 0.5, 8)), "low": with_spectrum(rng, 8, 8, geometric_spectrum(8, 1e3))}
    )
    result = cli("check", path, "--max-condition", "100")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["tensor", "rule", "value", "limit"]
    assert lines[1].split()[:2] == [name, "allow_nonfinite"] and "1 NaN, 0 Inf" in lines[1] and lines[1].rstrip().endswith("not allowed")
    assert lines[2].split()[:3] == ["low", "max_condition", "1000"] and lines[2].rstrip().endswith("≤ 100")
    assert lines[3] == ""
    assert lines[4].startswith("2 violations in 2 tensors (3 tensors checked, 4 rules, 1 check not evaluated) in ")
    assert len(lines) == 5
    assert cli("check", path, "--max-condition", "100", "-q").stdout.splitlines() == lines[:3]


def test_exit_code_2_for_usage_input_and_config_errors(cli, clean: Path, tmp_path: Path) -> None:
    cases = {
        ("check", tmp_path / "missing"): "no such file or directory",
        ("check", clean, "--max-condition", "0.5"): "command line: --max-condition: expected a number >= 1",
        ("check", clean, "--min-rank-ratio", "abc"): "Invalid value for '--min-rank-ratio'",
        ("check", clean, "--config", tmp_path / "none.toml"): "none.toml: file: cannot read",
        ("check", clean, "--include", "nothing*"): "no tensor to check",
        ("check", clean, "--baseline", clean / "model.safetensors.index.json"): "not a weightlens analyze report",
        ("check", clean, "--format", "xml"): "Invalid value for '--format'",
        ("check", clean, "--allow-nonfinite", "--allow-all-zero", "--allow-unreadable"): "every rule is off",
    }
    for args, message in cases.items():
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == ""
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("max_conditon = 10", "max_conditon"),
        ("max_condition = 'x'", "max_condition"),
        ('[[overrides]]\nmatch = "*"\nallow_all_zero = 3', "overrides[0].allow_all_zero"),
    ],
)
def test_config_errors_exit_2_naming_the_key(cli, clean: Path, toml: str, key: str) -> None:
    Path("pyproject.toml").write_text("[tool.weightlens]\n" + toml.replace("[[overrides]]", "[[tool.weightlens.overrides]]") + "\n")
    result = cli("check", clean)
    assert result.exit_code == 2
    assert f"pyproject.toml [tool.weightlens]: {key}: " in result.stderr
    assert cli("check", clean, "--isolated").exit_code == 0


def test_command_line_beats_config_file_beats_pyproject(cli, make_checkpoint, rng) -> None:
    path = make_checkpoint({"k": with_spectrum(rng, 16, 16, geometric_spectrum(16, 1e3))})  # κ = 1000
    Path("pyproject.toml").write_text("[tool.weightlens]\nmax_condition = 100\n")
    Path("strict.toml").write_text("max_condition = 10\n")
    Path("loose.toml").write_text("max_condition = 1e4\n")
    assert cli("check", path).exit_code == 1  # pyproject: 100
    assert cli("check", path, "--isolated").exit_code == 0  # defaults: no condition rule
    assert cli("check", path, "--config", "loose.toml").exit_code == 0  # --config beats pyproject
    assert cli("check", path, "--config", "loose.toml", "--max-condition", "500").exit_code == 1  # CLI beats --config
    assert cli("check", path, "--config", "strict.toml", "--max-condition", "2000").exit_code == 0
    Path("pyproject.toml").write_text("[tool.weightlens]\nallow_all_zero = true\n")
    zero = make_checkpoint({"z": np.zeros((4, 4))}, "zero.safetensors")
    assert cli("check", zero).exit_code == 0
    assert cli("check", zero, "--no-allow-all-zero").exit_code == 1  # the CLI turns a default back on


def test_output_file_and_junit_xml_file(cli, clean: Path) -> None:
    result = cli("check", clean, "--max-condition", "100", "-f", "json", "-o", "out.json", "--junit-xml", "junit.xml")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(Path("out.json").read_text())["summary"]["passed"] is True
    assert Path("junit.xml").read_text().startswith("<?xml")
    refused = cli("check", clean, "-o", clean / "model-00001-of-00002.safetensors")
    assert refused.exit_code == 2 and "refusing to write" in refused.stderr


def test_schema_command_prints_the_check_schema(cli) -> None:
    result = cli("schema", "check")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == shipped_schema("check")


def test_jobs_run_the_check_in_workers_with_the_same_result(cli) -> None:
    args = ("check", TINY, "--max-condition", "1e4", "--min-rank-ratio", "0.9", "-f", "json")
    serial, parallel = cli(*args, "-j", "1"), cli(*args, "-j", "2")
    assert serial.exit_code == parallel.exit_code == 1
    assert json.loads(serial.stdout)["violations"] == json.loads(parallel.stdout)["violations"]
