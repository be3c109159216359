"""What every importer shares: opening (possibly compressed) logs and counting bad lines.

Hostile or careless input is never fatal (issue 12): a byte-order mark picks the encoding
(UTF-8 as Excel writes it, UTF-16 LE/BE; the BOMs are those of the Unicode standard,
section 23.8), and a truncated or damaged archive yields its complete lines, then is noted
in the :class:`Tally` with the line where it stopped.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

from backscatter.errors import InputError

Progress = Callable[[int], None]

_MAGIC: tuple[tuple[bytes, Callable[[BinaryIO], BinaryIO]], ...] = (
    (b"\x1f\x8b", lambda raw: gzip.GzipFile(fileobj=raw)),  # type: ignore[arg-type,return-value]
    (b"BZh", bz2.BZ2File),  # type: ignore[arg-type]
    (b"\xfd7zXZ\x00", lzma.LZMAFile),  # type: ignore[arg-type]
)


@dataclass
class Tally:
    """Lines read and lines that could not be read, with a few examples for the report."""

    malformed: int = 0
    examples: list[str] = field(default_factory=list)
    #: One line per file that ended early (a truncated or damaged archive).
    stopped: list[str] = field(default_factory=list)

    def bad(self, where: str, line: str) -> None:
        self.malformed += 1
        if len(self.examples) < 5:
            self.examples.append(f"{where}: {line.strip()[:120]}")


def open_log(path: str) -> tuple[BinaryIO, BinaryIO]:
    """Open a log for reading, decompressing gzip, bzip2 or xz (rotated logs) by content.

    Returns (the stream to read, the raw file whose position measures progress).
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    head = raw.peek(6)[:6] if hasattr(raw, "peek") else b""
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            return opener(raw), raw
    return raw, raw


def text_lines(
    path: str, tally: Tally | None = None, progress: Progress | None = None
) -> Iterator[str]:
    """The lines of a log as text (undecodable bytes replaced), streaming.

    The encoding is UTF-8 unless a byte-order mark says otherwise (the mark is not part of
    the first line). A compressed log that is cut short or damaged yields every complete
    line, and the place it stopped goes into ``tally.stopped``.
    """
    stream, raw = open_log(path)
    with raw, stream:
        source: BinaryIO = stream
        guard: _Guarded | None = None
        if stream is not raw:
            guard = _Guarded(stream)
            source = io.BufferedReader(guard, 1 << 16)  # type: ignore[assignment]
        encoding = _encoding(source)
        reader = io.TextIOWrapper(source, encoding=encoding, errors="replace", newline=None)
        number = 0
        for number, line in enumerate(reader, 1):
            if progress is not None and number % 4096 == 0:
                progress(raw.tell())
            if guard is not None and guard.error is not None and not line.endswith("\n"):
                number -= 1  # the cut-off tail of the last line: not a complete line
                break
            yield line
        if progress is not None:
            progress(raw.tell())
        if guard is not None and guard.error is not None and tally is not None:
            tally.stopped.append(
                f"{path}: compressed data ends early or is damaged ({guard.error}); "
                f"stopped after line {number}"
            )


class _Guarded(io.RawIOBase):
    """A decompressing stream that ends where its data stops making sense, instead of
    raising (``EOFError`` for a truncated gzip/bzip2/xz, ``OSError`` or a codec error for
    damage): what came before is still good lines."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.error: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.error is not None:
            return 0
        try:
            data = self.stream.read1(len(buffer))  # type: ignore[attr-defined]
        except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
            self.error = str(exc) or type(exc).__name__
            return 0
        buffer[: len(data)] = data
        return len(data)


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),  # the utf-16 codec reads the mark and drops it
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _encoding(stream: BinaryIO) -> str:
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    for mark, encoding in _BOMS:
        if head.startswith(mark):
            return encoding
    return "utf-8"


def parse_iso(value: str) -> datetime:
    """ISO 8601 (``Z`` or an offset accepted); a time with no zone is taken as UTC."""
    moment = datetime.fromisoformat(value.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
