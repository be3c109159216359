"""The CSV interchange format: ``message_id,sent_at,sender,recipient,subject``.

One row per recipient; ``message_id`` with or without ``<>``; ``sent_at`` ISO 8601; extra
columns ignored; ``subject`` optional. ESP exports and other sources convert to this.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from backscatter.errors import InputError
from backscatter.sentlog.importers.base import (
    Progress,
    Tally,
    bare_address,
    bare_message_id,
    parse_iso,
    text_lines,
)
from backscatter.sentlog.records import SentRecipient

REQUIRED = ("message_id", "sent_at", "sender", "recipient")


def read_csv(path: str, tally: Tally, progress: Progress | None = None) -> Iterator[SentRecipient]:
    reader = csv.reader(text_lines(path, progress))
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InputError(f"{path}: the CSV header lacks {', '.join(missing)}")
    mid, when, sender, recipient = (header.index(name) for name in REQUIRED)
    subject = header.index("subject") if "subject" in header else None
    width = max(mid, when, sender, recipient, subject or 0) + 1
    for row in reader:
        if len(row) < width or not row[recipient].strip() or "@" not in row[recipient]:
            if any(cell.strip() for cell in row):
                tally.bad(f"{path}:{reader.line_num}", ",".join(row))
            continue
        try:
            sent_at = parse_iso(row[when])
        except ValueError:
            tally.bad(f"{path}:{reader.line_num}", ",".join(row))
            continue
        yield SentRecipient(
            message_id=bare_message_id(row[mid]),
            sent_at=sent_at,
            sender=bare_address(row[sender]),
            recipient=bare_address(row[recipient]),
            subject=(row[subject] or None) if subject is not None else None,
        )
