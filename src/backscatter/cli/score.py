"""``backscatter score``: a verdict for every message, with the facts behind it."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backscatter.cli.app import app
from backscatter.cli.batch import Inputs, Meter, input_bytes, output_stream, progress_wanted
from backscatter.cli.engine import (
    ChunkOption,
    EngineName,
    EngineOption,
    SchedulerOption,
    dask_engine,
    score_dask,
    score_parquet,
)
from backscatter.cli.options import ConfigOption, ModelOption, SentLogOption, ThresholdOption
from backscatter.cli.parse import PathsArgument, QuietOption
from backscatter.errors import BackscatterError
from backscatter.render import VERDICT_WRITERS, Record

if TYPE_CHECKING:
    from backscatter.detector import Verdict


class ScoreFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"  # --engine dask: a folder of Parquet files (backscatter.batch.parquet)


class Only(StrEnum):
    spoofed = "spoofed"
    genuine = "genuine"
    unknown = "unknown"
    not_bounce = "not_bounce"


@app.command("score")
def score_command(
    paths: PathsArgument,
    sent_log: SentLogOption = None,
    model: ModelOption = None,
    config: ConfigOption = None,
    output_format: Annotated[
        ScoreFormat,
        typer.Option(
            "--format",
            "-f",
            help="table (fitted to the terminal), jsonl, csv (one row per recipient), or "
            "parquet (a dataset folder: --engine dask, -o DIR).",
        ),
    ] = ScoreFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    only: Annotated[
        list[Only] | None,
        typer.Option(
            "--only",
            help="Write only messages with this verdict (repeat for several); "
            "the summary still counts all.",
        ),
    ] = None,
    threshold: ThresholdOption = 0.5,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Worker processes; 0: both cores over 50 MB.")
    ] = 0,
    quiet: QuietOption = False,
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    chunk_mb: ChunkOption = 64.0,
) -> None:
    """Score each message as genuine, spoofed, unknown or not a bounce, and say why.

    A summary goes to standard error: counts per verdict, time and rate, and what the counts
    cannot tell (no sent-log, bounces outside its span, inputs skipped). Exit status: 0, or 1
    when a path you named cannot be read (the rest is still scored).

    \b
    Example:
      backscatter score --sent-log sent.db --only spoofed -f csv -o spoofed.csv bounces/
      backscatter score --engine dask --scheduler tcp://sched:8786 -f jsonl archive.mbox
    """
    from backscatter.cli.parallel import score_in_parallel
    from backscatter.detector import Detector

    if not 0.0 <= threshold <= 1.0:
        raise BackscatterError("--threshold is a probability between 0 and 1")
    detector = Detector.load(model, sent_log, config, threshold)  # fails early on bad options
    span = detector.sent_log.coverage() if detector.sent_log is not None else None
    workers = jobs if jobs > 0 else _auto_jobs(paths)
    inputs = Inputs(paths, quiet)
    summary = _Summary(wanted=frozenset(only or ()))
    cluster = dask_engine(engine, scheduler, jobs, chunk_mb, output_format.value)
    if cluster is not None and output_format is ScoreFormat.parquet:
        detector.close()
        raise typer.Exit(
            score_parquet(paths, cluster, output, inputs, model, sent_log, config, threshold)
        )
    with Meter(paths, progress_wanted(output, quiet)) as meter:
        inputs.meter = meter
        batches = inputs.batches(_BATCH)
        if cluster is not None:
            detector.close()
            verdicts = score_dask(paths, cluster, inputs, model, sent_log, config, threshold)
        elif workers > 1:
            detector.close()
            verdicts = score_in_parallel(batches, workers, model, sent_log, config, threshold)
        else:
            verdicts = (v for batch in batches for v in detector.score_many(batch))
        with output_stream(output) as out:
            VERDICT_WRITERS[output_format.value](_records(verdicts, summary, inputs, meter), out)
    detector.close()
    if not quiet:
        for line in summary.lines(meter, inputs, sent_log is not None, span):
            typer.echo(line, err=True)
    if inputs.exit_status:
        raise typer.Exit(inputs.exit_status)


_BATCH = 256
_LARGE_INPUT = 50 * 1024 * 1024


def _auto_jobs(paths: list[str]) -> int:
    """Both cores when the input is large enough to repay starting a second process."""
    if (input_bytes(paths, _LARGE_INPUT) or 0) >= _LARGE_INPUT:
        return min(2, os.cpu_count() or 1)
    return 1



@dataclass
class _Summary:
    """What the closing lines on standard error report."""

    wanted: frozenset[str] = frozenset()  # --only: the verdicts written; empty: all
    verdicts: Counter[str] = field(default_factory=Counter)
    hard: set[str] = field(default_factory=set)  # hard-bounced recipients of genuine bounces
    coverage: Counter[str] = field(default_factory=Counter)  # outside the sent-log: why
    written: int = 0

    def count(self, verdict: Verdict) -> None:
        from backscatter.detector import GENUINE

        self.verdicts[verdict.verdict] += 1
        if verdict.outside_sent_log:
            self.coverage[verdict.coverage or "undated"] += 1
        if verdict.verdict == GENUINE:
            self.hard.update(r.address.lower() for r in verdict.bounce.recipients if r.hard)

    def lines(
        self, meter: Meter, inputs: Inputs, has_sent_log: bool, span: tuple | None
    ) -> Iterator[str]:
        from backscatter.detector import GENUINE, VERDICTS

        tally = self.verdicts
        counts = ", ".join(f"{tally[v]} {v}" for v in VERDICTS)
        yield (
            f"{sum(tally.values())} messages {meter.timing(sum(tally.values()))}: {counts}; "
            f"{len(self.hard)} hard-bounced recipients in genuine bounces"
        )
        if self.wanted:
            yield f"{self.written} written (--only {', '.join(sorted(self.wanted))})"
        if not has_sent_log and tally[GENUINE]:
            yield (
                "warning: backscatter cannot be detected without a sent-log; "
                f"{tally[GENUINE]} bounce(s) counted genuine may be backscatter "
                "(give --sent-log)"
            )
        if self.coverage:
            yield _coverage_line(self.coverage, span)
        skipped = inputs.skipped_line()
        if skipped:
            yield f"warning: {skipped}"


def _coverage_line(coverage: Counter[str], span: tuple | None) -> str:
    """'3 bounce(s) the sent-log cannot speak for: 2 predate it, 1 undated (it covers ...)'."""
    words = {"before_log": "predate it", "after_log": "postdate it", "undated": "undated"}
    parts = ", ".join(f"{n} {words.get(why, why)}" for why, n in sorted(coverage.items()))
    covers = f"it covers {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}" if span else "it is empty"
    return (
        f"warning: {sum(coverage.values())} bounce(s) the sent-log cannot speak for: {parts} "
        f"({covers}); for them it is no evidence either way"
    )


def _records(
    verdicts: Iterator[Verdict], summary: _Summary, inputs: Inputs, meter: Meter
) -> Iterator[Record]:
    for verdict in verdicts:
        meter.advance(verdict.bounce.size)
        if not verdict.bounce.is_mail:
            inputs.not_mail(verdict.bounce.source)
            continue
        summary.count(verdict)
        if summary.wanted and verdict.verdict not in summary.wanted:
            continue
        summary.written += 1
        yield verdict.to_record()
