"""The CSV interchange format: ``message_id,sent_at,sender,recipient,subject``.

One row per recipient; ``message_id`` with or without ``<>``; ``sent_at`` ISO 8601; extra
columns ignored; ``subject`` optional. ESP exports and other sources convert to this.
A row with a Message-ID and an empty ``recipient`` is kept: a Bcc-only message, or a list
server that logs one ID per posting, still tells us the ID was ours.
A row the csv module refuses (a field over its 128 KiB limit, a stray NUL) is a malformed
line like any other: counted, and the rows after it are read (issue 12).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from backscatter.errors import InputError
from backscatter.mail.identifiers import address_key, message_id_key
from backscatter.sentlog.importers.base import (
    Progress,
    Tally,
    parse_iso,
    text_lines,
)
from backscatter.sentlog.records import SentRecipient

REQUIRED = ("message_id", "sent_at", "sender", "recipient")


def read_csv(path: str, tally: Tally, progress: Progress | None = None) -> Iterator[SentRecipient]:
    reader = csv.reader(text_lines(path, tally, progress))
    rows = _rows(reader, path, tally)
    header = [name.strip().lower() for name in next(rows, [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InputError(f"{path}: the CSV header lacks {', '.join(missing)}")
    mid, when, sender, recipient = (header.index(name) for name in REQUIRED)
    subject = header.index("subject") if "subject" in header else None
    width = max(mid, when, sender, recipient, subject or 0) + 1
    last_id: str | None = None
    message_id: str | None = None
    for row in rows:
        if len(row) < width:
            if any(cell.strip() for cell in row):
                tally.bad(f"{path}:{reader.line_num}", ",".join(row))
            continue
        if row[mid] != last_id:  # a message's rows come together: normalise its ID once
            last_id, message_id = row[mid], message_id_key(row[mid])
        to = row[recipient].strip()
        try:
            sent_at = parse_iso(row[when])
        except ValueError:
            sent_at = None
        if sent_at is None or ("@" not in to if to else message_id is None):
            tally.bad(f"{path}:{reader.line_num}", ",".join(row))
            continue
        yield SentRecipient(
            message_id=message_id,
            sent_at=sent_at,
            sender=address_key(row[sender]),
            recipient=address_key(to),
            subject=(row[subject] or None) if subject is not None else None,
        )


def _rows(reader: Iterator[list[str]], path: str, tally: Tally) -> Iterator[list[str]]:
    """The reader's rows; one it raises on is tallied and skipped (the reader starts afresh
    on the next line, so the rest of the file is still read)."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = getattr(reader, "line_num", 0)
            tally.bad(f"{path}:{line}", f"unreadable CSV row ({exc})")
            continue
        yield row
