"""``backscatter parse``: the bounce anatomy of every message, as JSON Lines, JSON or a table."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from backscatter.cli.app import app, examples
from backscatter.errors import BackscatterError
from backscatter.render import WRITERS, Record

if TYPE_CHECKING:
    from backscatter.mail import SourceError


class OutputFormat(StrEnum):
    jsonl = "jsonl"
    json = "json"
    table = "table"


PathsArgument = Annotated[
    list[str],
    typer.Argument(
        help="Messages to read: .eml files, mbox files, Maildirs, directories, or - for stdin.",
        metavar="PATH",
        show_default=False,
    ),
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
            "table: one aligned row per failed recipient.",
        ),
    ] = OutputFormat.jsonl,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here instead of stdout."),
    ] = None,
) -> None:
    """Parse each message into its bounce anatomy: recipients, status, returned original.

    Exits 1 when a path could not be read (the others are still parsed).
    """
    failures: list[SourceError] = []
    with ExitStack() as stack:
        out = _open_output(output, stack)
        WRITERS[output_format.value](_records(paths, failures), out)
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
