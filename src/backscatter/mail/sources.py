"""Reading messages from wherever a mail operator keeps them, one message at a time.

An mbox is recognised by its content (a first line starting with ``From ``), not its name,
and is split while streaming, so memory stays flat on a multi-gigabyte file. Every message
carries a ``source`` naming where it came from: the path as given, plus ``#N`` (1-based) for
a message inside an mbox.

Hostile inputs are bounded here (issue 12): lines are read at most ``_READ_CHUNK`` bytes at a
time (a 200 MB line, or ``/dev/zero`` on stdin, costs a small multiple of the message cap,
never its own size); only regular files are read (a FIFO would block forever, a device never
ends); and inside a directory being scanned a symbolic link is not followed, so a link to
``/etc/shadow`` dropped into a Maildir is not read. A path named on the command line may
itself be a link: the operator chose it.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

#: The most of one message kept in memory. Bounce evidence (headers, report text, delivery
#: status, returned headers) sits in the first few kilobytes; what lies past this is counted
#: but not kept, so a 500 MB attachment cannot exhaust memory.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024

_MAILDIR_SUBDIRS = ("cur", "new")
_READ_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class RawMessage:
    """The bytes of one message as read, before any parsing."""

    source: str
    data: bytes
    size: int
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class SourceError:
    """An input that could not be read at all; reading goes on with the next one."""

    source: str
    message: str


def iter_messages(paths: Iterable[str]) -> Iterator[RawMessage | SourceError]:
    """Yield every message under each path, in order, and an error for each unreadable one."""
    for path in paths:
        if path == "-":
            yield from _read_stream(sys.stdin.buffer, "-")
            continue
        yield from _read_named(path)


def _read_named(path: str, name: str | None = None) -> Iterator[RawMessage | SourceError]:
    """A path the user named: a directory is scanned, a file read (links followed)."""
    name = name or path
    try:
        if os.path.isdir(path):
            yield from _read_directory(path)
        elif os.path.lexists(path):
            yield from _read_file(path, follow=True, name=name)
        else:
            yield SourceError(name, "no such file or directory")
    except OSError as exc:
        yield SourceError(name, exc.strerror or str(exc))


def _read_file(
    path: str, follow: bool, name: str | None = None
) -> Iterator[RawMessage | SourceError]:
    """Stream a regular file; anything else is an error the caller reports and passes over.

    Opened non-blocking (a FIFO would otherwise block the open itself) and checked on the
    open descriptor, so a file swapped for a FIFO or a link after the check is still caught.
    ``name`` is the source written for it when it differs from the path opened (a batch worker
    opens an absolute path and names the message as the user gave it).
    """
    name = name or path
    yield from _opened(path, follow, name, lambda handle: _read_stream(handle, name))


def _opened(
    path: str,
    follow: bool,
    name: str,
    read: Callable[[BinaryIO], Iterator[RawMessage | SourceError]],
) -> Iterator[RawMessage | SourceError]:
    """``read`` of the regular file at ``path``, closed after; one SourceError instead when
    it cannot be opened as one."""
    try:
        handle = _open_regular(path, follow)
    except _Unreadable as exc:
        yield SourceError(name, str(exc))
        return
    with handle:
        yield from read(handle)


class _Unreadable(Exception):
    """Why a path is not read (the text of its SourceError)."""


def _open_regular(path: str, follow: bool) -> BinaryIO:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        if not follow and os.path.islink(path):
            raise _Unreadable("skipped: a symbolic link inside a scanned directory")
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Unreadable("skipped: a symbolic link inside a scanned directory") from None
        raise _Unreadable(exc.strerror or str(exc)) from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise _Unreadable(f"skipped: not a regular file ({_kind(mode)})")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a file"


def _read_directory(root: str) -> Iterator[RawMessage | SourceError]:
    """Walk a folder tree in a stable order; inside a Maildir read only ``cur`` and ``new``.

    Linked folders are not descended (os.walk's default) and linked files are not read."""
    for path in directory_files(root):
        yield from _read_file(path, follow=False)


def directory_files(root: str) -> Iterator[str]:
    """The files a directory scan reads, in the order it reads them (batch splitting lists
    them once, so each worker reads exactly what the single-process run reads)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if _is_maildir(dirpath):
            # Maildir: tmp/ holds half-delivered files, the root holds index files;
            # cur/, new/ and Maildir++ subfolders (.Sent, .Junk) are walked as usual.
            dirnames[:] = [d for d in dirnames if d != "tmp"]
            continue
        for name in sorted(filenames):
            yield os.path.join(dirpath, name)


def read_files(
    paths: Iterable[str], base: str = "", follow: bool = False
) -> Iterator[RawMessage | SourceError]:
    """Each file as :func:`iter_messages` reads it inside a directory scan (``follow=False``)
    or when named on the command line (``follow=True``); a relative path is opened from
    ``base`` (the client's working folder, for a worker started elsewhere) but keeps its name."""
    for path in paths:
        where = os.path.join(base, path)
        if follow:
            yield from _read_named(where, path)
            continue
        try:
            yield from _read_file(where, False, path)
        except OSError as exc:  # a read failing midway: this file, not the worker's task
            yield SourceError(path, exc.strerror or str(exc))


def _is_maildir(path: str) -> bool:
    return all(os.path.isdir(os.path.join(path, sub)) for sub in _MAILDIR_SUBDIRS)


def _read_stream(stream: BinaryIO, source: str) -> Iterator[RawMessage]:
    """Yield one message for a plain file, or each message of an mbox."""
    first = stream.readline(_READ_CHUNK)
    if first.startswith(b"From "):
        yield from _split_mbox(stream, source, at_line_start=first.endswith(b"\n"))
        return
    kept = [first]
    size = len(first)
    while chunk := stream.read(_READ_CHUNK):
        if size < MAX_MESSAGE_BYTES:
            kept.append(chunk[: MAX_MESSAGE_BYTES - size])
        size += len(chunk)
    yield RawMessage(source, b"".join(kept), size, size > MAX_MESSAGE_BYTES)


def _split_mbox(
    stream: BinaryIO,
    source: str,
    index: int = 1,
    at_line_start: bool = True,
    position: int = 0,
    stop: int | None = None,
) -> Iterator[RawMessage]:
    """Split an mbox on ``From `` separator lines, undoing mboxrd ``>From `` quoting.

    A separator is a ``From `` line that follows a blank line (or starts the file), which is
    how mboxo, mboxrd and mboxcl writers all delimit messages. A line longer than the read
    chunk comes in pieces; only a piece that starts a line can be a separator.

    The caller has read the separator line of message ``index``. With ``stop`` (a byte range,
    see :func:`iter_mbox_range`), ``position`` is the stream's offset and reading ends at the
    first separator at or after ``stop``.
    """
    lines: list[bytes] = []
    size = 0
    previous_blank = False
    while line := stream.readline(_READ_CHUNK):
        starts_line, at_line_start = at_line_start, line.endswith(b"\n")
        if starts_line and previous_blank and line.startswith(b"From "):
            if stop is not None and position >= stop:
                break
            position += len(line)
            yield _mbox_message(source, index, lines, size)
            index += 1
            lines, size = [], 0
            previous_blank = False
            continue
        position += len(line)
        previous_blank = starts_line and line in (b"\n", b"\r\n")
        size += len(line)
        if size <= MAX_MESSAGE_BYTES:
            if starts_line and line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
                line = line[1:]
            lines.append(line)
    yield _mbox_message(source, index, lines, size)


def _mbox_message(source: str, index: int, lines: list[bytes], size: int) -> RawMessage:
    # The blank line before the next separator belongs to the mbox, not the message.
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return RawMessage(f"{source}#{index}", b"".join(lines), size, size > MAX_MESSAGE_BYTES)


# Byte ranges of one mbox, for batch work split across processes or machines
# (backscatter.batch): each worker opens the file itself and reads the messages whose
# separator line starts in its range, so no message bytes travel from the client.

_SEPARATOR_BLOCK = 1 << 20


def is_mbox(path: str, follow: bool = True) -> bool:
    """Whether :func:`iter_messages` would read this file as an mbox (its first bytes)."""
    try:
        with _open_regular(path, follow) as handle:
            return handle.read(5) == b"From "
    except (_Unreadable, OSError):
        return False


def count_mbox_range(path: str, start: int, end: int, follow: bool = True) -> int:
    """How many messages of the mbox have their separator line in ``[start, end)``: the
    numbering (``path#N``) of the next range starts after them. Unreadable counts as 0 (the
    range's reader reports the error)."""
    try:
        with _open_regular(path, follow) as handle:
            return sum(1 for _ in _separators(handle, start, end))
    except (_Unreadable, OSError):
        return 0


def iter_mbox_range(
    path: str,
    start: int,
    end: int,
    first_index: int,
    name: str | None = None,
    follow: bool = True,
) -> Iterator[RawMessage | SourceError]:
    """The messages of an mbox whose separator line starts in ``[start, end)``, numbered from
    ``first_index`` and named ``name#N`` exactly as :func:`iter_messages` names them; the last
    one runs on past ``end`` to the next separator. Consecutive ranges read every message
    once: the separator test here (a ``From `` line after a blank line) is the line reader's."""
    name = name or path

    def read(handle: BinaryIO) -> Iterator[RawMessage | SourceError]:
        try:
            found = next(_separators(handle, start, end), None)
            if found is None:
                return
            handle.seek(found)
            first = handle.readline(_READ_CHUNK)
            yield from _split_mbox(
                handle, name, first_index, first.endswith(b"\n"), found + len(first), end
            )
        except OSError as exc:  # a read failing midway ends the range, as iter_messages does
            yield SourceError(name, exc.strerror or str(exc))

    yield from _opened(path, follow, name, read)


def _separators(handle: BinaryIO, start: int, end: int) -> Iterator[int]:
    """Offsets in ``[start, end)`` where a separator line starts: 0, and every ``From `` that
    follows a blank line (``\\n\\n`` or ``\\n\\r\\n``). Linear: blocks of 1 MiB scanned with
    ``bytes.find``, a few bytes carried over so a separator across blocks is seen once."""
    if start <= 0 < end:
        yield 0
    offset = max(start - 3, 0)  # three bytes before start: the blank line's context
    handle.seek(offset)
    buf = b""
    searched = offset  # candidates starting before this offset have been examined
    while True:
        block = handle.read(_SEPARATOR_BLOCK)
        if not block:
            return
        buf += block
        j = searched - offset
        while (j := buf.find(b"\nFrom ", j)) >= 0:
            found = offset + j + 1
            if found >= end:
                return
            if found >= start and _blank_before(buf, j):
                yield found
            j += 1
        if offset + len(buf) >= end + 8:  # every separator before end has been seen whole
            return
        searched = offset + max(len(buf) - 5, 0)  # a match in the last 5 bytes is incomplete
        keep = buf[-8:]
        offset += len(buf) - len(keep)
        buf = keep


def _blank_before(buf: bytes, newline: int) -> bool:
    """The line ending at ``buf[newline]`` is blank: ``\\n`` or ``\\r\\n`` at a line start."""
    if newline >= 1 and buf[newline - 1] == 0x0A:
        return True
    return newline >= 2 and buf[newline - 1] == 0x0D and buf[newline - 2] == 0x0A
