"""Writing records as JSON Lines, one JSON array, CSV or an aligned table, one at a time.

Every writer streams: a record is written as soon as it is parsed, so a multi-gigabyte
mailbox never sits in memory as output either.

Every writer is safe for a terminal whatever the mail or its file name holds (issue 12,
item 10): control characters (C0, DEL, C1: ``ESC [`` and ``CSI`` start escape sequences),
bidirectional overrides (which make a terminal show text in another order than it is) and
lone surrogates (undecodable file-name bytes, which no UTF-8 stream accepts) never reach the
output as they are. Text formats (table, CSV) replace them: line breaks and tabs with a
space, the rest with U+FFFD. JSON escapes them (``\\u001b``, ``\\u202e``), which keeps the
value and is still plain ASCII on the wire; a lone surrogate becomes U+FFFD there too, as
strict JSON parsers refuse an unpaired ``\\udcxx``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any, TextIO

Record = dict[str, Any]

FORMATS = ("jsonl", "json", "table", "csv")

#: DEL and C1 controls, bidirectional marks and overrides, line/paragraph separators, and
#: lone surrogates: what json.dumps(ensure_ascii=False) leaves raw (it escapes C0 itself).
_ODD = "\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
#: One character class each, so a scan is linear whatever the text (no backtracking).
_UNSAFE = re.compile(f"[\x00-\x1f{_ODD}]")
_JSON_UNSAFE = re.compile(f"[{_ODD}]")
_SPACES = frozenset("\t\n\r\v\f\u2028\u2029")


def clean(value: object) -> str:
    """The text of value with nothing a terminal would act on (see the module docstring)."""
    text = "" if value is None else str(value)
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_replace, text)


def _replace(match: re.Match[str]) -> str:
    return " " if match.group() in _SPACES else "\ufffd"


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    return "\ufffd" if "\ud800" <= char <= "\udfff" else f"\\u{ord(char):04x}"


def _json(record: Record, indent: int | None = None) -> str:
    text = json.dumps(record, ensure_ascii=False, indent=indent)
    if _JSON_UNSAFE.search(text) is None:
        return text
    return _JSON_UNSAFE.sub(_json_escape, text)


def write_jsonl(records: Iterable[Record], out: TextIO) -> None:
    for record in records:
        out.write(_json(record) + "\n")


def write_json(records: Iterable[Record], out: TextIO) -> None:
    out.write("[")
    for count, record in enumerate(records):
        out.write(",\n" if count else "\n")
        out.write(_json(record, indent=2))
    out.write("\n]\n")


# --- Tables -------------------------------------------------------------------------------

#: (name, header, width, most): a column's nominal width and the most it grows to on a wide
#: terminal (``most == width``: fixed, for values of known shape; 0: no limit, the column
#: that takes what is left, such as the evidence).
Column = tuple[str, str, int, int]

_PARSE_COLUMNS: tuple[Column, ...] = (
    ("source", "SOURCE", 20, 60),
    ("bounce", "BOUNCE", 6, 6),
    ("format", "FORMAT", 12, 12),
    ("recipient", "RECIPIENT", 20, 44),
    ("status", "STATUS", 7, 7),
    ("reason", "REASON", 17, 17),
    ("hard", "HARD", 4, 4),
    ("original_message_id", "ORIGINAL MESSAGE-ID", 20, 0),
)

_VERDICT_COLUMNS: tuple[Column, ...] = (
    ("source", "SOURCE", 20, 50),
    ("verdict", "VERDICT", 10, 10),
    ("p_spoof", "P_SPOOF", 7, 7),
    ("recipient", "RECIPIENTS", 18, 40),
    ("status", "STATUS", 6, 6),
    ("evidence", "EVIDENCE", 30, 0),
)

#: Where a table's width comes from when the output is a terminal that does not say.
FALLBACK_WIDTH = 100
_NARROWEST = 8
_READABLE = 16


def table_width(out: TextIO) -> int | None:
    """The terminal's width when out is one; None (print values whole) for a pipe or file."""
    try:
        if not out.isatty():
            return None
    except (AttributeError, ValueError):  # a closed or odd stream
        return None
    return shutil.get_terminal_size((FALLBACK_WIDTH, 24)).columns


