#!/usr/bin/env python3
"""Scoring speed of the shipped model on one core, in the batches `backscatter score` uses.

    python scripts/bench_score.py [../shared/corpus] [--repeat 3]

Uses the corpus messages when present (real mail), else the hand-written fixtures.
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    fixtures = ROOT / "tests" / "data" / "formats"
    files = sorted(args.corpus.glob("*/*.eml")) or sorted(fixtures.glob("*.eml"))
    messages = [RawMessage(str(p), p.read_bytes(), p.stat().st_size) for p in files]
    detector = Detector.load()
    started = time.perf_counter()
    for _ in range(args.repeat):
        for start in range(0, len(messages), 256):
            detector.score_many(messages[start : start + 256])
    seconds = time.perf_counter() - started
    total = args.repeat * len(messages)
    rate = total / seconds
    print(f"scored {total:,} messages in {seconds:.2f} s = {rate:,.0f} messages/s on one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
