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
from collections.abc import Iterable, Iterator
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
        try:
            if os.path.isdir(path):
                yield from _read_directory(path)
            elif os.path.lexists(path):
                yield from _read_file(path, follow=True)
            else:
                yield SourceError(path, "no such file or directory")
        except OSError as exc:
            yield SourceError(path, exc.strerror or str(exc))


def _read_file(path: str, follow: bool) -> Iterator[RawMessage | SourceError]:
    """Stream a regular file; anything else is an error the caller reports and passes over.

    Opened non-blocking (a FIFO would otherwise block the open itself) and checked on the
    open descriptor, so a file swapped for a FIFO or a link after the check is still caught.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        if not follow and os.path.islink(path):
            yield SourceError(path, "skipped: a symbolic link inside a scanned directory")
            return
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            yield SourceError(path, "skipped: a symbolic link inside a scanned directory")
        else:
            yield SourceError(path, exc.strerror or str(exc))
        return
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        yield SourceError(path, f"skipped: not a regular file ({_kind(mode)})")
        return
    os.set_blocking(descriptor, True)
    with os.fdopen(descriptor, "rb") as handle:
        yield from _read_stream(handle, path)


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
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if _is_maildir(dirpath):
            # Maildir: tmp/ holds half-delivered files, the root holds index files;
            # cur/, new/ and Maildir++ subfolders (.Sent, .Junk) are walked as usual.
            dirnames[:] = [d for d in dirnames if d != "tmp"]
            continue
        for name in sorted(filenames):
            yield from _read_file(os.path.join(dirpath, name), follow=False)


def _is_maildir(path: str) -> bool:
    return all(os.path.isdir(os.path.join(path, sub)) for sub in _MAILDIR_SUBDIRS)


def _read_stream(stream: BinaryIO, source: str) -> Iterator[RawMessage]:
    """Yield one message for a plain file, or each message of an mbox."""
    first = stream.readline(_READ_CHUNK)
    if first.startswith(b"From "):
        yield from _split_mbox(stream, source)
        return
    kept = [first]
    size = len(first)
    while chunk := stream.read(_READ_CHUNK):
        if size < MAX_MESSAGE_BYTES:
            kept.append(chunk[: MAX_MESSAGE_BYTES - size])
        size += len(chunk)
    yield RawMessage(source, b"".join(kept), size, size > MAX_MESSAGE_BYTES)


def _split_mbox(stream: BinaryIO, source: str) -> Iterator[RawMessage]:
    """Split an mbox on ``From `` separator lines, undoing mboxrd ``>From `` quoting.

    A separator is a ``From `` line that follows a blank line (or starts the file), which is
    how mboxo, mboxrd and mboxcl writers all delimit messages. A line longer than the read
    chunk comes in pieces; only a piece that starts a line can be a separator.
    """
    index = 1  # the caller has read the first separator line
    lines: list[bytes] = []
    size = 0
    previous_blank = False
    at_line_start = True
    while line := stream.readline(_READ_CHUNK):
        starts_line, at_line_start = at_line_start, line.endswith(b"\n")
        if starts_line and previous_blank and line.startswith(b"From "):
            yield _mbox_message(source, index, lines, size)
            index += 1
            lines, size = [], 0
            previous_blank = False
            continue
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
