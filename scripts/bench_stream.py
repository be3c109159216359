#!/usr/bin/env python3
"""Stream a large generated mbox through the parser and report speed and peak memory.

    python scripts/bench_stream.py [--megabytes 1024] [--keep FILE]

The mbox is made of the hand-written fixtures repeated, with one 20 MB attachment every
5,000 messages, written to a temporary file; memory must stay flat however large it is.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from backscatter import iter_messages, parse

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "formats"


def build(target: Path, megabytes: int) -> int:
    bodies = [
        p.read_bytes().replace(b"\nFrom ", b"\n>From ") for p in sorted(FIXTURES.glob("*.eml"))
    ]
    line = b"A" * 1023 + b"\n"
    written = count = 0
    with target.open("wb") as out:
        while written < megabytes << 20:
            out.write(b"From MAILER-DAEMON Mon May 26 08:00:00 2025\n")
            if count % 5000 == 4999:  # a 20 MB attachment, written without holding it
                out.write(b"Subject: big\nContent-Type: application/octet-stream\n\n")
                for _ in range(20 << 10):
                    out.write(line)
                written += 20 << 20
            else:
                body = bodies[count % len(bodies)]
                out.write(body)
                written += len(body)
            out.write(b"\n")
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        mbox = Path(folder) / "large.mbox"
        count = build(mbox, args.megabytes)
        size = mbox.stat().st_size
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        parsed = bounces = 0
        for item in iter_messages([str(mbox)]):
            record = parse(item)
            parsed += 1
            bounces += record.is_bounce
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"mbox {size / 2**20:,.0f} MiB, {count:,} messages, {parsed:,} parsed, {bounces:,} bounces"
    )
    print(f"{parsed / elapsed:,.0f} messages/s, {size / 2**20 / elapsed:,.1f} MiB/s")
    print(f"peak RSS {peak / 1024:,.0f} MiB (before streaming: {baseline / 1024:,.0f} MiB)")
    return 0 if parsed == count else 1


if __name__ == "__main__":
    sys.exit(main())
