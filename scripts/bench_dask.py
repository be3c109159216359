#!/usr/bin/env python3
"""``score --engine dask`` with 1 and 2 workers beside ``--jobs 1`` and ``--jobs 2``.

    python scripts/bench_dask.py [--size-mb 500] [--corpus ../shared/corpus] [--keep]

Builds an mbox of about ``--size-mb`` MB in a temporary folder (under /tmp; never in the
repository) from the test fixtures and, when present, the corpus messages, repeated; scores
it four ways with ``-f jsonl``, and prints per run: wall time, messages/s, the peak resident
memory of the client and of each worker process (sampled from /proc via psutil every 0.2 s),
and whether the output is byte-identical to ``--jobs 1``. The load average is printed before
and after: on a shared machine the figures are only comparable within one run of this script.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SEPARATOR = b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024\n"

RUNS = (
    ("--jobs 1", ["--jobs", "1"]),
    ("--jobs 2", ["--jobs", "2"]),
    ("dask, 1 worker", ["--engine", "dask", "--jobs", "1"]),
    ("dask, 2 workers", ["--engine", "dask", "--jobs", "2"]),
)


def build_mbox(target: Path, size: int, corpus: Path) -> int:
    """An mboxrd of about ``size`` bytes; returns the number of messages written."""
    files = sorted(corpus.glob("*/*.eml")) if corpus.is_dir() else []
    files += sorted((ROOT / "tests" / "data").glob("*/*.eml"))
    entries = []
    for path in files:
        lines = path.read_bytes().replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
        quoted = [b">" + x if x.lstrip(b">").startswith(b"From ") else x for x in lines]
        entries.append(SEPARATOR + b"\n".join(quoted) + b"\n\n")
    block = b"".join(entries)
    written = count = 0
    with target.open("wb") as out:
        while written < size:
            out.write(block)
            written += len(block)
            count += len(entries)
    return count


def measure(command: list[str], output: Path) -> tuple[float, int, list[int]]:
    """Wall seconds, the client's peak RSS and each other process's peak RSS (bytes)."""
    peaks: dict[int, int] = {}
    started = time.perf_counter()
    with output.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        root = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        rss = proc.memory_info().rss
                    except psutil.Error:
                        continue
                    peaks[proc.pid] = max(peaks.get(proc.pid, 0), rss)
            except psutil.Error:
                pass
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}")
    client = peaks.pop(process.pid, 0)
    # the worker processes: the big children (nannies and the resource tracker stay small)
    workers = sorted((rss for rss in peaks.values() if rss > 150 * 2**20), reverse=True)
    return seconds, client, workers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    mbox = folder / "bench.mbox"
    messages = build_mbox(mbox, args.size_mb * 2**20, args.corpus)
    print(f"{mbox}: {mbox.stat().st_size / 2**20:,.0f} MB, {messages:,} messages")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    base = [sys.executable, "-m", "backscatter", "score", "-f", "jsonl"]
    reference = None
    print(f"{'run':<17} {'wall s':>8} {'msg/s':>8} {'client MB':>10}  worker peak MB   same")
    for name, options in RUNS:
        output = folder / f"{name.replace(' ', '_').replace(',', '')}.jsonl"
        seconds, client, workers = measure([*base, *options, str(mbox)], output)
        reference = reference or output
        same = filecmp.cmp(reference, output, shallow=False)
        peak = ", ".join(f"{w / 2**20:,.0f}" for w in workers) or "-"
        print(
            f"{name:<17} {seconds:>8.1f} {messages / seconds:>8,.0f} {client / 2**20:>10,.0f}"
            f"  {peak:<15}  {'yes' if same else 'NO'}",
            flush=True,
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.keep:
        print(f"kept {folder}")
    else:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
