"""``weightlens analyze``: run the passes, print a table or write JSON/JSONL."""

from __future__ import annotations

from contextlib import closing
from enum import Enum
from pathlib import Path

import typer

from weightlens.cli.common import EXCLUDE, INCLUDE, JOBS, OUTPUT, PATHS, QUIET, guard_output, output_stream, progress_bar
from weightlens.passes import DEFAULT_PASSES, OPT_IN_PASSES, PASSES
from weightlens.passes.options import AnalysisOptions, parse_passes, parse_rank_spec
from weightlens.pipeline.run import iter_records, plan
from weightlens.render.console import data_console
from weightlens.render.json import jsonl_line, render_json
from weightlens.render.markdown import render_markdown
from weightlens.render.table import render_table
from weightlens.report.records import Report, TensorRecord, summarize


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"


class PrecisionChoice(str, Enum):
    auto = "auto"
    float32 = "float32"
    float64 = "float64"


class SpectrumChoice(str, Enum):
    exact = "exact"
    fast = "fast"


class NMFModeChoice(str, Enum):
    auto = "auto"
    semi = "semi"
    nonneg = "nonneg"
    abs = "abs"


NMF_FLAGS = ("nmf_rank", "nmf_mode", "nmf_max_iter", "nmf_tol")


def _passes(ctx: typer.Context, passes: str | None) -> tuple[str, ...]:
    """--passes, with nmf added when an --nmf-* option is given and --passes is not."""
    chosen = parse_passes(passes)
    given = [n for n in NMF_FLAGS if getattr(ctx.get_parameter_source(n), "name", None) == "COMMANDLINE"]
    return (*chosen, "nmf") if given and passes is None and "nmf" not in chosen else chosen


_OPT_IN = ",".join(p for p in PASSES if p in OPT_IN_PASSES)  # the opt-in passes, in registry order, for --passes help


def analyze_cmd(
    ctx: typer.Context,
    paths: list[Path] = PATHS,
    format: Format = typer.Option(Format.table, "--format", "-f", help="table (rich, for people), json (one document), jsonl (one object per tensor, streamed) or markdown (a GitHub table for a pull-request comment)."),
    output: Path | None = OUTPUT,
    passes: str | None = typer.Option(None, "--passes", "-p", metavar="LIST", help=f"Passes to run: 'all', a comma-separated list, or changes to the default set such as +nmf or -alpha (an --nmf-* option adds nmf) [default: {','.join(DEFAULT_PASSES)}; all adds {_OPT_IN}].", show_default=False),
    include: list[str] = INCLUDE,
    exclude: list[str] = EXCLUDE,
    top_k: int = typer.Option(8, "--top-k", min=1, help="Leading singular values to report."),
    svd_rank: list[str] = typer.Option([], "--svd-rank", metavar="RANK", help="Rank k (integer) or fraction of min(m,n) at which to report the optimal rank-k error; repeatable [default: 0.1, 0.25, 0.5].", show_default=False),
    full_spectrum: bool = typer.Option(False, "--full-spectrum", help="Include all singular values in JSON output."),
    precision: PrecisionChoice = typer.Option(PrecisionChoice.auto, "--precision", help="auto picks the fastest route whose error stays below the storage noise (float64 Gram eigenvalues or float32 SVD for ≤16-bit storage, float64 SVD for F32/F64); float32/float64 force LAPACK's SVD (and NMF) in that dtype."),
    spectrum: SpectrumChoice = typer.Option(SpectrumChoice.exact, "--spectrum", help="exact: all singular values; fast: only the top-k and σmin of matrices with min(m,n) ≥ 512 (Lanczos on the Gram matrix, with error bounds; reported as spectrum_exact: false)."),
    jobs: int | None = JOBS,
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDRESS", help="Run on a Dask cluster: 'local' starts one here, tcp://HOST:PORT uses a running scheduler whose workers see the same checkpoint path (pip install 'dask[distributed]', the weightlens-health[dask] extra).", show_default=False),
    near_zero_tau: float = typer.Option(1e-3, "--near-zero-tau", help="τ of near_zero_fraction: |w| ≤ τ·rms."),
    nmf_rank: list[str] = typer.Option([], "--nmf-rank", metavar="RANK", help="NMF rank k (integer) or fraction of min(m,n); repeatable [default: min(32, min(m,n)/2)].", show_default=False),
    nmf_mode: NMFModeChoice = typer.Option(
        NMFModeChoice.auto,
        "--nmf-mode",
        help="semi: F signed, G ≥ 0 (for signed weights); nonneg: F, G ≥ 0 (for W ≥ 0; signed matrices are skipped); abs: nonneg NMF of |W|; auto: nonneg for W ≥ 0, semi otherwise.",
    ),
    nmf_max_iter: int = typer.Option(200, "--nmf-max-iter", min=1, help="Maximum NMF iterations."),
    nmf_tol: float = typer.Option(1e-4, "--nmf-tol", help="NMF stops when its Gauss–Newton model predicts the error to fall by less than this (relative) over the next 10 steps, or at a KKT point to working precision."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the randomized NMF starts; same seed, same report."),
    quiet: bool = QUIET,
) -> None:
    """Analyze every weight matrix: rank, spectrum, condition number, sparsity, NMF error.

    A PEFT LoRA adapter (directory with adapter_model.safetensors, or a file of lora_A/lora_B
    pairs) gets one record per targeted module for its update ΔW = (alpha/r)·B·A, computed
    exactly from the factors.

    Exit code 0 when done, 1 when some tensor could not be read (the others are reported),
    2 on a usage or input error, 130 when interrupted (JSON Lines already written are kept, whole).
    """
    kwargs = {"svd_ranks": tuple(parse_rank_spec(s, "--svd-rank") for s in svd_rank)} if svd_rank else {}
    options = AnalysisOptions(
        passes=_passes(ctx, passes),
        top_k=top_k,
        full_spectrum=full_spectrum,
        precision=precision.value,
        spectrum=spectrum.value,
        near_zero_tau=near_zero_tau,
        include=tuple(include),
        exclude=tuple(exclude),
        nmf_ranks=tuple(parse_rank_spec(s, "--nmf-rank") for s in nmf_rank),
        nmf_mode=nmf_mode.value,
        nmf_max_iter=nmf_max_iter,
        nmf_tol=nmf_tol,
        seed=seed,
        **kwargs,
    )
    the_plan = plan(paths, options.include, options.exclude)
    guard_output(output, paths)
    units = the_plan.jobs
    records: list[TensorRecord] = []
    streaming = format is Format.jsonl
    with output_stream(output, keep_on_interrupt=streaming) as out:
        with progress_bar(len(units), quiet, streaming=out if streaming else None) as advance:
            # closing(): Ctrl-C while a record is written still stops the workers at once
            with closing(iter_records(units, options, workers=jobs, scheduler=scheduler, on_complete=lambda unit: advance(unit.name))) as results:
                for record in results:
                    records.append(record)
                    if streaming:
                        out.write(jsonl_line(record))
                        out.flush()
        report = Report(the_plan.inputs(), options, records, summarize(records, the_plan.excluded))
        if format is Format.json:
            out.write(render_json(report))
        elif format is Format.table:
            render_table(report, data_console(out))
        elif format is Format.markdown:
            out.write(render_markdown(report))
    if report.summary.errors:
        raise typer.Exit(1)
