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
    """Offset just past the header's last line (where the blank line starts), or len(data)."""
    ends = [i + 1 for i in (data.find(b"\n\n"),) if i >= 0]
    ends += [i + 2 for i in (data.find(b"\r\n\r\n"),) if i >= 0]
    return min(ends) if ends else len(data)


def rewrite_header(header: bytes, added: list[tuple[str, str]]) -> bytes:
    """The header block without forged X-Backscatter-* fields, with ``added`` appended.

    Untouched (byte for byte) when there is nothing to drop or add."""
    newline = b"\r\n" if b"\r\n" in header[:1000] else b"\n"
    kept: list[bytes] = []
    dropping = dropped = False
    for line in header.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):  # a continuation belongs to the field above
            if not dropping:
                kept.append(line)
            continue
        name, colon, _ = line.partition(b":")
        dropping = bool(colon) and is_ours(name.decode("ascii", "replace"))
        dropped = dropped or dropping
        if not dropping:
            kept.append(line)
    if not added and not dropped:
        return header
    if added and kept and not kept[-1].endswith(b"\n"):
        kept[-1] += newline
    kept.extend(f"{name}: {value}".encode("ascii") + newline for name, value in added)
    return b"".join(kept)


def filter_message(detector: Detector, head: bytes, envelope: Envelope | None = None) -> bytes:
    """``head`` (the whole message, or its first part) with the verdict applied."""
    end = header_end(head)
    if end == len(head) and not head.endswith(b"\n"):
        return head  # cut inside a header line (or not mail at all): nowhere safe to add
    verdict = detector.score(head, "-", envelope)
    return rewrite_header(head[:end], verdict_headers(verdict)) + head[end:]


def copy_rest(source: BinaryIO, target: BinaryIO) -> None:
    while chunk := source.read(_CHUNK):
        target.write(chunk)
