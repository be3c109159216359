"""Writing records as JSON Lines, one JSON array, or an aligned table, one at a time.

Every writer streams: a record is written as soon as it is parsed, so a multi-gigabyte
mailbox never sits in memory as output either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TextIO

Record = dict[str, Any]

FORMATS = ("jsonl", "json", "table")

_TABLE_COLUMNS = (
    ("source", 34),
    ("bounce", 6),
    ("format", 15),
    ("recipient", 32),
    ("status", 7),
    ("reason", 17),
    ("hard", 5),
    ("original_message_id", 40),
)


def write_jsonl(records: Iterable[Record], out: TextIO) -> None:
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_json(records: Iterable[Record], out: TextIO) -> None:
    out.write("[")
    for count, record in enumerate(records):
        out.write(",\n" if count else "\n")
        out.write(json.dumps(record, ensure_ascii=False, indent=2))
    out.write("\n]\n")


def write_table(records: Iterable[Record], out: TextIO) -> None:
    """One row per failed recipient (one row for a message that names none)."""
    out.write(_row(name.upper() for name, _ in _TABLE_COLUMNS) + "\n")
    for record in records:
        recipients = record.get("recipients") or [{}]
        for recipient in recipients:
            values = {
                "source": record["source"],
                "bounce": "yes" if record["is_bounce"] else "no",
                "format": record.get("format") or ("error" if record.get("error") else "-"),
                "recipient": recipient.get("address", "-"),
                "status": recipient.get("status") or "-",
                "reason": recipient.get("reason", "-"),
                "hard": {True: "hard", False: "soft"}.get(recipient.get("hard"), "-"),
                "original_message_id": record.get("original_message_id") or "-",
            }
            out.write(_row(str(values[name]) for name, _ in _TABLE_COLUMNS) + "\n")


def _row(values: Iterable[str]) -> str:
    cells = []
    for value, (name, width) in zip(values, _TABLE_COLUMNS, strict=True):
        if len(value) <= width:
            text = value
        elif name == "source":  # the end of a path (file name, #N) is what tells rows apart
            text = "…" + value[-(width - 1) :]
        else:
            text = value[: width - 1] + "…"
        cells.append(text.ljust(width))
    return "  ".join(cells).rstrip()


WRITERS: dict[str, Callable[[Iterable[Record], TextIO], None]] = {
    "jsonl": write_jsonl,
    "json": write_json,
    "table": write_table,
}
