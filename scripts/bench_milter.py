#!/usr/bin/env python3
"""Mail through a real Postfix with and without the milter: messages/s and latency.

    sudo python scripts/bench_milter.py [--messages 2000] [--sessions 1 4]

Starts a private Postfix on loopback (tests/filters/postfix_instance.py; root needed, the
system's /etc/postfix is not touched) delivering to a Maildir, and the milter on a unix
socket. Each SMTP session sends its share of the messages over one connection; the rate
counts until the last message is in the Maildir. The mix: the bounce, fake-NDR and ordinary
fixtures in tests/data/formats. Prints the SMTP transaction time per message (p50/p99)
with and without the milter, and the milter's own time per message (from its log).
"""

from __future__ import annotations

import argparse
import re
import shutil
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.filters import postfix_instance as lab  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def send_all(port: int, messages: list[bytes], sessions: int) -> tuple[float, list[float]]:
    """Send over ``sessions`` concurrent connections; returns (seconds, per-message ms)."""
    timings: list[float] = []
    lock = threading.Lock()

    def session(share: list[bytes]) -> None:
        local = []
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            for data in share:
                started = time.perf_counter()
                smtp.sendmail("", ["alice@ours.example"], data)
                local.append((time.perf_counter() - started) * 1000)
        with lock:
            timings.extend(local)

    shares = [messages[i::sessions] for i in range(sessions)]
    threads = [threading.Thread(target=session, args=(s,)) for s in shares]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, timings


def run(with_milter: bool, messages: list[bytes], sessions: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="backscatter-bench-"))
    root.chmod(0o755)
    sock, log = root / "milter.sock", root / "milter.log"
    process = lab.start_milter(sock, "--sent-log", str(root / "sent.db"), log=log) if (
        with_milter
    ) else None  # fmt: skip
    postfix = lab.PostfixInstance(root / "postfix", f"unix:{sock}" if with_milter else "")
    postfix.start()
    try:
        send_all(postfix.inbound_port, messages[:20], 1)  # warm up both sides
        postfix.wait_for(20, timeout=60)
        started = time.perf_counter()
        _, timings = send_all(postfix.inbound_port, messages, sessions)
        postfix.wait_for(20 + len(messages), timeout=600)
        seconds = time.perf_counter() - started
    finally:
        postfix.stop()
        if process is not None:
            lab.stop_milter(process)
    milter_ms = [float(m) for m in re.findall(r" ms=([0-9.]+)", log.read_text())] if (
        with_milter
    ) else []  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)
    result = {
        "rate": len(messages) / seconds,
        "smtp_p50": statistics.median(timings),
        "smtp_p99": percentile(timings, 0.99),
    }
    if milter_ms:
        result["milter_p50"] = statistics.median(milter_ms[20:])
        result["milter_p99"] = percentile(milter_ms[20:], 0.99)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    reason = lab.available()
    if reason:
        print(f"bench_milter: {reason}", file=sys.stderr)
        return 2
    fixtures = sorted((ROOT / "tests" / "data" / "formats").glob("*.eml"))
    mix = [p.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for p in fixtures]
    messages = (mix * (args.messages // len(mix) + 1))[: args.messages]
    print(
        f"{len(messages)} messages ({len(mix)} fixtures, mean {sum(map(len, mix)) // len(mix)} B)"
    )
    for sessions in args.sessions:
        for with_milter in (False, True):
            r = run(with_milter, messages, sessions)
            line = (
                f"sessions={sessions} milter={'yes' if with_milter else 'no '} "
                f"{r['rate']:7.1f} msg/s   SMTP per message p50 {r['smtp_p50']:6.2f} ms "
                f"p99 {r['smtp_p99']:6.2f} ms"
            )
            if with_milter:
                line += f"   milter eom p50 {r['milter_p50']:.2f} ms p99 {r['milter_p99']:.2f} ms"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
