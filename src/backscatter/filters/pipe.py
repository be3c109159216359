"""The pipe filter: one message in, the same message out with the verdict headers added.

For procmail/maildrop (``:0 fw``), Exim transport filters, Sieve ``extprograms`` and Postfix
``pipe``. The bytes are kept as they came (line endings, an mbox ``From `` line, 8-bit
content); only forged X-Backscatter-* fields are dropped and ours are appended to the header.
A message larger than the cap is scored on its head and the rest is copied through unread.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from backscatter.errors import BackscatterError
from backscatter.filters.client import EX_TEMPFAIL
from backscatter.filters.headers import field_name, is_ours, unscored_headers, verdict_headers
from backscatter.filters.unscored import BUDGET, claims_bounce

if TYPE_CHECKING:
    from backscatter.detector import Detector, Envelope

Headers = list[tuple[str, str]]


_CHUNK = 1 << 20
_CR, _LF = 13, 10


def header_end(data: bytes) -> int:
    """Offset where the first blank line starts (just past the header's last line), or
    len(data).

    Lines end in CRLF, LF or a lone CR, as MIME parsers split them (Python's email package,
    RFC 2046 readers): with mixed line endings that is where a reader already sees the body,
    so anything added later would be body to it. Linear: each separator is found once."""
    length = len(data)
    next_lf, next_cr = data.find(b"\n"), data.find(b"\r")
    position = 0
    while position < length:
        if data[position] in (_CR, _LF):
            return position
        if -1 < next_lf < position:
            next_lf = data.find(b"\n", position)
        if -1 < next_cr < position:
            next_cr = data.find(b"\r", position)
        ends = [end for end in (next_lf, next_cr) if end != -1]
        if not ends:
            return length
        end = min(ends)
        position = end + (2 if data[end : end + 2] == b"\r\n" else 1)
    return length


def _lf_header_end(data: bytes) -> int:
    """Where a reader that ends lines only at LF (as Postfix and Dovecot do) ends the header."""
    ends = [i + 1 for i in (data.find(b"\n\n"), data.find(b"\n\r\n")) if i >= 0]
    return min(ends) if ends else len(data)


def _fields(header: bytes) -> list[bytes]:
    """The header block as fields, each with its continuation lines (any line endings)."""
    fields: list[bytes] = []
    for line in header.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def strip_forged(header: bytes) -> bytes:
    """The header block without X-Backscatter-* fields, recognised as the MTA's header parser
    reads a field name (up to the colon, folding included: :func:`field_name`). Byte for
    byte the same when there is none."""
    fields = _fields(header)
    kept = [f for f in fields if not _is_ours(f)]
    return header if len(kept) == len(fields) else b"".join(kept)


def _is_ours(field: bytes) -> bool:
    name = field_name(field[:1000].decode("latin-1"))
    return name is not None and is_ours(name)


def insert_fields(header: bytes, added: list[tuple[str, str]]) -> bytes:
    """``added`` after the header's last field, or before its first line that is no field at
    all (a MIME parser takes the body to start there; an mbox ``From `` line is kept first)."""
    if not added:
        return header
    newline = b"\r\n" if b"\r\n" in header[:1000] else b"\n"
    fields = _fields(header)
    insert_at = len(fields)
    for number, field in enumerate(fields):
        if not _mime_field(field):
            insert_at = number
            break
    before, after = fields[:insert_at], fields[insert_at:]
    if before and not before[-1].endswith((b"\n", b"\r")):
        before[-1] += newline
    return b"".join(before) + field_lines(added, newline) + b"".join(after)


def field_lines(added: Headers, newline: bytes) -> bytes:
    """``added`` as header lines, each ended (and each fold made) with ``newline``: our
    values fold with a bare LF (what libmilter wants); a message gets its own line ending,
    the daemon's /headers answer CRLF."""
    return b"".join(
        f"{name}: {value}".encode("ascii", "replace").replace(b"\n", newline) + newline
        for name, value in added
    )


def _mime_field(field: bytes) -> bool:
    """Whether a MIME parser still reads this line as header: printable ASCII up to a colon
    with no white space before it (RFC 5322 2.2 ``ftext``; Python's email feedparser), or an
    mbox ``From `` line. A line such a parser rejects is where it starts the body."""
    if field.startswith(b"From "):
        return True
    colon = field.find(b":", 0, 1000)
    return colon != -1 and all(33 <= byte <= 126 for byte in field[:colon])


def filter_message(detector: Detector, head: bytes, envelope: Envelope | None = None) -> bytes:
    """``head`` (the whole message, or its first part) with the verdict applied."""
    return filter_with(lambda data: verdict_headers(detector.score(data, "-", envelope)), head)


def filter_with(headers_for: Callable[[bytes], Headers], head: bytes) -> bytes:
    """``head`` with the headers ``headers_for`` gives for it (the filter, the daemon).

    Forged fields are dropped up to where any reader, LF-only ones included, ends the header,
    before scoring (a forged verdict must not reach the scorer either); the verdict goes
    where a MIME parser still sees header."""
    parts = split_for_scoring(head)
    if parts is None:
        return head
    front, rest, tail = parts
    return insert_fields(front, headers_for(front + rest + tail)) + rest + tail


def split_for_scoring(head: bytes) -> tuple[bytes, bytes, bytes] | None:
    """``head`` as (header, the part some readers still take for header, the rest), forged
    fields dropped from the first two; what is scored is the three joined, and the verdict
    goes after the first (:func:`filter_with`; the daemon awaits its score in between).
    None when the head is cut inside a header line (or is not mail): nowhere safe to add."""
    end = header_end(head)
    if end == len(head) and not head.endswith((b"\n", b"\r")):
        return None
    strip_end = max(end, _lf_header_end(head))
    return strip_forged(head[:end]), strip_forged(head[end:strip_end]), head[strip_end:]


class OverBudget(BaseException):
    """Raised by the budget's alarm inside scoring. A BaseException, so that the guards that
    turn any Exception from hostile mail into a record do not swallow it."""


@contextlib.contextmanager
def budget(seconds: float | None) -> Iterator[None]:
    """Raise :class:`OverBudget` in this (main) thread after ``seconds``: the work stops, it
    is not left running. A no-op off the main thread or without a budget. Python-level code
    is interrupted between bytecodes; scans over text are capped, so none runs long in C."""
    if not seconds or seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise OverBudget

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def scored_within(detector: Detector, data: bytes, seconds: float | None) -> Headers:
    """The verdict headers, or the unscored ones when scoring overran ``seconds``."""
    try:
        with budget(seconds):
            verdict = detector.score(data, "-")
    except OverBudget:
        _warn(f"message over the {seconds * 1000:.0f} ms budget: passed through unscored")
        return unscored_headers(BUDGET, claims_bounce(data), detector.threshold)
    return verdict_headers(verdict)


def copy_rest(source: BinaryIO, target: BinaryIO) -> None:
    while chunk := source.read(_CHUNK):
        target.write(chunk)


def run_filter(
    source: BinaryIO | None,
    target: BinaryIO | None,
    load: Callable[[], Detector],
    limit: int,
    budget_s: float | None = None,
) -> int:
    """One message from ``source`` to ``target``; the exit status for the mail system.

    Every failure path still writes the message through untouched: 0 when this message could
    not be scored, 75 (try later) when the filter itself is broken (a bad model) or when the
    message could not be read or written (a full disk, a closed pipe), so the MTA keeps it.
    Never an exception: to Postfix ``pipe`` an exit 1 is a permanent failure, a bounce.
    Scoring over ``budget_s`` is stopped; the message gets the unscored headers, exit 0."""
    try:
        if source is None:
            raise OSError("standard input is closed")
        head = source.read(limit)
    except (OSError, ValueError) as exc:
        _warn(f"cannot read the message: {exc}")
        return EX_TEMPFAIL
    status, output = 0, head
    try:
        detector: Detector | None = load()
    except Exception as exc:  # a configuration error (a bad model): tell, keep mail, retry
        _warn(str(exc) if isinstance(exc, BackscatterError) else f"{type(exc).__name__}: {exc}")
        detector, status = None, EX_TEMPFAIL
    if detector is not None:
        try:
            checked = detector
            output = filter_with(lambda data: scored_within(checked, data, budget_s), head)
        except Exception as exc:  # the boundary: the message goes through whatever happened
            _warn(f"message passed through unscored: {type(exc).__name__}: {exc}")
    try:
        if target is None:
            raise OSError("standard output is closed")
        target.write(output)
        copy_rest(source, target)
        target.flush()
    except (OSError, ValueError) as exc:
        _warn(f"cannot pass the message on: {exc}")
        return EX_TEMPFAIL
    return status


def _warn(message: str) -> None:
    """One line on stderr, if there is a stderr to write to."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"backscatter: {message}"[:500].replace("\n", " "), file=sys.stderr, flush=True)
