"""Importers against log excerpts written in each MTA's true format."""

from __future__ import annotations

import bz2
import gzip
import shutil
from datetime import UTC, datetime

import pytest

from backscatter.errors import InputError
from backscatter.sentlog import SqliteSentLog, open_sent_log
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


def rows_of(kind, name, **options):
    tally = Tally()
    reader = read_postfix if kind == "postfix" else READERS[kind]
    rows = list(reader(str(LOGS / name), tally, None, **options))
    return [(r.message_id, r.sender, r.recipient) for r in rows], tally


def test_csv_keeps_message_id_only_rows():
    found, tally = rows_of("csv", "sent_id_only.csv")
    assert found == [
        ("posting-4411@lists.sender.example", "list@lists.sender.example", ""),
        ("Bcc-Only.77@sender.example", "alice@sender.example", ""),
        ("with-rcpt@sender.example", "alice@sender.example", "kim@receiver.example"),
    ]
    # neither an ID nor a recipient, and a recipient that is no address, are still refused
    assert tally.malformed == 2


def test_sent_folder_bcc_only_message_is_one_message_id_row():
    found, tally = rows_of("mbox", "Sent_bcc.mbox")
    assert found == [("invite-0305.1@laptop.sender.example", "alice@sender.example", "")]
    assert tally.malformed == 1  # no address and no Message-ID: nothing to keep


def test_postfix_message_id_without_a_delivery_line():
    found, tally = rows_of("postfix", "maillog_id_only", now=NOW, zone=UTC)
    assert found == [
        ("held-then-deleted@sender.example", "alice@sender.example", ""),  # removed
        ("delivered@sender.example", "erin@sender.example", "frank@receiver.example"),
        ("still-queued@sender.example", "bob@sender.example", ""),  # queued at the log's end
    ]
    # cleanup's reject (never queued, no from=) and our own null-sender bounce are not ours
    assert tally.malformed == 0


def test_exim_arrival_without_a_delivery_line():
    found, tally = rows_of("exim", "mainlog_id_only")
    assert found == [
        ("blackholed-by-filter@sender.example", "gus@sender.example", ""),  # Completed
        ("sent-normally@sender.example", "ida@sender.example", "jo@receiver.example"),
        ("Queued.At.End@sender.example", "hugo@sender.example", ""),  # queued at the end
    ]
    assert tally.malformed == 0


def test_importing_message_id_rows_twice_adds_nothing(store):
    for _ in range(2):
        for kind, name in (("csv", "sent_id_only.csv"), ("mbox", "Sent_bcc.mbox")):
            store.add(READERS[kind](str(LOGS / name), Tally(), None))
    assert store.stats()["id_only"] == 3
    assert store.stats()["recipients"] == 1


SOURCES = (
    ("csv", "sent.csv"),
    ("csv", "sent_id_only.csv"),
    ("postfix", "maillog"),
    ("postfix", "maillog_id_only"),
    ("exim", "mainlog"),
    ("exim", "mainlog_id_only"),
    ("mbox", "Sent.mbox"),
    ("mbox", "Sent_bcc.mbox"),
)


def stored(store, kind, name):
    """Import one log into the store; what each of its rows reads back as, by Message-ID."""
    options = {"now": NOW, "zone": UTC} if kind == "postfix" else {}
    reader = read_postfix if kind == "postfix" else READERS[kind]
    imported = list(reader(str(LOGS / name), Tally(), None, **options))
    read, added = store.add(imported)
    back = {r for row in imported if row.message_id for r in store.by_message_id(row.message_id)}
    return read, added, sorted(back, key=repr)


@pytest.mark.parametrize(("kind", "name"), SOURCES)
def test_every_importer_stores_the_same_records_in_both_stores(tmp_path, pg_dsn, kind, name):
    """The same log into SQLite and PostgreSQL: the same counts and the same rows back."""
    with (
        SqliteSentLog(tmp_path / "sent.db") as sqlite,
        open_sent_log(pg_dsn, readonly=False) as postgres,
    ):
        in_sqlite, in_postgres = stored(sqlite, kind, name), stored(postgres, kind, name)
        assert in_sqlite[2]  # the fixture really yielded rows to compare
        assert in_sqlite == in_postgres
        assert sqlite.stats() == postgres.stats()
        assert postgres.add([]) == (0, 0)
