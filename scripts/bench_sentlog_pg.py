#!/usr/bin/env python3
"""PostgreSQL sent-log speed and concurrency (issue 11, "Must show").

    python scripts/bench_sentlog_pg.py --throwaway     # a temporary local cluster, durable
    python scripts/bench_sentlog_pg.py --sent-log postgresql://user@host/db

Reports rows/s importing a 1,000,000-row CSV and a 1,000,000-line Postfix log (the
generators of bench_sentlog.py) and re-importing the CSV (idempotent: nothing new);
lookups/s by Message-ID and by recipient + window from 1 client and from 4 concurrent
client processes; then 4 processes recording like the milter (one message of 1-3
recipients per transaction) while a Postfix import runs and a reader looks up: rows stored
must equal rows expected, with no duplicates. Each part uses its own schema
(``bench_*``, dropped first), so a shared database is left as it was otherwise.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).resolve().parents[1])]

from bench_sentlog import START, write_csv, write_postfix  # noqa: E402

from backscatter.sentlog import SentRecipient, open_sent_log  # noqa: E402
from backscatter.sentlog.importers import Tally  # noqa: E402
from backscatter.sentlog.importers.csv_rows import read_csv  # noqa: E402
from backscatter.sentlog.importers.postfix import read_postfix  # noqa: E402

RECORDERS = 4
MESSAGES_PER_RECORDER = 2_000


def in_schema(dsn: str, schema: str) -> str:
    """The DSN with ``search_path`` set to a fresh (emptied) schema."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in dsn else "?"
    return f"{dsn}{joiner}options={quote(f'-csearch_path={schema}')}"


def timed_import(dsn: str, rows) -> tuple[int, int, float]:
    """Import; also prints the CPU per row of this process and of its server backend (when
    the server is local): on a shared machine those say more than the wall clock."""
    with open_sent_log(dsn, readonly=False) as store:
        backend = store._connection.info.backend_pid if store._connection else 0
        server = _cpu(backend)
        client = time.process_time()
        started = time.perf_counter()
        read, added = store.add(rows)
        seconds = time.perf_counter() - started
        client = time.process_time() - client
        server = _cpu(backend) - server
    per_row = 1e6 / max(read, 1)
    print(
        f"  (CPU per row: client {client * per_row:.1f} us incl. reading the log, "
        f"server {server * per_row:.1f} us)"
    )
    return read, added, seconds


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a local process (0 when it is not local)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lookups(dsn: str, rows: int, count: int, seed: int) -> tuple[int, float, int, float]:
    """``count`` lookups by Message-ID, then ``count`` by recipient + 7-day window."""
    rng = random.Random(seed)
    with open_sent_log(dsn, readonly=True) as store:
        ids = [f"m{rng.randrange(rows // 3)}@sender.example" for _ in range(count)]
        started = time.perf_counter()
        id_hits = sum(1 for mid in ids if store.by_message_id(mid))
        by_id = time.perf_counter() - started
        picks = [rng.randrange(rows) for _ in range(count)]
        started = time.perf_counter()
        to_hits = 0
        for i in picks:
            when = START + timedelta(seconds=i * 2)
            found = store.by_recipient(
                f"user{i}@r{i % 97}.example", when - timedelta(days=7), when + timedelta(hours=2)
            )
            to_hits += bool(found)
        by_to = time.perf_counter() - started
    return id_hits, by_id, to_hits, by_to


def _lookups_job(args: tuple[str, int, int, int]) -> tuple[int, float, int, float]:
    return lookups(*args)


def bench_lookups(dsn: str, rows: int, count: int) -> None:
    id_hits, by_id, to_hits, by_to = lookups(dsn, rows, count, 1)
    print(f"by Message-ID   1 client : {count / by_id:9,.0f} lookups/s ({id_hits:,} hits)")
    print(f"by recipient    1 client : {count / by_to:9,.0f} lookups/s ({to_hits:,} hits)")
    with multiprocessing.Pool(4) as pool:
        started = time.perf_counter()
        results = pool.map(_lookups_job, [(dsn, rows, count, seed) for seed in range(2, 6)])
        wall = time.perf_counter() - started
    id_rate = sum(count / r[1] for r in results)
    to_rate = sum(count / r[3] for r in results)
    print(f"by Message-ID   4 clients: {id_rate:9,.0f} lookups/s in all")
    print(f"by recipient    4 clients: {to_rate:9,.0f} lookups/s in all ({wall:.1f} s wall)")


