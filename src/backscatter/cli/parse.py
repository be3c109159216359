"""``backscatter parse``: the bounce anatomy of every message, as JSON Lines, JSON, CSV or a
table."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from backscatter.cli.app import app, examples
from backscatter.cli.batch import Inputs, Meter, output_stream, progress_wanted
from backscatter.cli.engine import (
    ChunkOption,
    DaskJobsOption,
    EngineName,
    EngineOption,
    SchedulerOption,
    dask_engine,
    parse_dask,
    parse_parquet,
)
from backscatter.render import WRITERS, Record


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    json = "json"
    table = "table"
    csv = "csv"
    parquet = "parquet"  # --engine dask: a folder of Parquet files (backscatter.batch.parquet)


PathsArgument = Annotated[
    list[str],
    typer.Argument(
        help="Messages to read: .eml files, mbox files, Maildirs, directories, or - for stdin.",
        metavar="PATH",
        show_default=False,
    ),
]

QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress bar, summary or warnings; errors only."),
]


@app.command(
    "parse",
    epilog=examples(
        "backscatter parse bounce.eml",
        "backscatter parse ~/Maildir/.Bounces --format table",
        "backscatter parse bounces.mbox -f json -o bounces.json",
        "backscatter parse --engine dask -f parquet -o parsed/ /srv/mail/archive.mbox",
    ),
)
def parse_command(
    paths: PathsArgument,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            help="jsonl: one JSON record per message per line; json: one JSON array; "
            "table: one aligned row per failed recipient; csv: one row per failed recipient; "
            "parquet: a dataset folder (--engine dask, -o DIR).",
        ),
    ] = OutputFormat.jsonl,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
    quiet: QuietOption = False,
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    jobs: DaskJobsOption = 0,
    chunk_mb: ChunkOption = 64.0,
) -> None:
    """Parse each message into its bounce anatomy: recipients, status, returned original.

    Exit status: 0, or 1 when a path you named cannot be read (the rest is still parsed).
    """
    inputs = Inputs(paths, quiet)
    cluster = dask_engine(engine, scheduler, jobs, chunk_mb, output_format.value)
    if cluster is not None and output_format is OutputFormat.parquet:
        raise typer.Exit(parse_parquet(paths, cluster, output, inputs))
    with Meter(paths, progress_wanted(output, quiet), "parsing") as meter:
        inputs.meter = meter
        records = (
            _records(inputs, meter)
            if cluster is None
            else _sized(parse_dask(paths, cluster, inputs), meter)
        )
        with output_stream(output) as out:
            WRITERS[output_format.value](records, out)
    if inputs.exit_status:
        raise typer.Exit(inputs.exit_status)


def _records(inputs: Inputs, meter: Meter) -> Iterator[Record]:
    from backscatter.mail import parse

    for message in inputs.messages():
        meter.advance(message.size)
        yield parse(message).to_record()


def _sized(records: Iterator[Record], meter: Meter) -> Iterator[Record]:
    for record in records:
        meter.advance(record["size"])
        yield record
