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
    return _cells(values, _TABLE_COLUMNS)


WRITERS: dict[str, Callable[[Iterable[Record], TextIO], None]] = {
    "jsonl": write_jsonl,
    "json": write_json,
    "table": write_table,
}


_VERDICT_COLUMNS = (
    ("source", 34),
    ("verdict", 10),
    ("p_spoof", 7),
    ("recipient", 30),
    ("status", 7),
    ("evidence", 90),
)


def write_verdict_table(records: Iterable[Record], out: TextIO) -> None:
    """One row per message: verdict, probability, first recipient, the facts behind it."""
    out.write(_cells([n.upper() for n, _ in _VERDICT_COLUMNS], _VERDICT_COLUMNS) + "\n")
    for record in records:
        first = (record.get("recipients") or [{}])[0]
        values = [
            record["source"],
            record.get("verdict", "-"),
            f"{record.get('spoofed_probability', 0):.3f}",
            first.get("address", "-"),
            first.get("status") or "-",
            "; ".join(record.get("evidence") or []) or (record.get("error") or "-"),
        ]
        out.write(_cells(values, _VERDICT_COLUMNS) + "\n")


def write_verdict_csv(records: Iterable[Record], out: TextIO) -> None:
    import csv

    columns = (
        "source",
        "verdict",
        "spoofed_probability",
        "is_bounce",
        "format",
        "recipients",
        "statuses",
        "hard",
        "original_message_id",
        "sent_log_match",
        "rules",
        "evidence",
        "error",
    )
    writer = csv.writer(out)
    writer.writerow(columns)
    for record in records:
        recipients = record.get("recipients") or []
        writer.writerow(
            [
                record["source"],
                record.get("verdict"),
                record.get("spoofed_probability"),
                record.get("is_bounce"),
                record.get("format"),
                ";".join(r["address"] for r in recipients),
                ";".join(r.get("status") or "" for r in recipients),
                ";".join("hard" if r.get("hard") else "soft" for r in recipients),
                record.get("original_message_id"),
                record.get("sent_log_match"),
                ",".join(record.get("rules") or []),  # SpamAssassin's tests= convention
                " | ".join(record.get("evidence") or []),
                record.get("error"),
            ]
        )


def _cells(values: Iterable[str], columns: tuple[tuple[str, int], ...]) -> str:
    cells = []
    for value, (name, width) in zip(values, columns, strict=True):
        if len(value) > width:
            value = "…" + value[-(width - 1) :] if name == "source" else value[: width - 1] + "…"
        cells.append(value.ljust(width))
    return "  ".join(cells).rstrip()


VERDICT_WRITERS: dict[str, Callable[[Iterable[Record], TextIO], None]] = {
    "jsonl": write_jsonl,
    "table": write_verdict_table,
    "csv": write_verdict_csv,
}
