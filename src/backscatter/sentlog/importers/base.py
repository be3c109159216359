"""What every importer shares: opening (possibly compressed) logs and counting bad lines."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
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


def text_lines(path: str, progress: Progress | None = None) -> Iterator[str]:
    """The lines of a log as text (undecodable bytes replaced), streaming."""
    stream, raw = open_log(path)
    with raw, stream:
        reader = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None)
        for number, line in enumerate(reader, 1):
            if progress is not None and number % 4096 == 0:
                progress(raw.tell())
            yield line
        if progress is not None:
            progress(raw.tell())


def parse_iso(value: str) -> datetime:
    """ISO 8601 (``Z`` or an offset accepted); a time with no zone is taken as UTC."""
    moment = datetime.fromisoformat(value.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
