"""Reading .eml files, mbox (by content), Maildir, directories; inputs are never modified."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from backscatter.mail import RawMessage, SourceError, iter_messages
from backscatter.mail.sources import MAX_MESSAGE_BYTES

EXIM = "formats/exim_mailbox_full.eml"
QMAIL = "formats/qmail_host_unknown.eml"


def _mbox(path: Path, data_dir: Path, names: list[str]) -> Path:
    with path.open("wb") as out:
        for name in names:
            body = (data_dir / name).read_bytes()
            out.write(b"From MAILER-DAEMON Tue Apr  8 09:00:05 2025\n")
            out.write(body.replace(b"\nFrom ", b"\n>From "))
            out.write(b"\n")
    return path


def test_single_eml(data_dir):
    [message] = list(iter_messages([str(data_dir / EXIM)]))
    assert isinstance(message, RawMessage)
    assert message.source == str(data_dir / EXIM)
    assert message.data == (data_dir / EXIM).read_bytes()


def test_mbox_recognised_by_content_and_numbered(tmp_path, data_dir):
    mbox = _mbox(tmp_path / "bounces.txt", data_dir, [EXIM, QMAIL, EXIM])
    messages = list(iter_messages([str(mbox)]))
    assert [m.source for m in messages] == [f"{mbox}#1", f"{mbox}#2", f"{mbox}#3"]
    assert messages[1].data == (data_dir / QMAIL).read_bytes()


def test_mbox_unquotes_from_lines(tmp_path):
    mbox = tmp_path / "mbox"
    mbox.write_bytes(b"From a@b Mon Jan  1 00:00:00 2025\nSubject: x\n\n>From the start\nbody\n")
    [message] = list(iter_messages([str(mbox)]))
    assert message.data == b"Subject: x\n\nFrom the start\nbody\n"


def test_maildir_reads_cur_and_new_not_tmp(tmp_path, data_dir):
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    shutil.copy(data_dir / EXIM, tmp_path / "Maildir" / "cur" / "1.host:2,S")
    shutil.copy(data_dir / QMAIL, tmp_path / "Maildir" / "new" / "2.host")
    shutil.copy(data_dir / QMAIL, tmp_path / "Maildir" / "tmp" / "3.host")
    (tmp_path / "Maildir" / "dovecot-uidlist").write_text("3 V1 N3\n")
    sources = [m.source for m in iter_messages([str(tmp_path / "Maildir")])]
    assert sources == [
        str(tmp_path / "Maildir" / "cur" / "1.host:2,S"),
        str(tmp_path / "Maildir" / "new" / "2.host"),
    ]


def test_directory_is_walked_recursively_in_order(tmp_path, data_dir):
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    shutil.copy(data_dir / EXIM, tmp_path / "a.eml")
    shutil.copy(data_dir / QMAIL, tmp_path / "b" / "deeper" / "c.eml")
    _mbox(tmp_path / "b" / "box", data_dir, [EXIM, QMAIL])
    sources = [m.source for m in iter_messages([str(tmp_path)])]
    assert sources == [
        str(tmp_path / "a.eml"),
        f"{tmp_path / 'b' / 'box'}#1",
        f"{tmp_path / 'b' / 'box'}#2",
        str(tmp_path / "b" / "deeper" / "c.eml"),
    ]


def test_missing_path_is_an_error_and_reading_goes_on(tmp_path, data_dir):
    items = list(iter_messages([str(tmp_path / "missing"), str(data_dir / EXIM)]))
    assert items[0] == SourceError(str(tmp_path / "missing"), "no such file or directory")
    assert isinstance(items[1], RawMessage)


def test_oversized_message_is_cut_but_sized(tmp_path):
    big = tmp_path / "big.eml"
    big.write_bytes(b"Subject: big\n\n" + b"x" * (MAX_MESSAGE_BYTES + 1000))
    [message] = list(iter_messages([str(big)]))
    assert message.truncated
    assert len(message.data) == MAX_MESSAGE_BYTES
    assert message.size == MAX_MESSAGE_BYTES + 1014


def test_inputs_are_never_modified(tmp_path, data_dir):
    mbox = _mbox(tmp_path / "mbox", data_dir, [EXIM, QMAIL])
    before = hashlib.sha256(mbox.read_bytes()).hexdigest()
    stat = mbox.stat()
    assert len(list(iter_messages([str(mbox)]))) == 2
    assert hashlib.sha256(mbox.read_bytes()).hexdigest() == before
    assert mbox.stat().st_mtime_ns == stat.st_mtime_ns


def test_maildir_plus_plus_subfolders_are_read(tmp_path, data_dir):
    for folder in ("Maildir", "Maildir/.Bounces"):
        for sub in ("cur", "new", "tmp"):
            (tmp_path / folder / sub).mkdir(parents=True)
    shutil.copy(data_dir / EXIM, tmp_path / "Maildir" / ".Bounces" / "cur" / "9.host:2,")
    sources = [m.source for m in iter_messages([str(tmp_path / "Maildir")])]
    assert sources == [str(tmp_path / "Maildir" / ".Bounces" / "cur" / "9.host:2,")]