def record(args: tuple[str, int]) -> tuple[int, int]:
    """One milter process: one message (1-3 recipients) per transaction, each recorded
    twice (a retried SMTP transaction must add nothing)."""
    dsn, number = args
    written = expected = 0
    with open_sent_log(dsn, readonly=False) as store:
        for i in range(MESSAGES_PER_RECORDER):
            when = datetime.now(UTC).replace(microsecond=0)
            rows = [
                SentRecipient(f"out{number}.{i}@mx{number}.example", when, "alice@sender.example",
                              f"r{j}.{i}@receiver.example")
                for j in range(1 + i % 3)
            ]  # fmt: skip
            expected += len(rows)
            written += store.add(rows)[1]
            if i % 10 == 0:
                written += store.add(rows)[1]
    return written, expected


def read_while(args: tuple[str, int]) -> int:
    dsn, seconds = args
    done = 0
    deadline = time.monotonic() + seconds
    with open_sent_log(dsn, readonly=True) as store:
        while time.monotonic() < deadline:
            store.by_message_id(f"p{done % 1000}@sender.example")
            store.coverage()
            done += 1
    return done


def bench_mixed(dsn: str, log: Path, lines: int, expected_import: int) -> None:
    open_sent_log(dsn, readonly=False).close()
    with multiprocessing.Pool(RECORDERS + 1) as pool:
        started = time.perf_counter()
        recorders = pool.map_async(record, [(dsn, n) for n in range(RECORDERS)])
        reader = pool.apply_async(read_while, ((dsn, 10),))
        _, imported, seconds = timed_import(
            dsn, read_postfix(str(log), Tally(), None, now=START, zone=UTC)
        )
        results = recorders.get()
        reads = reader.get()
        wall = time.perf_counter() - started
    written = sum(r[0] for r in results)
    expected = expected_import + sum(r[1] for r in results)
    with psycopg.connect(dsn) as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT (recipient, sent_at, sender, message_id)) FROM sent"
        ).fetchone()
    assert row is not None
    stored, distinct = row
    verdict = "OK" if stored == distinct == expected else "MISMATCH"
    print(
        f"mixed           import {imported:,} rows in {seconds:.1f} s "
        f"({lines / seconds:,.0f} lines/s) while {RECORDERS} recorders wrote {written:,} rows "
        f"({RECORDERS * MESSAGES_PER_RECORDER / wall:,.0f} messages/s) and a reader did "
        f"{reads:,} lookups"
    )
    print(
        f"mixed           rows stored {stored:,}, distinct {distinct:,}, expected {expected:,}: "
        f"{verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--sent-log", help="postgresql:// DSN of a database to use")
    where.add_argument("--throwaway", action="store_true", help="start a temporary cluster")
    parser.add_argument(
        "--fast", action="store_true", help="throwaway cluster without fsync (as the tests run)"
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args()
    cluster = None
    if args.throwaway:
        from tests.sentlog.conftest import make_cluster

        made = make_cluster(fast=args.fast)
        if isinstance(made, str):
            print(f"cannot start a cluster: {made}", file=sys.stderr)
            return 1
        cluster, dsn = made, made.dsn()
    else:
        dsn = args.sent_log
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            csv_path, log_path = root / "sent.csv", root / "maillog"
            write_csv(csv_path, args.rows)
            expected = write_postfix(log_path, args.rows)
            os.sync()  # their writeback is not the import's: it would compete with the WAL's

            csv_dsn = in_schema(dsn, "bench_csv")
            read, added, seconds = timed_import(csv_dsn, read_csv(str(csv_path), Tally()))
            print(
                f"CSV import      {added:,} rows in {seconds:.1f} s = {added / seconds:,.0f} rows/s"
            )
            read, again, seconds = timed_import(csv_dsn, read_csv(str(csv_path), Tally()))
            print(
                f"CSV again       {read:,} rows, {again:,} new in {seconds:.1f} s = "
                f"{read / seconds:,.0f} rows/s"
            )
            postfix_dsn = in_schema(dsn, "bench_postfix")
            _, added, seconds = timed_import(
                postfix_dsn, read_postfix(str(log_path), Tally(), None, now=START, zone=UTC)
            )
            print(
                f"Postfix import  {args.rows:,} lines -> {added:,} rows (expected {expected:,}) "
                f"in {seconds:.1f} s = {args.rows / seconds:,.0f} lines/s, "
                f"{added / seconds:,.0f} rows/s"
            )
            for imported in (csv_dsn, postfix_dsn):  # not racing autovacuum of what was just
                with psycopg.connect(imported, autocommit=True) as connection:  # imported
                    connection.execute("VACUUM ANALYZE sent")
            bench_lookups(csv_dsn, args.rows, args.lookups)
            bench_mixed(in_schema(dsn, "bench_mixed"), log_path, args.rows, expected)
    finally:
        if cluster is not None:
            cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
