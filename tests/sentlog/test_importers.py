"""Importers against log excerpts written in each MTA's true format."""

from __future__ import annotations

import bz2
import gzip
import shutil
from datetime import UTC, datetime

import pytest

from backscatter.errors import InputError
from backscatter.sentlog.importers import READERS, Tally
from backscatter.sentlog.importers.postfix import read_postfix
from tests.conftest import DATA

LOGS = DATA / "sentlog"
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def triples(rows):
    return [(r.message_id, r.sender, r.recipient) for r in rows]


def test_postfix_joins_interleaved_queue_ids():
    tally = Tally()
    rows = list(read_postfix(str(LOGS / "maillog"), tally, None, now=NOW, zone=UTC))
    assert triples(rows) == [
        ("quarterly-2025-03@sender.example", "alice@sender.example", "nobody@receiver.example"),
        ("notes-0303@desk.sender.example", "bob@sender.example", "carol@slow.example"),
        ("quarterly-2025-03@sender.example", "alice@sender.example", "dan@receiver.example"),
        ("notes-0303@desk.sender.example", "bob@sender.example", "carol@slow.example"),
        ("rfc3339-stamp@sender.example", "erin@sender.example", "frank@receiver.example"),
    ]
    # the time is when the message arrived, so retries of one recipient are one row
    assert rows[1].sent_at == rows[3].sent_at == datetime(2025, 3, 3, 10, 15, 1, tzinfo=UTC)
    assert rows[4].sent_at.isoformat() == "2025-03-03T11:00:00.123456+01:00"
    # our own bounce (from=<>) is not mail we sent; a message begun before the log, and a
    # broken line, are counted
    assert tally.malformed == 2


def test_postfix_syslog_year_is_last_year_after_new_year():
    rows = list(
        read_postfix(
            str(LOGS / "maillog"), Tally(), None, now=datetime(2026, 1, 2, tzinfo=UTC), zone=UTC
        )
    )
    assert rows[0].sent_at.year == 2025


def test_traditional_stamps_are_read_in_the_given_zone():
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    rows = list(read_postfix(str(LOGS / "maillog"), Tally(), None, now=NOW, zone=paris))
    assert rows[0].sent_at == datetime(2025, 3, 3, 9, 15, 0, tzinfo=UTC)


def test_compressed_rotated_logs(tmp_path):
    plain = (LOGS / "maillog").read_bytes()
    (tmp_path / "maillog.1.gz").write_bytes(gzip.compress(plain))
    (tmp_path / "maillog.2.bz2").write_bytes(bz2.compress(plain))
    for name in ("maillog.1.gz", "maillog.2.bz2"):
        assert len(list(read_postfix(str(tmp_path / name), Tally(), None, now=NOW))) == 5


def test_exim_mainlog():
    tally = Tally()
    rows = list(READERS["exim"](str(LOGS / "mainlog"), tally, None))
    assert triples(rows) == [
        ("photos.1744102800@desk.sender.example", "dave@sender.example", "erin@full.example"),
        ("photos.1744102800@desk.sender.example", "dave@sender.example", "gail@ok.example"),
        ("zone-and-pid@sender.example", "hugo@sender.example", "list-owner@partner.example"),
        ("zone-and-pid@sender.example", "hugo@sender.example", "ivy@partner.example"),
        ("zone-and-pid@sender.example", "hugo@sender.example", "jay@slow.example"),
    ]
    assert rows[0].subject == 'Holiday "summer" photos'
    assert rows[2].sent_at.isoformat() == "2025-04-08T10:30:00+02:00"
    assert tally.malformed == 1  # the delivery of a message that arrived before the log


def test_csv_interchange_format():
    tally = Tally()
    rows = list(READERS["csv"](str(LOGS / "sent.csv"), tally, None))
    assert triples(rows) == [
        ("news-0526@sender.example", "news@sender.example", "kim@receiver.example"),
        ("news-0526@sender.example", "news@sender.example", "lee@receiver.example"),
        ("news-0527@sender.example", "news@sender.example", "max@receiver.example"),
    ]
    assert [r.subject for r in rows] == ["May offers", "May offers", None]
    assert tally.malformed == 2 and "yesterday" in tally.examples[0]


def test_csv_without_the_required_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,when,who\n1,2,3\n")
    with pytest.raises(InputError, match="lacks message_id, sent_at, sender, recipient"):
        list(READERS["csv"](str(bad), Tally(), None))


def test_sent_folder_mbox_and_maildir(tmp_path):
    rows = list(READERS["mbox"](str(LOGS / "Sent.mbox"), Tally(), None))
    assert [r.recipient for r in rows] == [
        "nobody@receiver.example",
        "dan@receiver.example",
        "oz@partner.example",
        "pat@receiver.example",
    ]
    assert rows[0].sent_at.isoformat() == "2025-03-03T10:14:58+01:00"
    maildir = tmp_path / "Sent"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    shutil.copy(DATA / "formats" / "not_bounce_auto_reply.eml", maildir / "cur" / "1:2,S")
    assert [r.recipient for r in READERS["maildir"](str(maildir), Tally(), None)] == [
        "oscar@sender.example"
    ]


def test_missing_log_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        list(READERS["postfix"](str(tmp_path / "nope"), Tally(), None))