def fit_widths(
    columns: tuple[Column, ...], width: int | None, natural: list[int] | None = None
) -> list[int]:
    """Column widths that fill the terminal.

    ``natural`` is the widest value seen per column in the first rows: a growing column
    never takes more than it needs (short sources leave their room to the evidence). With
    room to spare, the growing columns widen in proportion up to their limit and the
    unlimited column takes the rest. Short of room, they give it up from the right (the
    evidence first, the source last, as the file name is what finds the message again),
    first down to a readable width, then to 8 characters."""
    widths = [w for _, _, w, _ in columns]
    if width is None:
        return widths
    growing = [i for i, (_, _, w, most) in enumerate(columns) if most != w]
    caps = {i: columns[i][3] or width for i in growing}
    if natural is not None:
        for i in growing:
            if columns[i][3]:  # the unlimited column keeps what is left whatever it holds
                caps[i] = min(caps[i], max(natural[i], len(columns[i][1]), _NARROWEST))
                widths[i] = min(widths[i], caps[i])
    spare = width - sum(widths) - 2 * (len(columns) - 1)
    if spare >= 0:
        share = sum(widths[i] for i in growing) or 1
        nominal = list(widths)
        for i in growing:
            widths[i] = min(caps[i], nominal[i] + spare * nominal[i] // share)
        left = width - sum(widths) - 2 * (len(columns) - 1)
        unlimited = [i for i in growing if columns[i][3] == 0]
        if left > 0 and unlimited:
            widths[unlimited[-1]] += left
        return widths
    for floor in (_READABLE, _NARROWEST):
        for i in reversed(growing):
            give = min(-spare, max(0, widths[i] - floor))
            widths[i] -= give
            spare += give
    return widths


#: How many rows are read before a table's widths are settled on a terminal.
_SAMPLE = 50


def _write_table(rows: Iterable[list[str]], out: TextIO, columns: tuple[Column, ...]) -> None:
    """Aligned rows: fitted to the terminal (widths from the first rows), or, to a pipe or a
    file, every value whole. Either way streamed: at most _SAMPLE rows are held."""
    width = table_width(out)
    rows = iter(rows)
    sample: list[list[str]] = []
    natural = None
    if width is not None:
        sample = [[clean(v) for v in row] for row in islice(rows, _SAMPLE)]
        natural = [max((len(row[i]) for row in sample), default=0) for i in range(len(columns))]
    widths = fit_widths(columns, width, natural)
    fit = width is not None
    out.write(_cells([header for _, header, _, _ in columns], widths, columns, True) + "\n")
    for row in chain(sample, rows):
        out.write(_cells(row, widths, columns, fit) + "\n")


def _cut_right(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def _cut_middle(value: str, width: int) -> str:
    if len(value) <= width:
        return value
    left = (width - 1) // 2
    right = width - 1 - left
    return value[:left] + "…" + (value[-right:] if right else "")


def fit_source(source: str, width: int) -> str:
    """A source cut to width, keeping what identifies it: the file name (and ``#N`` in an
    mbox) stays whole while the directories give way from the middle; a file name too long
    by itself loses its middle, so its start and its ``#N`` both stay."""
    if len(source) <= width:
        return source
    head, slash, name = source.rpartition("/")
    if slash and len(name) + 2 <= width:
        return head[: width - len(name) - 2] + "…/" + name
    return _cut_middle(name if slash else source, width)


def _fit_recipients(value: str, width: int) -> str:
    """The first address cut, the count of the others (`` (+2)``) kept."""
    first, more, count = value.rpartition(" (+")
    if not more or len(value) <= width or len(count) + 3 >= width:
        return _cut_right(value, width)
    return _cut_right(first, width - len(count) - 3) + more + count


_FITS = {"source": fit_source, "recipient": _fit_recipients}


def _cells(values: list[str], widths: list[int], columns: tuple[Column, ...], fit: bool) -> str:
    cells = []
    for value, width, (name, _, _, _) in zip(values, widths, columns, strict=True):
        value = clean(value)
        if fit:
            value = _FITS.get(name, _cut_right)(value, width)
        cells.append(value.ljust(width))
    return "  ".join(cells).rstrip()


def _recipients_cell(recipients: list[dict[str, Any]]) -> str:
    """The first recipient, and how many more (a table row is one line)."""
    if not recipients:
        return "-"
    first = recipients[0].get("address") or "-"
    return f"{first} (+{len(recipients) - 1})" if len(recipients) > 1 else first


def write_table(records: Iterable[Record], out: TextIO) -> None:
    """One row per failed recipient (one row for a message that names none), fitted to the
    terminal; to a pipe or a file every value is written whole."""
    _write_table(_parse_rows(records), out, _PARSE_COLUMNS)


def _parse_rows(records: Iterable[Record]) -> Iterator[list[str]]:
    for record in records:
        for recipient in record.get("recipients") or [{}]:
            yield [
                record.get("source") or "-",
                "yes" if record.get("is_bounce") else "no",
                record.get("format") or ("error" if record.get("error") else "-"),
                recipient.get("address") or "-",
                recipient.get("status") or "-",
                recipient.get("reason") or "-",
                {True: "hard", False: "soft"}.get(recipient.get("hard"), "-"),
                record.get("original_message_id") or "-",
            ]


def write_verdict_table(records: Iterable[Record], out: TextIO) -> None:
    """One row per message: verdict, probability, its recipients (the first and how many
    more), the facts behind the verdict; fitted to the terminal, whole to a pipe or file."""
    _write_table(_verdict_rows(records), out, _VERDICT_COLUMNS)


def _verdict_rows(records: Iterable[Record]) -> Iterator[list[str]]:
    for record in records:
        recipients = record.get("recipients") or []
        yield [
            record.get("source") or "-",
            record.get("verdict") or "-",
            f"{record.get('spoofed_probability') or 0:.3f}",
            _recipients_cell(recipients),
            (recipients[0].get("status") if recipients else None) or "-",
            "; ".join(record.get("evidence") or []) or (record.get("error") or "-"),
        ]


# --- CSV ----------------------------------------------------------------------------------

#: CSV columns: one row per (message, recipient), one value per cell. ``message`` numbers
#: the messages of the run from 1, so the rows of one message group together; ``source`` is
#: the same string as in JSON (with ``#N`` inside an mbox).
_CSV_MESSAGE = ("source", "message")
_CSV_VERDICT = ("verdict", "spoofed_probability")
_CSV_RECIPIENT = ("recipient", "status", "reason", "hard")
_CSV_REPORT = ("format", "reporting_mta", "original_message_id")
_CSV_EVIDENCE = ("sent_log_match", "rules", "evidence")

VERDICT_CSV_COLUMNS = (
    *_CSV_MESSAGE,
    *_CSV_VERDICT,
    *_CSV_RECIPIENT,
    *_CSV_REPORT,
    *_CSV_EVIDENCE,
    "error",
)
PARSE_CSV_COLUMNS = (*_CSV_MESSAGE, "is_bounce", *_CSV_RECIPIENT, *_CSV_REPORT, "error")


def _csv_rows(record: Record, number: int) -> Iterable[dict[str, object]]:
    shared: dict[str, object] = {
        "source": record.get("source"),
        "message": number,
        "is_bounce": "yes" if record.get("is_bounce") else "no",
        "verdict": record.get("verdict"),
        "spoofed_probability": record.get("spoofed_probability"),
        "format": record.get("format"),
        "reporting_mta": record.get("reporting_mta"),
        "original_message_id": record.get("original_message_id"),
        "sent_log_match": record.get("sent_log_match"),
        # SpamAssassin's tests= convention: stable rule names, comma-joined in one cell
        "rules": ",".join(record.get("rules") or []),
        "evidence": " | ".join(record.get("evidence") or []),
        "error": record.get("error"),
    }
    for recipient in record.get("recipients") or [{}]:
        hard = recipient.get("hard")
        yield shared | {
            "recipient": recipient.get("address"),
            "status": recipient.get("status"),
            "reason": recipient.get("reason"),
            "hard": "" if hard is None else ("hard" if hard else "soft"),
        }


#: Columns whose text comes from the mail, so from whoever sent it.
_CSV_FROM_MAIL = frozenset({"recipient", "reporting_mta", "original_message_id", "evidence"})
#: A cell starting with one of these is run as a formula when the file is opened in a
#: spreadsheet (OWASP, "CSV Injection"); a leading apostrophe makes it plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(column: str, value: object) -> str:
    text = clean(value)
    if column in _CSV_FROM_MAIL and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _write_csv(records: Iterable[Record], out: TextIO, columns: tuple[str, ...]) -> None:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for number, record in enumerate(records, 1):
        for row in _csv_rows(record, number):
            writer.writerow([_csv_cell(c, row[c]) for c in columns])


def write_verdict_csv(records: Iterable[Record], out: TextIO) -> None:
    """One row per (message, recipient); a message that names no recipient has one row."""
    _write_csv(records, out, VERDICT_CSV_COLUMNS)


def write_parse_csv(records: Iterable[Record], out: TextIO) -> None:
    """``parse -f csv``: the anatomy columns of the verdict CSV, one row per recipient."""
    _write_csv(records, out, PARSE_CSV_COLUMNS)


WRITERS: dict[str, Callable[[Iterable[Record], TextIO], None]] = {
    "jsonl": write_jsonl,
    "json": write_json,
    "table": write_table,
    "csv": write_parse_csv,
}


VERDICT_WRITERS: dict[str, Callable[[Iterable[Record], TextIO], None]] = {
    "jsonl": write_jsonl,
    "table": write_verdict_table,
    "csv": write_verdict_csv,
}
