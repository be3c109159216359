"""``backscatter suppressions``: the addresses a list should stop mailing, in a form the list
software imports as it is.

Only hard bounces from **genuine** bounces ever reach the list: a spoofed bounce (backscatter,
a fake NDR) or one the model could not decide (``unknown``) is held back and counted, so a
forger cannot unsubscribe your readers by bouncing mail you never sent.

By default only recipient-side reasons (mail/status.py's taxonomy) count: ``user_unknown``
(no such user, and mailbox disabled or inactive, RFC 3463 X.1.1, X.2.1) and ``host_unknown``
(no such domain, X.1.2). A sender-side refusal (``policy``: SPF, DMARC, relaying; ``blocked``:
our IP or content looked like spam) says nothing about the address and would unsubscribe
readers for our own misconfiguration; ``--reasons all`` or a list of reasons includes them.

Formats (``--format``):

- ``plain``: one address per line.
- ``csv``: ``email,reason,status,bounces,first_bounce,last_bounce`` (dates ISO 8601, UTC).
- ``mailchimp``: one ``Email Address`` column, the one field Mailchimp's contact import
  requires ("Format guidelines for your import file", kb.mailchimp.com/lists/growth/
  format-guidelines-for-your-import-file); import it choosing the status *Unsubscribed* or
  *Cleaned*. Mailchimp refuses addresses with special characters before the ``@``, so a
  quoted local part (``"john smith"@example.com``) will be reported by its importer.
- ``listmonk``: ``email,name,attributes`` with ``attributes`` a JSON object (listmonk's
  importer, internal/subimporter/importer.go, and the import API, listmonk.app/docs/apis/
  import/); import it with mode *blocklist*. ``name`` is left empty: listmonk derives one
  from the address.

All CSV is written by the csv module (RFC 4180 quoting: a quoted local part is one cell).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from backscatter.cli.app import app
from backscatter.cli.batch import Inputs, Meter, output_stream, progress_wanted
from backscatter.cli.options import ConfigOption, ModelOption, SentLogOption
from backscatter.cli.parse import PathsArgument, QuietOption
from backscatter.errors import BackscatterError
from backscatter.mail.status import RECIPIENT_SIDE

if TYPE_CHECKING:
    from backscatter.detector import Detector, Verdict



class SuppressionFormat(StrEnum):
    plain = "plain"
    csv = "csv"
    mailchimp = "mailchimp"
    listmonk = "listmonk"


@app.command("suppressions")
def suppressions_command(
    paths: PathsArgument,
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    output_format: Annotated[
        SuppressionFormat,
        typer.Option("--format", "-f", help="plain, csv, mailchimp or listmonk (import CSV)."),
    ] = SuppressionFormat.plain,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    reasons: Annotated[
        list[str] | None,
        typer.Option(
            "--reasons",
            metavar="all|REASON,...",
            help="Bounce reasons that suppress an address: 'all', or names such as "
            "user_unknown,host_unknown,mailbox_full (repeat or comma-separate). "
            "Default: user_unknown,host_unknown.",
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Addresses to remove from a list: hard-bounced recipients of genuine bounces only.

    Spoofed bounces (backscatter, fake NDRs) never reach this list, so a forger cannot
    unsubscribe your readers by bouncing mail you never sent. Without --sent-log backscatter
    looks genuine: a warning says how many addresses that may concern.

    \b
    Example:
      backscatter suppressions --sent-log sent.db -f mailchimp -o clean.csv bounces/
    """
    from backscatter.detector import Detector

    wanted = _reasons(reasons)
    detector = Detector.load(model, sent_log, config)
    inputs = Inputs(paths, quiet)
    found = _Found(wanted)
    with Meter(paths, progress_wanted(output, quiet), "reading") as meter:
        inputs.meter = meter
        for verdict in _verdicts(detector, inputs):
            meter.advance(verdict.bounce.size)
            if not verdict.bounce.is_mail:
                inputs.not_mail(verdict.bounce.source)
                continue
            found.add(verdict)
    detector.close()
    with output_stream(output) as out:
        _WRITERS[output_format.value](found.sorted(), out)
    if not quiet:
        for line in found.summary(sent_log is not None, inputs, meter):
            typer.echo(line, err=True)
    if inputs.exit_status:
        raise typer.Exit(inputs.exit_status)


def _reasons(given: list[str] | None) -> frozenset[str] | None:
    """The reasons that count (None: all of them); an unknown name is a user error."""
    from backscatter.mail.status import REASONS

    names = [n.strip() for item in given or () for n in item.split(",") if n.strip()]
    if not names:
        return frozenset(RECIPIENT_SIDE)
    if "all" in names:
        return None
    unknown = sorted(set(names) - set(REASONS))
    if unknown:
        raise BackscatterError(
            f"unknown reason(s) {', '.join(unknown)}; known: all, {', '.join(REASONS)}"
        )
    return frozenset(names)


def _verdicts(detector: Detector, inputs: Inputs) -> Iterator[Verdict]:
    for batch in inputs.batches():
        yield from detector.score_many(batch)


