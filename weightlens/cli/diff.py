"""``weightlens diff``: what changed between two checkpoints, or what a LoRA adapter changes."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import typer

from weightlens.cli.analyze import Format, PrecisionChoice
from weightlens.cli.common import EXCLUDE, INCLUDE, JOBS, OUTPUT, QUIET, guard_output, output_stream, progress_bar
from weightlens.pipeline.diff import DiffOptions, DiffRecord, iter_diff, parse_lora_ranks, plan_diff, report_of
from weightlens.render.console import data_console
from weightlens.render.diff import diff_jsonl_line, render_diff_json, render_diff_table
from weightlens.render.markdown import render_diff_markdown


def diff_cmd(
    base: Path = typer.Argument(..., help="The checkpoint before fine-tuning (file, sharded directory or index).", show_default=False),
    tuned: Path = typer.Argument(..., help="The checkpoint after, or a PEFT LoRA adapter (directory or file).", show_default=False),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table (rich, for people), json (one document), jsonl (one object per tensor, streamed) or markdown (a GitHub table for a pull-request comment)."),
    output: Path | None = OUTPUT,
    include: list[str] = INCLUDE,
    exclude: list[str] = EXCLUDE,
    lora_ranks: str = typer.Option("8,16,64", "--lora-ranks", metavar="LIST", help="Ranks r at which to report the best rank-r error of ΔW (comma-separated)."),
    top_k: int = typer.Option(8, "--top-k", min=1, help="Leading singular values of ΔW to report."),
    precision: PrecisionChoice = typer.Option(PrecisionChoice.auto, "--precision", help="auto picks the fastest route whose error stays below the storage noise (float64 Gram eigenvalues or float32 SVD for ≤16-bit storage, float64 SVD for F32/F64); float32/float64 force LAPACK's SVD in that dtype."),
    quiet: bool = QUIET,
    jobs: int | None = JOBS,
) -> None:
    """Compare two checkpoints tensor by tensor: how far each weight moved, the rank and spectrum
    of the update ΔW = W_tuned − W_base, and what it did to W's σ1, κ and effective rank.

    When TUNED is a LoRA adapter, each update ΔW = (alpha/r)·B·A is compared with the base
    weight it targets, exactly and without forming B·A.

    Exit code 0 when done, 1 when some tensor could not be read (the others are reported),
    2 on a usage or input error, 130 when interrupted (JSON Lines already written are kept, whole).
    """
    options = DiffOptions(
        lora_ranks=parse_lora_ranks(lora_ranks),
        top_k=top_k,
        precision=precision.value,
        include=tuple(include),
        exclude=tuple(exclude),
    )
    the_plan = plan_diff(base, tuned, options)
    guard_output(output, [base, tuned])
    records: list[DiffRecord] = []
    streaming = format is Format.jsonl
    with output_stream(output, keep_on_interrupt=streaming) as out:
        with progress_bar(len(the_plan.jobs), quiet, label="comparing", streaming=out if streaming else None) as advance:
            with closing(iter_diff(the_plan, options, workers=jobs, on_complete=lambda job: advance(job.name))) as results:
                for record in results:
                    records.append(record)
                    if streaming:
                        out.write(diff_jsonl_line(record))
                        out.flush()
        report = report_of(the_plan, options, records)
        if format is Format.json:
            out.write(render_diff_json(report))
        elif format is Format.table:
            render_diff_table(report, data_console(out))
        elif format is Format.markdown:
            out.write(render_diff_markdown(report))
    if report.summary.errors:
        raise typer.Exit(1)
