#!/usr/bin/env python3
"""Scoring speed of the shipped model on one core, in the batches `backscatter score` uses.

    python scripts/bench_score.py [../shared/corpus] [--repeat 3]
    python scripts/bench_score.py --latency [--unique-boundaries]

Uses the corpus messages when present (real mail), else the hand-written fixtures. A first
pass is timed apart (what a process pays once: imports, caches); the rate is that of the
``--repeat`` passes after it.
``--latency`` times Detector.score one message at a time, as the daemon calls it, on the
fixtures: p50, p99 and mean over five passes after a warm-up pass.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from backscatter.detector import Detector
from backscatter.mail import RawMessage

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default=ROOT.parent / "shared" / "corpus", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", action="store_true", help="per-message score time")
    parser.add_argument(
        "--unique-boundaries",
        action="store_true",
        help="--latency: empty re's cache before each message, as real (unique) MIME "
        "boundaries leave it",
    )
    args = parser.parse_args()
    fixtures = ROOT / "tests" / "data" / "formats"
    if args.latency:
        return latency(sorted(fixtures.glob("*.eml")), args.unique_boundaries)
    files = sorted(args.corpus.glob("*/*.eml")) or sorted(fixtures.glob("*.eml"))
    messages = [RawMessage(str(p), p.read_bytes(), p.stat().st_size) for p in files]
    detector = Detector.load()

    def one_pass() -> float:
        started = time.perf_counter()
        for start in range(0, len(messages), 256):
            detector.score_many(messages[start : start + 256])
        return time.perf_counter() - started

    # The first pass also pays what a process pays once (flanker's import, the public
    # suffix list, compiled patterns): reported apart, so the rate is the steady one that a
    # long batch, the daemon and the milter see.
    first = one_pass()
    print(f"first pass, one-time imports and caches included: {len(messages) / first:,.0f} "
          f"messages/s ({first:.2f} s)")  # fmt: skip
    seconds = sum(one_pass() for _ in range(args.repeat))
    total = args.repeat * len(messages)
    rate = total / seconds
    print(f"scored {total:,} messages in {seconds:.2f} s = {rate:,.0f} messages/s on one core")
    return 0


def latency(files: list[Path], unique_boundaries: bool) -> int:
    messages = [(str(p), p.read_bytes()) for p in files]
    detector = Detector.load()
    for source, data in messages:  # warm-up: imports, caches
        detector.score(data, source)
    times = []
    for _ in range(5):
        for source, data in messages:
            if unique_boundaries:
                re.purge()
            started = time.perf_counter()
            detector.score(data, source)
            times.append(time.perf_counter() - started)
    times.sort()
    p50, p99 = (times[min(len(times) - 1, int(q * len(times)))] * 1000 for q in (0.5, 0.99))
    mean = statistics.mean(times) * 1000
    print(
        f"Detector.score on {len(messages)} fixtures x 5: "
        f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, mean {mean:.3f} ms per message"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
