"""Reading stays bounded and reads only regular files, whatever the input is (issue 12)."""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest

from backscatter.mail import RawMessage, SourceError, iter_messages
from backscatter.mail.sources import MAX_MESSAGE_BYTES, _read_stream

BOUNCE = b"From: MAILER-DAEMON@mx.receiver.example\nSubject: failure notice\n\nno such user\n"


class _Endless(io.RawIOBase):
    """``total`` bytes of ``fill`` without a newline, produced on demand (like /dev/zero)."""

    def __init__(self, total: int, prefix: bytes = b"", fill: bytes = b"a") -> None:
        self.left, self.prefix, self.fill = total, prefix, fill

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self.prefix:
            count = min(len(buffer), len(self.prefix))
            buffer[:count], self.prefix = self.prefix[:count], self.prefix[count:]
            return count
        count = min(len(buffer), self.left)
        buffer[:count] = self.fill * count
        self.left -= count
        return count


def _peak_while_reading(stream: io.BufferedReader) -> tuple[list[RawMessage], int]:
    tracemalloc.start()
    try:
        messages = list(_read_stream(stream, "-"))
        return messages, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_file_without_a_newline_is_read_in_bounded_memory():
    total = 16 * MAX_MESSAGE_BYTES
    [message], peak = _peak_while_reading(io.BufferedReader(_Endless(total)))
    assert message.truncated and message.size == total
    assert len(message.data) == MAX_MESSAGE_BYTES
    assert peak < 3 * MAX_MESSAGE_BYTES


def test_a_huge_line_inside_an_mbox_is_cut_and_the_next_message_still_found():
    head = b"From a@sender.example Mon Jan  6 00:00:00 2025\nSubject: big\n\n"
    tail = b"\n\nFrom a@sender.example Mon Jan  6 00:00:01 2025\n" + BOUNCE
    stream = io.BufferedReader(_Endless(16 * MAX_MESSAGE_BYTES, head))
    messages, peak = _peak_while_reading(stream)
    assert [m.source for m in messages] == ["-#1"]
    assert messages[0].truncated and len(messages[0].data) <= MAX_MESSAGE_BYTES
    assert peak < 3 * MAX_MESSAGE_BYTES
    joined = io.BufferedReader(io.BytesIO(head + b"b" * (3 * MAX_MESSAGE_BYTES) + tail))
    first, second = _read_stream(joined, "box")
    assert first.truncated and second.data == BOUNCE


def test_the_end_of_a_cut_line_is_not_a_blank_line():
    # Read in 64 KiB pieces, a 65,535-character line ends in a piece that is just "\n":
    # that is no blank line, so the "From " line after it is text, not a separator.
    data = b"From a@b Mon Jan  6 00:00:00 2025\r\nSubject: s\r\n\r\n"
    data += b"y" * ((1 << 16) - 1) + b"\r\n" + b"From someone who wrote this\r\n"
    [message] = _read_stream(io.BufferedReader(io.BytesIO(data)), "box")
    assert message.data.endswith(b"From someone who wrote this\r\n")


@pytest.fixture
def maildir(tmp_path):
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    (tmp_path / "Maildir" / "cur" / "1.host:2,S").write_bytes(BOUNCE)
    return tmp_path / "Maildir"


def test_a_fifo_in_a_maildir_is_skipped_not_waited_on(maildir):
    os.mkfifo(maildir / "new" / "2.host")
    items = list(iter_messages([str(maildir)]))
    assert isinstance(items[0], RawMessage)
    assert items[1] == SourceError(
        str(maildir / "new" / "2.host"), "skipped: not a regular file (a FIFO)"
    )


def test_a_fifo_or_device_named_explicitly_is_skipped(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    items = list(iter_messages([str(tmp_path / "pipe"), "/dev/null"]))
    assert [i.message for i in items if isinstance(i, SourceError)] == [
        "skipped: not a regular file (a FIFO)",
        "skipped: not a regular file (a character device)",
    ]


def test_a_link_inside_a_maildir_is_not_followed(tmp_path, maildir):
    secret = tmp_path / "secret"
    secret.write_bytes(b"root:$6$secret:19000:0:99999:7:::\n")
    os.symlink(secret, maildir / "new" / "2.host")
    os.symlink(tmp_path, maildir / "cur" / "linked-folder")
    items = list(iter_messages([str(maildir)]))
    assert [i.data for i in items if isinstance(i, RawMessage)] == [BOUNCE]
    assert items[1] == SourceError(
        str(maildir / "new" / "2.host"), "skipped: a symbolic link inside a scanned directory"
    )


def test_a_link_named_explicitly_is_read(tmp_path):
    (tmp_path / "real.eml").write_bytes(BOUNCE)
    os.symlink(tmp_path / "real.eml", tmp_path / "link.eml")
    [message] = list(iter_messages([str(tmp_path / "link.eml")]))
    assert isinstance(message, RawMessage) and message.data == BOUNCE
