"""``backscatter score``: a verdict for every message, with the facts behind it."""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backscatter.cli.app import app
from backscatter.cli.engine import (
    ChunkOption,
    EngineName,
    EngineOption,
    SchedulerOption,
    dask_engine,
    score_dask,
    score_parquet,
)
from backscatter.cli.parse import PathsArgument, _open_output
from backscatter.errors import BackscatterError
from backscatter.render import VERDICT_WRITERS, Record

if TYPE_CHECKING:
    from backscatter.detector import Verdict
    from backscatter.mail import RawMessage, SourceError


class ScoreFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"  # --engine dask: a folder of Parquet files (backscatter.batch.parquet)


@app.command("score")
def score_command(
    paths: PathsArgument,
    sent_log: Annotated[Path | None, typer.Option("--sent-log", help="Sent-log database.")] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="Model file (default: shipped).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Our infrastructure (TOML).")
    ] = None,
    output_format: Annotated[
        ScoreFormat,
        typer.Option("--format", "-f", help="parquet: a dataset folder (--engine dask, -o DIR)."),
    ] = ScoreFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    threshold: Annotated[
        float, typer.Option("--threshold", help="Spoofed at or above this.")
    ] = 0.5,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Worker processes; 0: both cores over 50 MB.")
    ] = 0,
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    chunk_mb: ChunkOption = 64.0,
) -> None:
    """Score each message as genuine, spoofed, unknown or not a bounce, and say why.

    Example: backscatter score --engine dask --scheduler tcp://sched:8786 /srv/mail/archive.mbox
    """
    from backscatter.cli.parallel import score_in_parallel
    from backscatter.detector import GENUINE, VERDICTS, Detector

    if not 0.0 <= threshold <= 1.0:
        raise BackscatterError("--threshold is a probability between 0 and 1")
    detector = Detector.load(model, sent_log, config, threshold)  # fails early on bad options
    span = detector.sent_log.coverage() if detector.sent_log is not None else None
    workers = jobs if jobs > 0 else _auto_jobs(paths)
    failures: list[SourceError] = []
    summary = _Summary()
    batches = _batches(paths, failures)
    cluster = dask_engine(engine, scheduler, jobs, chunk_mb, output_format.value)
    if cluster is not None:
        detector.close()
        if output_format is ScoreFormat.parquet:
            status = score_parquet(paths, cluster, output, model, sent_log, config, threshold)
            raise typer.Exit(status)
        verdicts = score_dask(paths, cluster, failures, model, sent_log, config, threshold)
    elif workers > 1:
        detector.close()
        verdicts = score_in_parallel(batches, workers, model, sent_log, config, threshold)
    else:
        verdicts = (v for batch in batches for v in detector.score_many(batch))
    with ExitStack() as stack:
        out = _open_output(output, stack)
        VERDICT_WRITERS[output_format.value](_records(verdicts, summary), out)
    detector.close()
    tally = summary.verdicts
    counts = ", ".join(f"{tally[v]} {v}" for v in VERDICTS)
    typer.echo(
        f"{sum(tally.values())} messages: {counts}; "
        f"{len(summary.hard)} hard-bounced recipients in genuine bounces"
        + (f"; {summary.skipped} file(s) skipped, not mail" if summary.skipped else ""),
        err=True,
    )
    if summary.outside:
        starts = f" (it covers {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d})" if span else " (empty)"
        typer.echo(
            f"warning: {summary.outside} bounce(s) undated or outside the sent-log's span{starts}: "
            "for them it is no evidence either way",
            err=True,
        )
    if sent_log is None and tally[GENUINE]:
        typer.echo(
            "note: without --sent-log, backscatter (real servers bouncing mail we never sent) "
            "cannot be told from a genuine bounce and is counted genuine",
            err=True,
        )
    if failures:
        raise typer.Exit(1)


_BATCH = 256
_LARGE_INPUT = 50 * 1024 * 1024


def _auto_jobs(paths: list[str]) -> int:
    """Both cores when the input is large enough to repay starting a second process."""
    total = 0
    for path in paths:
        target = Path(path)
        if target.is_file():
            total += target.stat().st_size
        elif target.is_dir():
            total += sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        if total >= _LARGE_INPUT:
            return min(2, os.cpu_count() or 1)
    return 1


def _batches(paths: list[str], failures: list[SourceError]) -> Iterator[list[RawMessage]]:
    from backscatter.mail import SourceError, iter_messages

    batch: list[RawMessage] = []
    for item in iter_messages(paths):
        if isinstance(item, SourceError):
            failures.append(item)
            typer.echo(f"backscatter: cannot read {item.source}: {item.message}", err=True)
            continue
        batch.append(item)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _Summary:
    """What the closing line on standard error reports."""

    verdicts: Counter[str] = field(default_factory=Counter)
    hard: set[str] = field(default_factory=set)  # hard-bounced recipients of genuine bounces
    skipped: int = 0  # files that are not mail
    outside: int = 0  # bounces the sent-log cannot speak for


def _records(verdicts: Iterator[Verdict], summary: _Summary) -> Iterator[Record]:
    from backscatter.detector import GENUINE

    progress = _Progress() if sys.stderr.isatty() else None
    for verdict in verdicts:
        if not verdict.bounce.is_mail:
            summary.skipped += 1
            typer.echo(
                f"backscatter: skipped {verdict.bounce.source}: not an e-mail message", err=True
            )
            continue
        summary.verdicts[verdict.verdict] += 1
        summary.outside += verdict.outside_sent_log
        if verdict.verdict == GENUINE:
            summary.hard.update(r.address for r in verdict.bounce.recipients if r.hard)
        if progress is not None:
            progress.step()
        yield verdict.to_record()
    if progress is not None:
        progress.close()


class _Progress:
    """A message counter on standard error (a terminal only; totals are unknown up front)."""

    def __init__(self) -> None:
        self.count = 0

    def step(self) -> None:
        self.count += 1
        if self.count % 100 == 0:
            sys.stderr.write(f"\rscored {self.count} messages")
            sys.stderr.flush()

    def close(self) -> None:
        if self.count >= 100:
            sys.stderr.write("\r" + " " * 30 + "\r")
