"""What only the shared PostgreSQL sent-log has: a versioned schema, concurrent importers,
and a database that can go away (issue 11). Against a real throwaway cluster (conftest)."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from backscatter import Detector
from backscatter.errors import BackscatterError
from backscatter.features import OurInfrastructure
from backscatter.filters.outbound import OutboundRecorder
from backscatter.filters.policy import MilterPolicy
from backscatter.filters.session import MessageSession, MilterCore
from backscatter.sentlog import (
    PostgresSentLog,
    SentLogUnavailable,
    SentRecipient,
    mask_dsn,
    open_sent_log,
)
from backscatter.sentlog import postgres as pg
from tests.conftest import DATA
from tests.test_cli import run

psycopg = pytest.importorskip("psycopg", reason="pip install 'backscatter[postgres]'")

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def rows(count: int, start: int = 0) -> Iterator[SentRecipient]:
    for i in range(start, start + count):
        yield SentRecipient(
            f"<m{i // 2}@sender.example>",
            T0 + timedelta(seconds=i),
            "news@sender.example",
            f"user{i}@receiver.example",
            "Offer",
        )


def count(dsn: str) -> tuple[int, int]:
    """Rows stored, and distinct keys among them (equal when there are no duplicates)."""
    with psycopg.connect(dsn) as connection:
        found = connection.execute(
            "SELECT count(*), count(DISTINCT (recipient, sent_at, sender, message_id)) FROM sent"
        ).fetchone()
    assert found is not None
    return found[0], found[1]


def test_a_dsn_opens_the_postgres_store_and_creates_its_schema(pg_dsn):
    with open_sent_log(pg_dsn, readonly=False) as store:
        assert isinstance(store, PostgresSentLog)
        assert store.check() == ["ok"]
    with psycopg.connect(pg_dsn) as connection:
        assert connection.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    assert pg.migrate(pg_dsn) == (pg.LATEST, pg.LATEST)  # migrating again changes nothing


def test_backscatter_sent_log_names_the_store_when_no_option_does(pg_dsn, monkeypatch):
    monkeypatch.setenv("BACKSCATTER_SENT_LOG", pg_dsn)
    with open_sent_log(None, readonly=False) as store:
        assert isinstance(store, PostgresSentLog)
        assert store.add(rows(3)) == (3, 3)


def test_reading_a_database_without_the_schema_says_run_migrate(pg_dsn):
    with pytest.raises(BackscatterError, match="run backscatter sentlog migrate"):
        open_sent_log(pg_dsn, readonly=True)


def test_an_out_of_date_schema_is_refused_until_migrated(pg_dsn, monkeypatch):
    open_sent_log(pg_dsn, readonly=False).close()  # version 1
    step = ("CREATE INDEX sent_by_subject ON sent (subject)",)
    monkeypatch.setattr(pg, "MIGRATIONS", (*pg.MIGRATIONS, step))
    monkeypatch.setattr(pg, "LATEST", pg.LATEST + 1)
    for readonly in (True, False):
        with pytest.raises(BackscatterError, match="version 1, this backscatter needs 2: run"):
            open_sent_log(pg_dsn, readonly=readonly)
    assert pg.migrate(pg_dsn) == (1, 2)
    with open_sent_log(pg_dsn, readonly=True) as store:
        assert store.check() == ["ok"]


def test_migrate_on_the_command_line(pg_dsn):
    result = run("sentlog", "migrate", "--sent-log", pg_dsn)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.endswith("schema version 0 -> 1\n")
    csv = str(DATA / "sentlog" / "sent.csv")
    imported = run("sentlog", "import", "--sent-log", pg_dsn, "--format", "csv", csv)
    assert imported.stdout == "read 3 recipient rows, 3 new; 2 malformed lines\n"
    stats = run("sentlog", "stats", "--db", pg_dsn, "--format", "json")
    assert (stats.returncode, stats.stdout.strip()[:15]) == (0, '{"messages": 2,')


def test_a_read_only_store_refuses_writes(pg_dsn):
    open_sent_log(pg_dsn, readonly=False).close()
    with (
        open_sent_log(pg_dsn, readonly=True) as store,
        pytest.raises(BackscatterError, match="read-only"),
    ):
        store.add(rows(1))


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path):
    dsn = f"postgresql://kim:s3cret@/sentlog?host={tmp_path}&connect_timeout=2"
    assert mask_dsn(dsn) == f"postgresql://kim:***@/sentlog?host={tmp_path}&connect_timeout=2"
    with pytest.raises(SentLogUnavailable, match="cannot reach sent-log") as caught:
        open_sent_log(dsn, readonly=True)
    assert "s3cret" not in str(caught.value)
    with pytest.raises(BackscatterError, match=r"postgresq://kim:\*\*\*@/x: give a file path"):
        open_sent_log("postgresq://kim:s3cret@/x", readonly=False)  # mistyped: no file made
    result = run("sentlog", "stats", "--db", dsn)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "s3cret" not in result.stderr + result.stdout and "kim:***@" in result.stderr


def test_two_hosts_importing_the_same_log_at_once_store_it_once(pg_dsn):
    open_sent_log(pg_dsn, readonly=False).close()
    added: list[int] = []
    errors: list[BaseException] = []

    def host() -> None:
        try:
            with open_sent_log(pg_dsn, readonly=False) as store:
                added.append(store.add(rows(120_000))[1])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=host) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert sum(added) == 120_000
    assert count(pg_dsn) == (120_000, 120_000)


def terminate_other_backends(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'backscatter' AND pid <> pg_backend_pid()"
        )


def test_a_connection_killed_mid_import_is_reopened_and_the_import_completes(pg_dsn):
    def killing(source: Iterator[SentRecipient], at: int) -> Iterator[SentRecipient]:
        for number, row in enumerate(source):
            if number == at:  # the first batch is committed, the second being read
                terminate_other_backends(pg_dsn)
            yield row

    with open_sent_log(pg_dsn, readonly=False) as store:
        assert store.add(killing(rows(130_000), 75_000)) == (130_000, 130_000)
        assert store.add(killing(rows(130_000), 10)) == (130_000, 0)
    assert count(pg_dsn) == (130_000, 130_000)


def test_the_database_going_away_fails_the_import_and_the_next_run_resumes(
    pg_dsn, pg_cluster, caplog, monkeypatch
):
    """The cluster stops mid-import: one plain error, the committed batches stay, the next
    run adds only the rest. Meanwhile the milter's recorder and scorer say the outage once
    and apply on_error (451 here) to every message."""
    open_sent_log(pg_dsn, readonly=False).close()
    caplog.set_level(logging.INFO, logger="backscatter.sentlog")
    monkeypatch.setattr(PostgresSentLog, "RETRY_AFTER", 0.0)  # try again at once when back

    def stopping(source: Iterator[SentRecipient], at: int) -> Iterator[SentRecipient]:
        for number, row in enumerate(source):
            if number == at:
                pg_cluster.stop()
            yield row

    store = open_sent_log(pg_dsn, readonly=False)
    reader = open_sent_log(pg_dsn, readonly=True)
    detector = Detector.load()
    detector.sent_log = reader  # before the scoring workers fork: each opens its own
    core = MilterCore(
        detector, MilterPolicy(on_error="tempfail"), OutboundRecorder(store, OurInfrastructure())
    )
    try:
        with pytest.raises(SentLogUnavailable, match="cannot reach sent-log"):
            store.add(stopping(rows(130_000), 75_000))
        for i in range(5):
            session = MessageSession(core, "192.0.2.1", "submission")
            session.begin("<alice@sender.example>", authenticated=True)
            session.add_recipient(f"<kim{i}@receiver.example>")
            session.add_header("Message-ID", f"<out{i}@sender.example>".encode())
            session.end_headers()
            assert session.finish().action == "tempfail"
        bounce = (DATA / "formats" / "postfix_dsn_user_unknown.eml").read_bytes()
        assert inbound(core, bounce).finish().action == "tempfail"  # the scorer reads it too
    finally:
        pg_cluster.start()
    # The writer's outage is said once (the scorer's readers live in the scoring worker
    # processes and log there).
    said = [r for r in caplog.records if r.name == "backscatter.sentlog"]
    assert [r.levelname for r in said] == ["ERROR"]
    kept = count(pg_dsn)[0]  # the batches committed before it went away, whole
    assert kept in (0, 50_000)  # (the second thread may have been writing the first)
    assert store.add(rows(130_000)) == (130_000, 130_000 - kept)
    assert count(pg_dsn) == (130_000, 130_000)
    assert core.recorder.record("<back@sender.example>", "alice@sender.example", ["x@r.example"])
    assert inbound(core, bounce).finish().action in ("accept", "tag")
    said = [r.levelname for r in caplog.records if r.name == "backscatter.sentlog"]
    assert said == ["ERROR", "WARNING"]  # down; back
    core.close()
    store.close()


def inbound(core: MilterCore, raw: bytes) -> MessageSession:
    session = MessageSession(core, "198.51.100.7", "mx")
    session.begin("", authenticated=False)
    session.add_recipient("<alice@sender.example>")
    head, _, body = raw.partition(b"\n\n")
    for line in head.split(b"\n"):
        name, _, value = line.partition(b":")
        session.add_header(name.decode("latin-1"), value.strip())
    session.end_headers()
    session.add_body(body)
    return session


def test_what_postgres_cannot_hold_is_stored_safely_or_skipped(pg_dsn):
    """Text cannot hold NUL (stored as U+FFFD); a key too long for a B-tree entry (no real
    address or Message-ID) is read, not stored, and never fails the batch around it."""
    import secrets

    huge = secrets.token_hex(2000) + "@receiver.example"  # 4,017 incompressible bytes
    batch = [
        SentRecipient("nul@sender.example", T0, "a@sender.example", "b@r.example", "x\x00y"),
        SentRecipient("long@sender.example", T0, "a@sender.example", huge),
        *rows(300),  # the COPY path too
    ]
    with open_sent_log(pg_dsn, readonly=False) as store:
        assert store.add(batch) == (302, 301)
        [row] = store.by_message_id("nul@sender.example")
        assert row.subject == "x\ufffdy"
        assert store.by_message_id("long@sender.example") == []


def test_a_batch_that_looks_new_but_holds_stored_rows_adds_only_the_rest(pg_dsn):
    """A batch whose first and last rows are new goes in by a plain INSERT; rows in its
    middle already stored (or one row twice) make it fall back to ON CONFLICT DO NOTHING,
    with nothing lost and nothing stored twice."""
    with open_sent_log(pg_dsn, readonly=False) as store:
        assert store.add(rows(100, start=400)) == (100, 100)  # the milter's path
        assert store.add(rows(1_000)) == (1_000, 900)
        twice = [*rows(300, start=2_000), *rows(1, start=2_100)]
        assert store.add(twice) == (301, 300)
    assert count(pg_dsn) == (1_300, 1_300)


def test_fields_copy_must_escape_are_stored_as_they_were(pg_dsn):
    odd = ["tab\there", "new\nline", "carriage\rreturn", "back\\slash", "\\N", "\\.", ""]
    batch = [
        SentRecipient(f"odd{i}@sender.example", T0, "a@sender.example", "b@r.example", subject)
        for i, subject in enumerate(odd)
    ]
    batch.append(SentRecipient(None, T0, "a@sender.example", "c@r.example", None))
    with open_sent_log(pg_dsn, readonly=False) as store:
        assert store.add([*batch, *rows(300)]) == (308, 308)  # the COPY path
        for i, subject in enumerate(odd):
            [row] = store.by_message_id(f"odd{i}@sender.example")
            assert row.subject == subject
        [row] = store.by_recipient("c@r.example", T0, T0)
        assert (row.message_id, row.subject) == (None, None)


def test_an_import_lowers_the_gil_switch_interval_only_while_it_runs(pg_dsn, monkeypatch):
    monkeypatch.setattr(pg, "_BATCH", 300)  # several batches, so a writer thread
    before = sys.getswitchinterval()
    seen: list[float] = []

    def watched(source: Iterator[SentRecipient]) -> Iterator[SentRecipient]:
        for number, row in enumerate(source):
            if number == 700:
                seen.append(sys.getswitchinterval())
            yield row

    with open_sent_log(pg_dsn, readonly=False) as store:
        assert store.add(watched(rows(1_000))) == (1_000, 1_000)
        assert seen == [pytest.approx(min(before, pg._HANDOVER.seconds))]
        assert sys.getswitchinterval() == before

        def failing() -> Iterator[SentRecipient]:
            yield from rows(700, start=5_000)
            raise OSError("log unreadable")

        with pytest.raises(OSError):
            store.add(failing())
        assert sys.getswitchinterval() == before
