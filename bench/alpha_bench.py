#!/usr/bin/env python3
"""weightlens' heavy-tail exponent α against WeightWatcher's, on the same matrices.

    python bench/alpha_bench.py            (needs the bench extra: pip install -e '.[bench]')

Each matrix becomes the weight of a torch ``nn.Linear`` for WeightWatcher (``analyze()`` with
its defaults) and a tensor of a safetensors file for weightlens (float32 in both). Printed, and
written to bench/out/alpha.md: α, xmin and tail size from both, and their difference; then the
two fitters on identical eigenvalues (the fit alone, no eigenvalue selection), and the time of
the fit (median of 5 runs).
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path

import numpy as np
from benchutil import median_time

from weightlens import AnalysisOptions, analyze
from weightlens.linalg.powerlaw import fit_power_law
from weightlens.testing import encode, power_law_sample, to_bf16_bits, with_spectrum, write_safetensors

OUT = Path(__file__).resolve().parent / "out"


def planted(rng: np.random.Generator, alpha: float, m: int = 600, n: int = 500, tail: int = 300) -> np.ndarray:
    """Eigenvalues: n − tail log-uniform in [0.01, 1), then a power-law tail of exponent α from 1."""
    lam = np.concatenate([np.exp(rng.uniform(math.log(0.01), 0.0, n - tail)), power_law_sample(rng, tail, alpha)])
    return with_spectrum(rng, m, n, np.sort(np.sqrt(lam))[::-1])


def matrices() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261124)
    out = {f"planted tail α={a}": planted(rng, a) for a in (2.0, 2.5, 3.0, 4.0, 5.0)}
    out["pure power law α=3 (all 500 λ)"] = with_spectrum(rng, 600, 500, np.sort(np.sqrt(power_law_sample(rng, 500, 3.0)))[::-1])
    out["Student-t entries ν=3, 1024×512"] = rng.standard_t(3, (1024, 512)) / math.sqrt(512)
    out["Student-t entries ν=5, 1024×512"] = rng.standard_t(5, (1024, 512)) / math.sqrt(512)
    out["Gaussian 1024×512 (no power law)"] = rng.standard_normal((1024, 512)) / math.sqrt(512)
    out["rank 40 + noise 1e-3, 512×384"] = with_spectrum(rng, 512, 384, np.geomspace(3, 0.3, 40)) + 1e-3 * rng.standard_normal((512, 384)) / math.sqrt(384)
    out = {k: v.astype(np.float32) for k, v in out.items()}
    # Stored in BF16 (both tools see the same rounded values): 150 power-law directions (α = 2.5), 362 of rounding noise.
    low = with_spectrum(rng, 768, 512, np.sort(np.sqrt(power_law_sample(rng, 150, 2.5)))[::-1])
    out[BF16_NAME] = (to_bf16_bits(low.astype(np.float32)).astype(np.uint32) << 16).view(np.float32)
    return out


BF16_NAME = "rank 150 (α=2.5) stored in BF16, 768×512"


def weightwatcher(mats: dict[str, np.ndarray]) -> list[dict[str, float]]:
    import torch
    import weightwatcher as ww

    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    layers = []
    for w in mats.values():
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w))
        layers.append(layer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        details = ww.WeightWatcher(model=torch.nn.Sequential(*layers)).analyze()
    return [{"alpha": row.alpha, "xmin": row.xmin, "n_tail": row.num_pl_spikes, "D": row.D} for row in details.itertuples()]


def weightlens_alphas(mats: dict[str, np.ndarray]) -> list[dict[str, float]]:
    OUT.mkdir(exist_ok=True)
    tensors = {f"m{i:02d}": encode(w, "BF16") if name == BF16_NAME else w for i, (name, w) in enumerate(mats.items())}
    path = write_safetensors(OUT / "alpha_bench.safetensors", tensors)
    report = analyze(path, AnalysisOptions(passes=("rank", "alpha")))
    rows = [{"alpha": r["alpha"], "xmin": r["alpha_xmin"], "n_tail": r["alpha_n_tail"], "D": r["alpha_ks_distance"], "quality": r["alpha_quality"]} for r in report.tensors]
    path.unlink()
    return rows


def main() -> str:
    from weightwatcher.WW_powerlaw import WWFit

    mats = matrices()
    ours = weightlens_alphas(mats)
    theirs = weightwatcher(mats)
    lines = [
        "| matrix | α weightlens | α WeightWatcher | Δα | xmin wl / ww | tail wl / ww | weightlens quality |",
        "| :-- | --: | --: | --: | --: | --: | :-- |",
    ]
    for name, a, b in zip(mats, ours, theirs):
        lines.append(
            f"| {name} | {a['alpha']:.3f} | {b['alpha']:.3f} | {a['alpha'] - b['alpha']:+.3f} | {a['xmin']:.3g} / {b['xmin']:.3g} | {a['n_tail']} / {int(b['n_tail'])} | {a['quality']} |"
        )
    lines += ["", "Fit alone, identical eigenvalues (λ = σ² of the float64 SVD, all > 0):", "", "| matrix | α weightlens | α WWFit | Δα | D weightlens (two-sided) | D WWFit |", "| :-- | --: | --: | --: | --: | --: |"]
    for name, w in mats.items():
        lam = np.linalg.svd(w.astype(np.float64), compute_uv=False) ** 2
        a = fit_power_law(lam)
        b = WWFit(lam)
        assert a is not None
        lines.append(f"| {name} | {a.alpha:.3f} | {b.alpha:.3f} | {a.alpha - b.alpha:+.3f} | {a.ks_distance:.4f} | {b.D:.4f} |")
    lines += ["", "Time of the fit (median of 5), Pareto α = 3 eigenvalues:", "", "| p | weightlens | WWFit | ratio |", "| --: | --: | --: | --: |"]
    rng = np.random.default_rng(0)
    for p in (1024, 4096):
        lam = power_law_sample(rng, p, 3.0, stratified=False)
        t_wl = median_time(lambda lam=lam: fit_power_law(lam))
        t_ww = median_time(lambda lam=lam: WWFit(lam))
        lines.append(f"| {p} | {t_wl * 1e3:.0f} ms | {t_ww * 1e3:.0f} ms | {t_ww / t_wl:.1f}× |")
    text = "\n".join(lines) + "\n"
    OUT.mkdir(exist_ok=True)
    (OUT / "alpha.md").write_text(text)
    return text


if __name__ == "__main__":
    print(main())