@dataclass
class Entry:
    """One address to suppress and the bounces that put it there."""

    address: str
    reason: str
    status: str
    bounces: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, reason: str, status: str, when: datetime | None) -> None:
        self.bounces += 1
        if when is None:
            return
        if self.first is None or when < self.first:
            self.first = when
        if self.last is None or when >= self.last:
            self.last = when
            self.reason, self.status = reason, status  # what the latest bounce said


@dataclass
class _Found:
    """The entries, and what was held back and why (for the summary)."""

    wanted: frozenset[str] | None
    entries: dict[str, Entry] = field(default_factory=dict)
    messages: int = 0
    genuine_bounces: int = 0  # genuine bounces that put an address on the list
    held: dict[str, set[str]] = field(default_factory=dict)  # verdict -> addresses held back
    other_reasons: Counter[str] = field(default_factory=Counter)  # reason -> addresses left

    def add(self, verdict: Verdict) -> None:
        from backscatter.detector import GENUINE, NOT_BOUNCE

        self.messages += 1
        if verdict.verdict == NOT_BOUNCE:
            return
        hard = [r for r in verdict.bounce.recipients if r.hard and r.address]
        if self.wanted is not None:
            if verdict.verdict == GENUINE:
                self.other_reasons.update(r.reason for r in hard if r.reason not in self.wanted)
            hard = [r for r in hard if r.reason in self.wanted]
        if not hard:
            return
        if verdict.verdict != GENUINE:  # spoofed or unknown: never on the list
            self.held.setdefault(verdict.verdict, set()).update(r.address.lower() for r in hard)
            return
        when = _bounce_time(verdict)
        for recipient in hard:
            key = recipient.address.lower()
            entry = self.entries.get(key)
            if entry is None:
                entry = self.entries[key] = Entry(key, recipient.reason, recipient.status or "")
            entry.add(recipient.reason, recipient.status or "", when)
        self.genuine_bounces += 1

    def sorted(self) -> list[Entry]:
        return [self.entries[k] for k in sorted(self.entries)]

    def summary(self, has_sent_log: bool, inputs: Inputs, meter: Meter) -> Iterator[str]:
        held = ", ".join(
            f"{len(addresses)} in {verdict} bounces" for verdict, addresses in self.held.items()
        )
        yield (
            f"{len(self.entries)} address(es) from {self.genuine_bounces} genuine hard "
            f"bounce(s); {self.messages} messages read {meter.timing()}"
            + (f"; held back: {held}" if held else "")
        )
        if self.other_reasons:
            left = ", ".join(f"{n} {why}" for why, n in sorted(self.other_reasons.items()))
            yield (
                f"left out, as they say nothing about the address itself: {left} "
                "(--reasons all includes them)"
            )
        if not has_sent_log and self.entries:
            yield (
                f"WARNING: {len(self.entries)} address(es) come from bounces that could be "
                "backscatter: without a sent-log they cannot be told apart. Give --sent-log "
                "before importing this list."
            )
        skipped = inputs.skipped_line()
        if skipped:
            yield f"warning: {skipped}"


def _bounce_time(verdict: Verdict) -> datetime | None:
    """When the bounce was written (its Date, else the report's Arrival-Date), in UTC."""
    from backscatter.sentlog.matching import stated_time

    when = stated_time(verdict.bounce)
    return when.astimezone(UTC) if when is not None else None


def _iso(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else ""


def _write_plain(entries: Iterable[Entry], out: TextIO) -> None:
    from backscatter.render import clean

    for entry in entries:
        out.write(clean(entry.address) + "\n")


def _csv_writer(out: TextIO, header: list[str]) -> Any:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    return writer


def _write_csv(entries: Iterable[Entry], out: TextIO) -> None:
    from backscatter.render import clean

    writer = _csv_writer(
        out, ["email", "reason", "status", "bounces", "first_bounce", "last_bounce"]
    )
    for e in entries:
        row = [e.address, e.reason, e.status, e.bounces, _iso(e.first), _iso(e.last)]
        writer.writerow([clean(v) for v in row])


def _write_mailchimp(entries: Iterable[Entry], out: TextIO) -> None:
    from backscatter.render import clean

    writer = _csv_writer(out, ["Email Address"])
    for entry in entries:
        writer.writerow([clean(entry.address)])


def _write_listmonk(entries: Iterable[Entry], out: TextIO) -> None:
    from backscatter.render import clean

    writer = _csv_writer(out, ["email", "name", "attributes"])
    for e in entries:
        attributes = {
            "bounce_reason": e.reason,
            "bounce_status": e.status,
            "bounces": e.bounces,
            "first_bounce": _iso(e.first),
            "last_bounce": _iso(e.last),
        }
        writer.writerow([clean(e.address), "", json.dumps(attributes)])


_WRITERS = {
    "plain": _write_plain,
    "csv": _write_csv,
    "mailchimp": _write_mailchimp,
    "listmonk": _write_listmonk,
}
