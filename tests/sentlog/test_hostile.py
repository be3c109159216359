"""A hostile or careless sent-log (issue 12, item 6): odd files and broken stores are one
plain line or a tallied line, never a traceback and never the loss of the good rows."""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import os
import random
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backscatter.errors import BackscatterError
from backscatter.sentlog import SentRecipient, SqliteSentLog
from backscatter.sentlog.importers import READERS, Tally
from tests.conftest import DATA
from tests.test_cli import run

START = datetime(2025, 5, 1, tzinfo=UTC)
HEADER = "message_id,sent_at,sender,recipient,subject\n"


def csv_row(i: int) -> str:
    when = (START + timedelta(seconds=i)).isoformat()
    return f"<m{i}@sender.example>,{when},alice@sender.example,user{i}@rcpt.example,Hello {i}\n"


def read(path: Path, kind: str = "csv") -> tuple[list[SentRecipient], Tally]:
    tally = Tally()
    return list(READERS[kind](str(path), tally, None)), tally


def stored_rows(count: int) -> list[SentRecipient]:
    return [
        SentRecipient(
            f"<m{i}@sender.example>",
            START + timedelta(seconds=i),
            "alice@sender.example",
            f"user{i}@rcpt.example",
            f"Hello {i}",
        )
        for i in range(count)
    ]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs (needs root or CAP_SYS_ADMIN; skipped, saying why, otherwise)."""
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


# 1. A huge field is a malformed line.


def test_a_10_mb_field_is_one_malformed_line_and_the_other_rows_import(tmp_path):
    path = tmp_path / "export.csv"
    huge = f"<big@sender.example>,{START.isoformat()},alice@sender.example,x@rcpt.example,"
    path.write_text(HEADER + csv_row(1) + huge + "A" * 10_000_000 + "\n" + csv_row(2))
    rows, tally = read(path)
    assert [r.recipient for r in rows] == ["user1@rcpt.example", "user2@rcpt.example"]
    assert tally.malformed == 1
    assert "field larger than field limit" in tally.examples[0]


def test_an_unclosed_quote_cannot_swallow_the_file(tmp_path):
    path = tmp_path / "export.csv"
    opened = '<q@sender.example>,"never closed\n' + "a line of notes\n" * 20_000
    path.write_text(HEADER + csv_row(1) + opened + csv_row(2))
    rows, tally = read(path)
    assert [r.recipient for r in rows] == ["user1@rcpt.example", "user2@rcpt.example"]
    assert tally.malformed >= 1


# 2. BOM and UTF-16.


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: codecs.BOM_UTF8 + text.encode(),
        lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    ],
    ids=["utf-8-bom", "utf-16-le", "utf-16-be"],
)
def test_a_byte_order_mark_picks_the_encoding(tmp_path, encode):
    path = tmp_path / "excel.csv"
    path.write_bytes(encode(HEADER + csv_row(1).replace("Hello", "Grüße") + csv_row(2)))
    rows, tally = read(path)
    assert tally.malformed == 0
    assert [r.recipient for r in rows] == ["user1@rcpt.example", "user2@rcpt.example"]
    assert rows[0].subject == "Grüße 1"


def test_a_compressed_utf16_log_is_read_too(tmp_path):
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress(codecs.BOM_UTF16_LE + (HEADER + csv_row(7)).encode("utf-16-le")))
    rows, _ = read(path)
    assert [r.recipient for r in rows] == ["user7@rcpt.example"]


# 3. Truncated archives.

COMPRESSORS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_a_truncated_archive_yields_its_complete_lines_then_says_where_it_stopped(tmp_path, suffix):
    whole = (HEADER + "".join(csv_row(i) for i in range(20_000))).encode()
    packed = COMPRESSORS[suffix](whole)
    path = tmp_path / f"sent.csv.{suffix}"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    rows, tally = read(path)
    assert len(rows) > 1000
    # Exactly a prefix of the rows, each whole: the cut-off last line is not imported.
    assert [r.recipient for r in rows] == [f"user{i}@rcpt.example" for i in range(len(rows))]
    assert tally.malformed == 0
    [stop] = tally.stopped
    assert stop.startswith(f"{path}: compressed data ends early")
    assert stop.endswith(f"stopped after line {len(rows) + 1}")  # + the header line


def test_a_truncated_postfix_log_on_the_command_line(tmp_path):
    log = (DATA / "sentlog" / "maillog").read_bytes()
    packed = gzip.compress(log * 50)
    path = tmp_path / "mail.log.1.gz"
    path.write_bytes(packed[:-40])
    db = tmp_path / "sent.db"
    result = run("sentlog", "import", "--db", str(db), "--format", "postfix", str(path))
    assert result.returncode == 1
    assert result.stdout.startswith("read ")
    stops = [line for line in result.stderr.splitlines() if line.startswith("backscatter:")]
    assert len(stops) == 1 and "stopped after line" in stops[0]
    assert "Traceback" not in result.stderr and "Aborted" not in result.stderr


# 4. A full disk.


def test_a_full_disk_is_one_line_and_the_store_stays_consistent(tmp_path, tmpfs):
    export = tmp_path / "big.csv"
    export.write_text(HEADER + "".join(csv_row(i) for i in range(30_000)))
    db = tmpfs / "sent.db"
    result = run("sentlog", "import", "--db", str(db), "--format", "csv", str(export))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"backscatter: cannot write sent-log {db}: the disk is full "
        "(the unfinished batch was rolled back)"
    ]
    with SqliteSentLog(db, readonly=True) as store:  # opens, so it passed quick_check
        assert store.check(full=True) == ["ok"]
        assert store.stats()["recipients"] == 0  # the one batch was rolled back whole


# 5. A corrupted database.


def damage(path: Path) -> None:
    """Random bytes over the middle pages of a real store."""
    size = path.stat().st_size
    noise = random.Random(12).randbytes(size // 3)
    with path.open("r+b") as out:
        out.seek(size // 3)
        out.write(noise)


@pytest.fixture
def damaged_store(tmp_path: Path) -> Path:
    db = tmp_path / "sent.db"
    with SqliteSentLog(db) as store:
        store.add(stored_rows(20_000))
    damage(db)
    return db


def test_opening_a_damaged_store_says_run_check(damaged_store):
    expected = f"sent-log DB is damaged: run `backscatter sentlog check --db {damaged_store}`"
    with pytest.raises(BackscatterError) as writing:
        SqliteSentLog(damaged_store)
    assert str(writing.value) == expected
    with pytest.raises(BackscatterError) as reading:
        SqliteSentLog(damaged_store, readonly=True)
    assert str(reading.value) == expected


def test_every_command_on_a_damaged_store_is_one_line(damaged_store, tmp_path):
    db = str(damaged_store)
    line = f"backscatter: sent-log DB is damaged: run `backscatter sentlog check --db {db}`"
    commands = [
        ("sentlog", "stats", "--db", db),
        ("sentlog", "prune", "--db", db, "--older-than", "30d"),
        ("sentlog", "import", "--db", db, "--format", "csv", str(DATA / "sentlog" / "sent.csv")),
        ("score", "--sent-log", db, str(DATA / "sentlog" / "forwarded_bounce.eml")),
    ]
    for command in commands:
        result = run(*command)
        assert (result.returncode, result.stderr.splitlines()) == (2, [line]), command
    check = run("sentlog", "check", "--db", db)
    assert check.returncode == 1
    assert check.stdout.strip() and check.stdout.strip() != "ok"
    assert "Traceback" not in check.stderr


def test_check_of_a_healthy_store_says_ok(tmp_path):
    db = tmp_path / "sent.db"
    with SqliteSentLog(db) as store:
        store.add(stored_rows(100))
    for extra in ((), ("--full",)):
        result = run("sentlog", "check", "--db", str(db), *extra)
        assert (result.returncode, result.stdout) == (0, "ok\n")


# 6. Read-only stores.


def make_read_only_copy(folder: Path) -> Path:
    db = folder / "sent.db"
    with SqliteSentLog(db) as store:
        store.add(stored_rows(50))
    assert sorted(p.name for p in folder.iterdir()) == ["sent.db"]  # no -wal/-shm left
    db.chmod(0o444)
    folder.chmod(0o555)
    return db


def test_a_read_only_copy_opens_for_reading_but_not_for_writing(tmp_path, tmpfs):
    db = make_read_only_copy(tmpfs)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)  # stops root too
    with SqliteSentLog(db, readonly=True) as store:
        assert store.stats()["recipients"] == 50
        [row] = store.by_message_id("<m7@sender.example>")
        assert row.recipient == "user7@rcpt.example"
    assert sorted(p.name for p in tmpfs.iterdir()) == ["sent.db"]
    with pytest.raises(BackscatterError, match=r"sent-log .* is read-only"):
        SqliteSentLog(db)
    stats = run("sentlog", "stats", "--db", str(db), "--format", "json")
    assert stats.returncode == 0 and '"recipients": 50' in stats.stdout
    score = run("score", "--sent-log", str(db), str(DATA / "sentlog" / "forwarded_bounce.eml"))
    assert score.returncode == 0 and "the sent-log starts after" in score.stdout  # it was read
    for command in (
        ("import", "--format", "csv", str(DATA / "sentlog" / "sent.csv")),
        ("prune", "--older-than", "30d"),
    ):
        result = run("sentlog", *command, "--db", str(db))
        assert result.returncode == 2
        assert result.stderr == f"backscatter: sent-log {db} is read-only: cannot write to it\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file modes")
def test_a_read_only_copy_by_file_modes(tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    db = make_read_only_copy(folder)
    try:
        with SqliteSentLog(db, readonly=True) as store:
            assert store.stats()["recipients"] == 50
        with pytest.raises(BackscatterError, match="is read-only"):
            SqliteSentLog(db)
    finally:
        folder.chmod(0o755)
