"""``backscatter parse``: the bounce anatomy of every message, as JSON Lines, JSON or a table."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from backscatter.cli.app import app
from backscatter.cli.engine import (
    ChunkOption,
    EngineName,
    EngineOption,
    SchedulerOption,
    dask_engine,
    parse_dask,
    parse_parquet,
)
from backscatter.errors import BackscatterError
from backscatter.render import WRITERS, Record

if TYPE_CHECKING:
    from backscatter.mail import SourceError


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    json = "json"
    table = "table"
    parquet = "parquet"  # --engine dask: a folder of Parquet files (backscatter.batch.parquet)


PathsArgument = Annotated[
    list[str],
    typer.Argument(
        help="Messages to read: .eml files, mbox files, Maildirs, directories, or - for stdin.",
        show_default=False,
    ),
]


@app.command("parse")
def parse_command(
    paths: PathsArgument,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="Output format (parquet: --engine dask, -o DIR)."),
    ] = OutputFormat.jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="--engine dask: local workers; 0: one per core.")
    ] = 0,
    chunk_mb: ChunkOption = 64.0,
) -> None:
    """Parse each message into its bounce anatomy: recipients, status, returned original.

    Example: backscatter parse --engine dask -f parquet -o parsed/ /srv/mail/archive.mbox
    """
    failures: list[SourceError] = []
    cluster = dask_engine(engine, scheduler, jobs, chunk_mb, output_format.value)
    if cluster is not None and output_format is OutputFormat.parquet:
        raise typer.Exit(parse_parquet(paths, cluster, output))
    records = _records(paths, failures) if cluster is None else parse_dask(paths, cluster, failures)
    with ExitStack() as stack:
        out = _open_output(output, stack)
        WRITERS[output_format.value](records, out)
    if failures:
        raise typer.Exit(1)


def _records(paths: list[str], failures: list[SourceError]) -> Iterator[Record]:
    from backscatter.mail import SourceError, iter_messages, parse

    for item in iter_messages(paths):
        if isinstance(item, SourceError):
            failures.append(item)
            typer.echo(f"backscatter: cannot read {item.source}: {item.message}", err=True)
            continue
        yield parse(item).to_record()


def _open_output(output: Path | None, stack: ExitStack) -> TextIO:
    if output is None:
        return sys.stdout
    try:
        return stack.enter_context(output.open("w", encoding="utf-8"))
    except OSError as exc:
        raise BackscatterError(f"cannot write {output}: {exc.strerror or exc}") from None
