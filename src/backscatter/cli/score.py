"""``backscatter score``: a verdict for every message, with the facts behind it."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from backscatter.cli.app import app
from backscatter.cli.parse import PathsArgument, _open_output
from backscatter.detector import GENUINE, Detector
from backscatter.errors import BackscatterError
from backscatter.mail import SourceError, iter_messages
from backscatter.render import VERDICT_WRITERS, Record


class ScoreFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


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
    output_format: Annotated[ScoreFormat, typer.Option("--format", "-f")] = ScoreFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    threshold: Annotated[
        float, typer.Option("--threshold", help="Spoofed at or above this.")
    ] = 0.5,
) -> None:
    """Score each message as genuine, spoofed or not a bounce, and say why."""
    if not 0.0 <= threshold <= 1.0:
        raise BackscatterError("--threshold is a probability between 0 and 1")
    detector = Detector.load(model, sent_log, config, threshold)
    failures: list[SourceError] = []
    tally: Counter[str] = Counter()
    hard: set[str] = set()
    with ExitStack() as stack:
        out = _open_output(output, stack)
        records = _scored(detector, paths, failures, tally, hard)
        VERDICT_WRITERS[output_format.value](records, out)
    detector.close()
    counts = ", ".join(f"{tally[v]} {v}" for v in ("genuine", "spoofed", "not_bounce"))
    typer.echo(
        f"{sum(tally.values())} messages: {counts}; "
        f"{len(hard)} hard-bounced recipients in genuine bounces",
        err=True,
    )
    if failures:
        raise typer.Exit(1)


def _scored(
    detector: Detector,
    paths: list[str],
    failures: list[SourceError],
    tally: Counter[str],
    hard: set[str],
) -> Iterator[Record]:
    progress = _Progress() if sys.stderr.isatty() else None
    for item in iter_messages(paths):
        if isinstance(item, SourceError):
            failures.append(item)
            typer.echo(f"backscatter: cannot read {item.source}: {item.message}", err=True)
            continue
        verdict = detector.score(item)
        tally[verdict.verdict] += 1
        if verdict.verdict == GENUINE:
            hard.update(r.address for r in verdict.bounce.recipients if r.hard)
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
