"""``backscatter sentlog``: import what we sent, prune it, check it, and see what it holds.

Every failure of the store (a full disk, a damaged or read-only file, an unreachable
database) is one plain line from the store, never a traceback (issue 12). ``--db`` (also
spelled ``--sent-log``) is a SQLite file or a ``postgresql://`` DSN (issue 11); without it,
``$BACKSCATTER_SENT_LOG``, else the file in the user's data directory.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backscatter.cli.app import app, examples
from backscatter.errors import BackscatterError, InputError
from backscatter.render import clean

if TYPE_CHECKING:
    from backscatter.sentlog.importers import Progress

sentlog_app = typer.Typer(
    no_args_is_help=True,
    help="The log of mail we really sent: a bounce of mail we never sent is backscatter.",
    epilog=examples(
        "backscatter sentlog import --format postfix /var/log/mail.log", "backscatter sentlog stats"
    ),
)
app.add_typer(sentlog_app, name="sentlog")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        "--sent-log",
        metavar="FILE|DSN",
        help="The sent-log: a SQLite file or a postgresql:// DSN (default: "
        "$BACKSCATTER_SENT_LOG, else a file in the user's data directory).",
    ),
]


class LogFormat(StrEnum):
    csv = "csv"
    postfix = "postfix"
    exim = "exim"
    mbox = "mbox"
    maildir = "maildir"


class StatsFormat(StrEnum):
    json = "json"
    table = "table"


@sentlog_app.command(
    "import",
    epilog=examples(
        "backscatter sentlog import --format postfix /var/log/mail.log /var/log/mail.log.1",
        "backscatter sentlog import --format maildir ~/Maildir/.Sent",
    ),
)
def import_command(
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE",
            help="Mail logs, CSV files (message_id,sent_at,sender,recipient) or Sent folders.",
        ),
    ],
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--format",
            help="What the files are: csv, a postfix or exim mail log, an mbox or a Maildir.",
        ),
    ],
    db: DbOption = None,
) -> None:
    """Import sent mail; importing the same file twice adds nothing."""
    from backscatter.sentlog import SentLogUnavailable, open_sent_log
    from backscatter.sentlog.importers import READERS, Tally

    reader = READERS[log_format.value]
    tally = Tally()
    unreadable = read = added = 0
    with open_sent_log(db, readonly=False) as store:
        for path in files:
            try:
                with _progress(path) as progress:
                    file_read, file_added = store.add(reader(path, tally, progress))
            except InputError as exc:
                typer.echo(f"backscatter: {clean(exc)}", err=True)
                unreadable += 1
                continue
            except SentLogUnavailable as exc:
                raise BackscatterError(
                    f"{exc} (while importing {path}; the batches written are kept, and "
                    "importing again adds only the rest)"
                ) from None
            read, added = read + file_read, added + file_added
    typer.echo(f"read {read} recipient rows, {added} new; {tally.malformed} malformed lines")
    for example in tally.examples:
        typer.echo(f"  malformed: {clean(example)}", err=True)  # log text, not terminal input
    for stop in tally.stopped:
        typer.echo(f"backscatter: {clean(stop)}", err=True)
    if unreadable or tally.stopped:
        raise typer.Exit(1)


@sentlog_app.command("prune", epilog=examples("backscatter sentlog prune --older-than 30d"))
def prune_command(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", metavar="AGE", help="Age such as 30d, 12h, 4w (units: s m h d w)."
        ),
    ],
    db: DbOption = None,
) -> None:
    """Forget mail sent longer ago than this: bounces arrive within days."""
    from backscatter.sentlog import open_sent_log

    cutoff = datetime.now(UTC) - parse_age(older_than)
    with open_sent_log(db, readonly=False) as store:
        removed = store.prune(cutoff)
    typer.echo(f"removed {removed} recipient rows sent before {cutoff:%Y-%m-%d %H:%M} UTC")


@sentlog_app.command("stats", epilog=examples("backscatter sentlog stats --format json"))
def stats_command(
    db: DbOption = None,
    output_format: Annotated[
        StatsFormat,
        typer.Option("--format", help="table: one line per figure; json: one JSON object."),
    ] = StatsFormat.table,
) -> None:
    """How many messages and recipients the sent-log holds, and over what time."""
    from backscatter.sentlog import open_sent_log

    with open_sent_log(db, readonly=True) as store:
        stats = store.stats()
    if output_format is StatsFormat.json:
        typer.echo(json.dumps(stats))
        return
    for name, value in stats.items():
        typer.echo(f"{name:12} {value}")


@sentlog_app.command("check", epilog=examples("backscatter sentlog check --full"))
def check_command(
    db: DbOption = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="SQLite's integrity_check (slower: also checks indexes against rows)."
        ),
    ] = False,
) -> None:
    """Check the database: prints ok (exit 0) or the problems found (exit 1)."""
    from backscatter.sentlog import SqliteSentLog, is_dsn, open_sent_log, sent_log_spec

    spec = sent_log_spec(db)
    if is_dsn(spec):
        with open_sent_log(spec, readonly=True) as store:
            problems = store.check(full=full)
    else:
        path = Path(spec)
        if not path.is_file():
            raise BackscatterError(f"no sent-log at {path}")
        with SqliteSentLog.open_unchecked(path) as store:
            problems = store.check(full=full)
    if problems == ["ok"]:
        typer.echo("ok")
        return
    for problem in problems:
        typer.echo(problem)
    raise typer.Exit(1)


@sentlog_app.command(
    "migrate",
    epilog="Example: backscatter sentlog migrate --sent-log postgresql://backscatter@db.example/mail",
)
def migrate_command(db: DbOption = None) -> None:
    """Create or upgrade the PostgreSQL sent-log's schema (run once after installing or
    upgrading backscatter; a SQLite file needs nothing and is left as it is)."""
    from backscatter.sentlog import is_dsn, mask_dsn, sent_log_spec
    from backscatter.sentlog.postgres import migrate

    spec = sent_log_spec(db)
    if not is_dsn(spec):
        typer.echo(f"{spec}: a SQLite sent-log keeps its own schema; nothing to migrate")
        return
    before, after = migrate(str(spec))
    if before == after:
        typer.echo(f"{mask_dsn(str(spec))}: schema version {after}, up to date")
    else:
        typer.echo(f"{mask_dsn(str(spec))}: schema version {before} -> {after}")


def parse_age(text: str) -> timedelta:
    """``30d`` -> 30 days; units: s, m, h, d, w."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if match is None:
        raise BackscatterError(
            f"--older-than takes a number and a unit (30d, 12h, 4w), not {text!r}"
        )
    number, unit = int(match.group(1)), match.group(2)
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    return timedelta(seconds=number * seconds)


@contextmanager
def _progress(path: str) -> Iterator[Progress | None]:
    """A progress bar over the file's bytes, on a terminal only."""
    if not sys.stderr.isatty() or not Path(path).is_file():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    with Bar(
        "{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn(), transient=True
    ) as bar:
        task = bar.add_task(Path(path).name, total=Path(path).stat().st_size)
        yield lambda done: bar.update(task, completed=done)
