#!/usr/bin/env python3
"""Sent-log speed: import a 1,000,000-row CSV and a 1,000,000-line Postfix log, then look up.

    python scripts/bench_sentlog.py [--rows 1000000] [--lookups 200000]

Reports rows/s for each import, the database size, peak memory while importing,
lookups/s by Message-ID and by recipient + time window on the resulting store, and
match_bounce/s for bounces that match by a quoted Message-ID and for bounces that match
nothing (every lookup tried: IDs, recipients, sender, coverage).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backscatter.mail.anatomy import Bounce, FailedRecipient
from backscatter.sentlog import SqliteSentLog, match_bounce
from backscatter.sentlog.importers import Tally
from backscatter.sentlog.importers.csv_rows import read_csv
from backscatter.sentlog.importers.postfix import read_postfix

START = datetime(2025, 3, 1, tzinfo=UTC)


def write_csv(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write("message_id,sent_at,sender,recipient,subject\n")
        for i in range(rows):
            when = (START + timedelta(seconds=i * 2)).isoformat()
            out.write(
                f"<m{i // 3}@sender.example>,{when},news@sender.example,user{i}@r{i % 97}.example,Offer {i // 3}\n"
            )


def write_postfix(path: Path, lines: int) -> int:
    """Interleaved messages, five lines each (cleanup, qmgr, two smtp, removed)."""
    messages = lines // 5
    with path.open("w") as out:
        for i in range(0, messages, 2):  # two messages in flight at once, lines interleaved
            a, b = f"Q{i:09X}", f"Q{i + 1:09X}"
            stamp = (START + timedelta(seconds=i)).strftime("%b %e %H:%M:%S")
            for qid, n in ((a, i), (b, i + 1)):
                out.write(
                    f"{stamp} mx postfix/cleanup[1]: {qid}: message-id=<p{n}@sender.example>\n"
                )
            for qid, n in ((a, i), (b, i + 1)):
                out.write(
                    f"{stamp} mx postfix/qmgr[2]: {qid}: from=<s{n % 50}@sender.example>, size=1, nrcpt=2 (queue active)\n"
                )
            for qid, n in ((a, i), (b, i + 1)):
                for r in range(2):
                    out.write(
                        f"{stamp} mx postfix/smtp[3]: {qid}: to=<u{n}.{r}@r.example>, relay=x[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)\n"
                    )
            for qid in (a, b):
                out.write(f"{stamp} mx postfix/qmgr[2]: {qid}: removed\n")
    return messages * 2


def timed_import(db: Path, rows) -> tuple[int, float]:
    with SqliteSentLog(db) as store:
        started = time.perf_counter()
        _, added = store.add(rows)
        return added, time.perf_counter() - started


def bounce_of(i: int, found: bool) -> tuple[Bounce, list[str]]:
    """A bounce of row i (or of mail we never sent), and three Message-IDs from its text
    (one of them ours when found)."""
    when = START + timedelta(seconds=i * 2, hours=3)
    domain = "sender.example" if found else "elsewhere.example"
    failed = f"user{i}@r{i % 97}.example" if found else f"user{i}@r{i % 97}.{domain}"
    bounce = Bounce(
        source="bench",
        is_bounce=True,
        recipients=(FailedRecipient(failed),),
        original_message_id=None,
        original_from=f"news@{domain}",
        original_to=f"{failed}, other{i}@{domain}",
        original_date=when.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        date=when.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        message_id=f"bounce{i}@mx.example",
    )
    ids = [f"thread{i}@{domain}", f"m{i // 3}@{domain}", f"x{i}@{domain}"]
    return bounce, ids


def bench_match(store: SqliteSentLog, rng: random.Random, rows: int, count: int) -> None:
    for found in (True, False):
        cases = [bounce_of(rng.randrange(rows), found) for _ in range(count)]
        started = time.perf_counter()
        hits = sum(match_bounce(store, b, message_ids=ids).found for b, ids in cases)
        seconds = time.perf_counter() - started
        label = "match (ID hit) " if found else "match (no hit) "
        print(f"{label} {count / seconds:,.0f} bounces/s ({hits:,} found)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        csv_path, log_path = root / "sent.csv", root / "maillog"
        write_csv(csv_path, args.rows)
        expected = write_postfix(log_path, args.rows)
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        added, seconds = timed_import(root / "csv.db", read_csv(str(csv_path), Tally()))
        print(f"CSV import      {added:,} rows in {seconds:.1f} s = {added / seconds:,.0f} rows/s")
        added, seconds = timed_import(
            root / "postfix.db", read_postfix(str(log_path), Tally(), None, now=START, zone=UTC)
        )
        print(
            f"Postfix import  {args.rows:,} lines -> {added:,} rows (expected {expected:,}) in "
            f"{seconds:.1f} s = {args.rows / seconds:,.0f} lines/s"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size = (root / "csv.db").stat().st_size + sum(
            p.stat().st_size for p in root.glob("csv.db-*")
        )
        print(
            f"DB size         {size / 2**20:,.0f} MiB for {args.rows:,} recipient rows "
            f"({size / args.rows:.0f} bytes/row)"
        )
        print(
            f"peak RSS        {peak / 1024:,.0f} MiB while importing (before: {base_rss / 1024:,.0f} MiB)"
        )

        rng = random.Random(7)
        with SqliteSentLog(root / "csv.db", readonly=True) as store:
            ids = [f"m{rng.randrange(args.rows // 3)}@sender.example" for _ in range(args.lookups)]
            started = time.perf_counter()
            hits = sum(1 for mid in ids if store.by_message_id(mid))
            seconds = time.perf_counter() - started
            print(f"by Message-ID   {args.lookups / seconds:,.0f} lookups/s ({hits:,} hits)")
            picks = [rng.randrange(args.rows) for _ in range(args.lookups)]
            started = time.perf_counter()
            hits = 0
            for i in picks:
                when = START + timedelta(seconds=i * 2)
                hits += bool(
                    store.by_recipient(
                        f"user{i}@r{i % 97}.example",
                        when - timedelta(days=7),
                        when + timedelta(hours=2),
                    )
                )
            seconds = time.perf_counter() - started
            print(f"by recipient    {args.lookups / seconds:,.0f} lookups/s ({hits:,} hits)")
            bench_match(store, rng, args.rows, args.lookups // 4)
    return 0


if __name__ == "__main__":
    sys.exit(main())
