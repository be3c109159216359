#!/usr/bin/env python3
"""Wall-clock start-up of the ``backscatter`` command, beside ``python3 -c pass``.

Issue 10 asks for ``backscatter --help`` <= 0.25 s and ``backscatter parse one.eml`` <= 0.4 s
(median of 10 on the machine that runs the mail), and ``filter --connect`` <= 0.1 s with the
daemon up. Start-up is what a procmail recipe or an MTA pipe pays on every message, so it is
measured as those callers see it: a fresh process, start to exit. ``python3 -c pass`` runs in
the same loop, so a busy machine shows up as a slow baseline rather than a slow backscatter.

    PYTHONPATH=src python scripts/bench_startup.py [--runs 10] [--eml FILE] [--connect SOCKET]

The command is the ``backscatter`` console script beside the interpreter running this script
(as a user runs it), or ``PYTHON -m backscatter`` when there is none; set PYTHONPATH to time
a checkout other than the installed one. Children run with bytecode caching on (an
installed package has its .pyc files; PYTHONDONTWRITEBYTECODE would make every run compile
backscatter's sources again, ~35 ms of CPU on ``parse``); the warm-up run writes them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EML = ROOT / "tests" / "data" / "formats" / "activehunter_fatal.eml"
#: A plain bounce of about 4 KB, what ``filter --connect`` is timed on (issue 10).
_FILTER_BODY_BYTES = 4096


def _filter_message() -> bytes:
    head = (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: alice@example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bench-startup@mx.example.org>\r\n\r\n"
        "This is the mail system at host mx.example.org.\r\n\r\n"
        "<bob@example.net>: host mx.example.net said: 550 5.1.1 no such user\r\n\r\n"
    )
    filler = "This line pads the message to the size of an ordinary bounce.\r\n"
    body = head + filler * ((_FILTER_BODY_BYTES - len(head)) // len(filler) + 1)
    return body.encode()[:_FILTER_BODY_BYTES]


def time_runs(
    argv: list[str], runs: int, stdin: bytes | None = None
) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of ``runs`` fresh processes; one untimed warm-up
    run fills the OS cache. CPU time shows what a loaded machine hides in the wall time."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    times: list[float] = []
    cpu: list[float] = []
    for attempt in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            argv,
            input=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            check=False,
        )
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if attempt:
            times.append(elapsed)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command")
    parser.add_argument("--eml", type=Path, default=DEFAULT_EML, help="message for `parse`")
    parser.add_argument(
        "--connect", help="the `backscatter serve` socket; times `filter --connect` too"
    )
    args = parser.parse_args()

    python = sys.executable
    script = Path(python).parent / "backscatter"
    cli = [str(script)] if script.is_file() else [python, "-m", "backscatter"]
    cases: list[tuple[str, list[str], bytes | None]] = [
        ("python3 -c pass", [python, "-c", "pass"], None),
        ("backscatter --help", [*cli, "--help"], None),
        ("backscatter --version", [*cli, "--version"], None),
        (f"backscatter parse {args.eml.name}", [*cli, "parse", str(args.eml)], None),
    ]
    if args.connect:
        if Path(args.connect).exists():
            cases.append(
                (
                    "backscatter filter --connect (4 KB)",
                    [*cli, "filter", "--connect", args.connect],
                    _filter_message(),
                )
            )
        else:
            print(f"skipped filter --connect: no socket at {args.connect}", file=sys.stderr)

    print(f"wall and CPU seconds, {args.runs} runs each")
    print(f"{'command':42} {'median':>7} {'min':>7} {'max':>7} {'cpu med':>8}")
    for label, argv, stdin in cases:
        times, cpu = time_runs(argv, args.runs, stdin)
        print(
            f"{label:42} {statistics.median(times):7.3f} {min(times):7.3f} "
            f"{max(times):7.3f} {statistics.median(cpu):8.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
