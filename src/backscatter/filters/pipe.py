"""The pipe filter: one message in, the same message out with the verdict headers added.

For procmail/maildrop (``:0 fw``), Exim transport filters, Sieve ``extprograms`` and Postfix
``pipe``. The bytes are kept as they came (line endings, an mbox ``From `` line, 8-bit
content); only forged X-Backscatter-* fields are dropped and ours are appended to the header.
A message larger than the cap is scored on its head and the rest is copied through unread.
"""

from __future__ import annotations

from typing import BinaryIO

from backscatter.detector import Detector, Envelope
from backscatter.filters.headers import is_ours, verdict_headers

_CHUNK = 1 << 20


def header_end(data: bytes) -> int:
    """Offset of the blank line ending the header, or len(data) when there is none."""
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\r\n\r\n")) if i >= 0]
    return min(ends) + 1 if ends else len(data)


def rewrite_header(header: bytes, added: list[tuple[str, str]]) -> bytes:
    """The header block without forged X-Backscatter-* fields, with ``added`` appended."""
    newline = b"\r\n" if b"\r\n" in header[:1000] else b"\n"
    lines = header.splitlines(keepends=True)
    kept: list[bytes] = []
    dropping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):  # a continuation belongs to the field above
            if not dropping:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].decode("ascii", "replace")
        dropping = ":" in line.decode("ascii", "replace") and is_ours(name)
        if not dropping:
            kept.append(line)
    if kept and not kept[-1].endswith(b"\n"):
        kept[-1] += newline
    kept.extend(f"{name}: {value}".encode("ascii") + newline for name, value in added)
    return b"".join(kept)


def filter_message(detector: Detector, head: bytes, envelope: Envelope | None = None) -> bytes:
    """``head`` (the whole message, or its first part) with the verdict applied."""
    end = header_end(head)
    verdict = detector.score(head, "-", envelope)
    return rewrite_header(head[:end], verdict_headers(verdict)) + head[end:]


def copy_rest(source: BinaryIO, target: BinaryIO) -> None:
    while chunk := source.read(_CHUNK):
        target.write(chunk)
