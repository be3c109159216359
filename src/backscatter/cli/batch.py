"""What every batch command (parse, score, suppressions) shares: reading the inputs, the
progress bar and the output stream, with one rule for each way a run can go wrong.

Exit status (like ``cat`` and ``grep``): a path the user named that cannot be read (missing,
unreadable, a FIFO or device) is an error: it is reported, the rest is processed, and the
command exits 1. What a scanned directory or Maildir holds besides mail (a FIFO, a symbolic
link, a README) is skipped with a warning, counted in the summary, and the exit status stays
0: the user asked for the folder, and the folder was read. A reader that goes away
(``| head``) ends the run at once with status 0 and nothing on standard error, as for
``set -o pipefail`` a closed pipe is the reader's choice, not a failure.

Nothing here imports rich or the mail parser at module level: ``backscatter --help`` must
start fast.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

from backscatter.errors import BackscatterError
from backscatter.filters.client import quiet_stdout

if TYPE_CHECKING:
    from backscatter.mail import RawMessage, SourceError


@contextmanager
def output_stream(output: Path | None) -> Iterator[TextIO]:
    """Standard output or the named file. A closed pipe ends the run with status 0.

    typer (as Click) turns a ``BrokenPipeError`` escaping a command into exit status 1 (its
    ``main``, typer/core.py, catches EPIPE before ``backscatter.cli.main`` can): that made
    ``backscatter parse ... | head`` fail under ``set -o pipefail``. So the pipe is handled
    here, inside the command, and flushed here too, as the last buffer would otherwise fail
    at interpreter exit with "Exception ignored ... BrokenPipeError" and status 120.
    """
    with ExitStack() as stack:
        out = _open(output, stack)
        try:
            yield out
            out.flush()
        except BrokenPipeError:
            if out is sys.stdout:
                quiet_stdout()
            raise typer.Exit(0) from None


def _open(output: Path | None, stack: ExitStack) -> TextIO:
    if output is None:
        return sys.stdout
    try:
        return stack.enter_context(output.open("w", encoding="utf-8", newline=""))
    except OSError as exc:
        raise BackscatterError(f"cannot write {output}: {exc.strerror or exc}") from None



class Inputs:
    """The messages under the paths the user named, and a tally of what was not mail.

    A ``SourceError`` whose source is a named path is an error (exit 1); one met inside a
    scanned directory is a skipped input (a warning, exit 0). See the module docstring.
    """

    def __init__(self, paths: list[str], quiet: bool = False) -> None:
        self.paths = paths
        self.named = set(paths)
        self.quiet = quiet
        self.unreadable: list[SourceError] = []
        self.skipped: Counter[str] = Counter()  # why -> how many (named or found in a folder)
        self.meter: Meter | None = None

    def messages(self) -> Iterator[RawMessage]:
        from backscatter.mail import SourceError, iter_messages

        for item in iter_messages(self.paths):
            if isinstance(item, SourceError):
                self._source_error(item)
                continue
            yield item

    def batches(self, size: int = 256) -> Iterator[list[RawMessage]]:
        """:meth:`messages` in lists for ``Detector.score_many`` (and the worker pools,
        which take a batch per task)."""
        batch: list[RawMessage] = []
        for message in self.messages():
            batch.append(message)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def read_error(self, item: SourceError) -> None:
        """An input a reader other than :meth:`messages` could not read (``--engine dask``
        workers report theirs here), counted and said exactly as if met here."""
        self._source_error(item)

    def _source_error(self, item: SourceError) -> None:
        why = item.message.removeprefix("skipped: ")
        self.skipped[_kind(why)] += 1
        if item.source in self.named:
            self.unreadable.append(item)
            self.say(f"backscatter: cannot read {item.source}: {why}", always=True)
        else:
            self.say(f"warning: skipped {item.source}: {why}")

    def not_mail(self, source: str) -> None:
        """A file that holds no header fields at all (a README in a scanned folder)."""
        self.skipped["not mail"] += 1
        self.say(f"warning: skipped {source}: not an e-mail message")

    def say(self, line: str, always: bool = False) -> None:
        """A line on standard error (through the progress bar when one is drawn)."""
        from backscatter.render import clean

        if self.quiet and not always:
            return
        line = clean(line)
        if self.meter is not None and self.meter.live:
            self.meter.print(line)
        else:
            typer.echo(line, err=True)

    @property
    def exit_status(self) -> int:
        return 1 if self.unreadable else 0

    def skipped_line(self) -> str | None:
        """'3 input(s) skipped (2 not mail, 1 not a regular file)', or None."""
        total = sum(self.skipped.values())
        if not total:
            return None
        detail = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return f"{total} input(s) skipped ({detail})"


def _kind(why: str) -> str:
    """What the summary counts a SourceError as."""
    if "not a regular file" in why:
        return "not a regular file"
    if "symbolic link" in why:
        return "symbolic link"
    return "unreadable"


def input_bytes(paths: Iterable[str], limit: int | None = None) -> int | None:
    """The bytes under paths (regular files, links not followed inside folders), or None
    when a path is standard input and no total can be known. Stops counting at limit."""
    total = 0
    for path in paths:
        if path == "-":
            return None
        try:
            if os.path.isdir(path):
                for dirpath, _, filenames in os.walk(path):
                    for name in filenames:
                        info = os.lstat(os.path.join(dirpath, name))
                        if info.st_mode & 0o170000 == 0o100000:  # S_ISREG, links not followed
                            total += info.st_size
                    if limit is not None and total >= limit:
                        return total
            elif os.path.isfile(path):
                total += os.stat(path).st_size
        except OSError:
            continue
        if limit is not None and total >= limit:
            return total
    return total


def progress_wanted(output: Path | None, quiet: bool) -> bool:
    """A bar on standard error when it is a terminal, unless asked to be quiet or the records
    themselves scroll past on the same terminal (they show the progress then)."""
    if quiet or not _isatty(sys.stderr):
        return False
    return output is not None or not _isatty(sys.stdout)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Meter:
    """Progress on standard error: a rich bar with total, msg/s and ETA, or nothing.

    The total is the input's size in bytes, known up front from the file sizes (a multi-GB
    mbox is not read twice); each message advances the bar by its own size. From standard
    input there is no total: the bar shows the count and rate only.
    """

    def __init__(self, paths: list[str], enabled: bool, verb: str = "scoring") -> None:
        self.messages = 0
        self.started = time.monotonic()
        self.live = False
        self._progress: Any = None
        self._task: Any = None
        if enabled:
            self._start(paths, verb)

    def _start(self, paths: list[str], verb: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        meter = self

        class Rate(ProgressColumn):
            def render(self, task: Any) -> Text:
                elapsed = time.monotonic() - meter.started
                rate = meter.messages / elapsed if elapsed > 0 else 0.0
                return Text(f"{meter.messages:,} msgs {rate:,.0f} msg/s")

        self._progress = Progress(
            TextColumn(verb),
            BarColumn(),
            TaskProgressColumn(),
            Rate(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task(verb, total=input_bytes(paths))
        self._progress.start()
        self.live = True

    def advance(self, size: int) -> None:
        self.messages += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=size)

    def print(self, line: str) -> None:
        self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self._progress is not None and self.live:
            self.live = False
            self._progress.stop()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def timing(self, messages: int | None = None) -> str:
        """'in 2.1 s (236 msg/s)', for messages (default: every input message read)."""
        elapsed = self.elapsed
        count = self.messages if messages is None else messages
        rate = count / elapsed if elapsed > 0 else 0.0
        return f"in {elapsed:.{1 if elapsed >= 1 else 2}f} s ({rate:,.0f} msg/s)"

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
