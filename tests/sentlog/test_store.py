"""The sent-log stores as deployed: idempotent, one writer with readers, the same answers
from the SQLite file (a real file, WAL) and from PostgreSQL (``sent_log_spec`` runs each
semantic test against both)."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backscatter.errors import BackscatterError
from backscatter.sentlog import SentRecipient, SqliteSentLog, open_sent_log

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def rows(count: int, start: int = 0) -> list[SentRecipient]:
    return [
        SentRecipient(
            f"m{i}@sender.example",
            T0 + timedelta(minutes=i),
            "news@sender.example",
            f"user{i}@receiver.example",
            "Offer",
        )
        for i in range(start, start + count)
    ]


def test_file_is_sqlite_in_wal_mode(tmp_path):
    path = tmp_path / "sent.db"
    with SqliteSentLog(path) as store:
        store.add(rows(3))
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("SELECT count(*) FROM sent").fetchone() == (3,)
    indexes = {
        name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='index'")
    }
    assert {"sent_by_message_id", "sent_by_sender", "sent_by_time", "sent_unique"} <= indexes


def test_adding_the_same_rows_twice_adds_nothing(sent_log_spec):
    with open_sent_log(sent_log_spec, readonly=False) as store:
        assert store.add(rows(5)) == (5, 5)
        assert store.add(rows(5)) == (5, 0)
        assert store.stats()["recipients"] == 5


def test_lookups(sent_log_spec):
    with open_sent_log(sent_log_spec, readonly=False) as store:
        store.add(rows(10))
        [hit] = store.by_message_id("<m3@sender.example>")
        assert hit.recipient == "user3@receiver.example"
        assert hit.sent_at == T0 + timedelta(minutes=3)
        window = store.by_recipient("USER4@receiver.example", T0, T0 + timedelta(hours=1))
        assert [r.message_id for r in window] == ["m4@sender.example"]
        assert (
            store.by_recipient(
                "user4@receiver.example", T0 + timedelta(hours=1), T0 + timedelta(days=1)
            )
            == []
        )
        assert len(store.by_sender("News@Sender.example", T0, T0 + timedelta(minutes=4))) == 5


def test_prune_and_stats(sent_log_spec):
    with open_sent_log(sent_log_spec, readonly=False) as store:
        store.add(rows(10))
        assert store.prune(T0 + timedelta(minutes=4)) == 4
        assert store.stats() == {
            "messages": 6,
            "recipients": 6,
            "id_only": 0,
            "first_sent": (T0 + timedelta(minutes=4)).isoformat(),
            "last_sent": (T0 + timedelta(minutes=9)).isoformat(),
            "span_days": 0.0,
        }


def test_unreadable_database_is_a_user_error(tmp_path):
    bad = tmp_path / "not.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackscatterError, match="cannot open sent-log"):
        SqliteSentLog(bad)
    with pytest.raises(BackscatterError, match="no sent-log at"):
        SqliteSentLog(tmp_path / "missing.db", readonly=True)


def test_one_writer_and_readers_at_the_same_time(sent_log_spec):
    path = sent_log_spec
    open_sent_log(path, readonly=False).close()
    errors: list[BaseException] = []
    seen: list[int] = []
    done = threading.Event()

    def write() -> None:
        try:
            with open_sent_log(path, readonly=False) as writer:
                for batch in range(20):
                    writer.add(rows(500, start=batch * 500))
        except BaseException as exc:  # surfaced in the assertion below
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            with open_sent_log(path, readonly=True) as reader:
                while not done.is_set():
                    seen.append(int(reader.stats()["recipients"]))
                    reader.by_recipient("user42@receiver.example", T0, T0 + timedelta(days=30))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(seen) > 3  # the readers really ran while the writer wrote
    with open_sent_log(path, readonly=True) as reader:
        assert reader.stats()["recipients"] == 10_000
    assert all(count % 500 == 0 for count in seen)  # readers never see half a batch


def test_message_id_only_rows_are_stored_once_and_found(sent_log_spec):
    only = SentRecipient("<Bcc.1@Sender.Example>", T0, "Alice@sender.example", "")
    with open_sent_log(sent_log_spec, readonly=False) as store:
        assert store.add([only, replace(only, message_id="bcc.2@sender.example")]) == (2, 2)
        assert store.add([only]) == (1, 0)  # the unique key holds '' like any recipient
        [hit] = store.by_message_id("Bcc.1@sender.example")
        assert (hit.message_id, hit.recipient, hit.sender) == (
            "Bcc.1@sender.example",
            "",
            "alice@sender.example",
        )
        store.add(rows(2))
        stats = store.stats()
        assert (stats["messages"], stats["recipients"], stats["id_only"]) == (4, 2, 2)


def test_rows_stored_before_domains_were_lower_cased_are_still_found(tmp_path):
    path = tmp_path / "sent.db"
    SqliteSentLog(path).close()
    old = sqlite3.connect(path)
    with old:
        old.execute(
            "INSERT INTO sent VALUES ('Old.1@Mail.Sender.Example', 1741000000, "
            "'alice@sender.example', 'kim@receiver.example', NULL)"
        )
    old.close()
    with SqliteSentLog(path, readonly=True) as store:
        assert len(store.by_message_id("<Old.1@Mail.Sender.Example>")) == 1


def test_coverage_is_the_span_and_follows_writes_from_any_connection(sent_log_spec):
    path = sent_log_spec
    with open_sent_log(path, readonly=False) as store:
        assert store.coverage() is None
        store.add(rows(3))
        assert store.coverage() == (T0, T0 + timedelta(minutes=2))
        with open_sent_log(path, readonly=False) as other:  # the mail filter recording meanwhile
            other.add(rows(1, start=60))
        assert store.coverage() == (T0, T0 + timedelta(minutes=60))
        store.prune(T0 + timedelta(minutes=1))
        assert store.coverage() == (T0 + timedelta(minutes=1), T0 + timedelta(minutes=60))
        stats = store.stats()
        assert (stats["first_sent"], stats["span_days"]) == (
            (T0 + timedelta(minutes=1)).isoformat(),
            0.0,
        )


def test_a_mailings_id_answers_with_the_asked_recipients_or_a_bounded_sample(sent_log_spec):
    mailing = [
        SentRecipient("news-1@sender.example", T0, "news@sender.example", f"u{i}@r.example")
        for i in range(300)
    ]
    with open_sent_log(sent_log_spec, readonly=False) as store:
        store.add(mailing)
        asked = store.by_message_ids(["<news-1@sender.example>"], ["U250@r.example", "x@y.example"])
        assert [r.recipient for r in asked] == ["u250@r.example"]
        assert len(store.by_message_ids(["news-1@sender.example"], ["x@y.example"])) == 100
        assert store.by_message_ids(["other@sender.example", "<>"]) == []
