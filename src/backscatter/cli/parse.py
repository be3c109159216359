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
from backscatter.render import WRITERS, Record


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    json = "json"
    table = "table"
    csv = "csv"


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
            "table: one aligned row per failed recipient; csv: one row per failed recipient.",
        ),
    ] = OutputFormat.jsonl,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Parse each message into its bounce anatomy: recipients, status, returned original.

    Exit status: 0, or 1 when a path you named cannot be read (the rest is still parsed).
    """
    inputs = Inputs(paths, quiet)
    with Meter(paths, progress_wanted(output, quiet), "parsing") as meter:
        inputs.meter = meter
        with output_stream(output) as out:
            WRITERS[output_format.value](_records(inputs, meter), out)
    if inputs.exit_status:
        raise typer.Exit(inputs.exit_status)


def _records(inputs: Inputs, meter: Meter) -> Iterator[Record]:
    from backscatter.mail import parse

    for message in inputs.messages():
        meter.advance(message.size)
        yield parse(message).to_record()
