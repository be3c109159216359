#!/usr/bin/env python3
"""The milter DoS scenario (issue 12): hostile messages first, then ordinary bounces.

    sudo python scripts/milter_dos.py [--hostile 8] [--ordinary 20] [--parallel] [--probe]

Starts a private Postfix on loopback (tests/filters/postfix_instance.py; root needed, the
system's /etc/postfix is not touched) and a real ``backscatter milter`` on a unix socket.
Sends ``--hostile`` messages built to cost the most to read (cycling through the kinds
below), each in its own SMTP session, then ``--ordinary`` bounces from tests/data/formats
(those the Detector itself calls a bounce, so each should be tagged). Reports, per message,
the SMTP transaction time, and how many ordinary bounces were delivered with an
``X-Backscatter-`` header: with scoring switched off by the hostile ones they arrive
untagged. It only counts ``X-Backscatter-`` headers, so it reads any version of the milter.
``--parallel`` sends the hostile messages at once, each in its own session, so that their
scoring overlaps and whatever the milter abandons at its budget piles up, if it does.

``--probe`` times ``Detector.score`` on one message of each kind in this process, to see
which is slowest on the current code (the scenario wants the slowest).

The hostile kinds (all built here, addresses in example domains):

- ``addresses``: a bounce whose report line names 10,000 addresses (quadratic before #3);
- ``mime``: a multipart/report with 50,000 parts;
- ``headers``: 100,000 header fields (the per-field callbacks are outside any budget);
- ``html``: a fake NDR whose HTML body is 2.8 MB of words.
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.filters import postfix_instance as lab  # noqa: E402

FORMATS = ROOT / "tests" / "data" / "formats"
BOUNCE_HEAD = (
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
    "To: alice@ours.example\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
)


def addresses(serial: int, count: int = 10_000) -> bytes:
    line = ", ".join(f'"user {i}" <u{i}@example.org>' for i in range(count))
    return (
        f"{BOUNCE_HEAD}Message-ID: <dos-addr-{serial}@mx.example.net>\r\n\r\n"
        "This is the mail system at host mx.example.net.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        f"{line}\r\n"
    ).encode()


def mime(serial: int, parts: int = 50_000) -> bytes:
    boundary = "dos-boundary"
    part = (
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        "Delivery to the following recipient failed permanently: u@example.org\r\n"
    )
    return (
        f"{BOUNCE_HEAD}Message-ID: <dos-mime-{serial}@mx.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"'
        f"\r\n\r\n{part * parts}--{boundary}--\r\n"
    ).encode()


def headers(serial: int, fields: int = 100_000) -> bytes:
    filler = "".join(f"X-Filler-{i}: value {i}\r\n" for i in range(fields))
    return (
        f"{BOUNCE_HEAD}Message-ID: <dos-hdr-{serial}@mx.example.net>\r\n{filler}\r\n"
        "This is the mail system at host mx.example.net.\r\n"
    ).encode()


def html(serial: int) -> bytes:
    fake = (FORMATS / "fake_ndr_html_quarantine.eml").read_bytes()
    fake = fake.replace(b"</body>", b"<p>" + b"padding words here " * 150_000 + b"</p></body>")
    return fake.replace(b"Message-ID: <", b"Message-ID: <dos-html-%d-" % serial, 1)


KINDS: dict[str, Callable[[int], bytes]] = {
    "addresses": addresses,
    "mime": mime,
    "headers": headers,
    "html": html,
}


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def ordinary_bounces(count: int) -> list[bytes]:
    """Fixtures the Detector calls a bounce (genuine or spoofed): each should arrive tagged."""
    from backscatter import Detector

    detector = Detector.load()
    chosen = []
    for path in sorted(FORMATS.glob("*.eml")):
        data = path.read_bytes()
        if detector.score(data, path.name).verdict != "not_bounce":
            chosen.append(crlf(data))
        if len(chosen) == count:
            break
    return chosen


def probe() -> None:
    from backscatter import Detector

    detector = Detector.load()
    for name, build in KINDS.items():
        data = build(0)
        started = time.perf_counter()
        verdict = detector.score(data, name)
        took = time.perf_counter() - started
        print(f"{name:10} {len(data) / 1e6:5.1f} MB  score {took:6.2f} s  {verdict.verdict}")


def send(port: int, data: bytes, sender: str) -> tuple[float, str]:
    """One SMTP session; returns (seconds, outcome)."""
    started = time.perf_counter()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=300) as smtp:
            smtp.sendmail(sender, ["alice@ours.example"], data)
        outcome = "250"
    except smtplib.SMTPResponseException as exc:
        outcome = str(exc.smtp_code)
    return time.perf_counter() - started, outcome


def send_hostile(port: int, count: int, kinds: list[str], parallel: bool) -> None:
    def one(i: int) -> None:
        kind = kinds[i % len(kinds)]
        data = crlf(KINDS[kind](i))
        took, outcome = send(port, data, "mailer-daemon@mx.example.net")
        size = len(data) / 1e6
        print(f"  hostile {i + 1} {kind:10} {size:5.1f} MB  {outcome}  {took:6.2f} s", flush=True)

    if not parallel:
        for i in range(count):
            one(i)
        return
    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def scenario(hostile: int, ordinary: int, kinds: list[str], parallel: bool) -> int:
    bounces = ordinary_bounces(ordinary)
    root = Path(tempfile.mkdtemp(prefix="backscatter-dos-"))
    root.chmod(0o755)
    sock, log = root / "milter.sock", root / "milter.log"
    process = lab.start_milter(sock, log=log)
    postfix = lab.PostfixInstance(root / "postfix", f"unix:{sock}")
    postfix.start()
    try:
        print(f"{hostile} hostile messages ({', '.join(kinds)}), then {len(bounces)} bounces")
        send_hostile(postfix.inbound_port, hostile, kinds, parallel)
        before = len(postfix.delivered())
        times = []
        for data in bounces:
            took, _ = send(postfix.inbound_port, data, "")
            times.append(took)
        delivered = postfix.wait_for(before + len(bounces), timeout=300)[before:]
        tagged = sum(b"\nX-Backscatter-" in b"\n" + raw.split(b"\n\n", 1)[0] for raw in delivered)
        print(
            f"ordinary bounces tagged: {tagged} of {len(bounces)} "
            f"(delivered {len(delivered)}); SMTP per message median "
            f"{statistics.median(times):.3f} s, max {max(times):.3f} s"
        )
    finally:
        postfix.stop()
        lab.stop_milter(process)
        print("milter log (last lines):")
        print("\n".join(log.read_text(errors="replace").splitlines()[-6:]))
        shutil.rmtree(root, ignore_errors=True)
    return 0 if tagged == len(bounces) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hostile", type=int, default=8, help="hostile messages first")
    parser.add_argument("--ordinary", type=int, default=20, help="ordinary bounces after")
    parser.add_argument(
        "--kinds", nargs="+", choices=sorted(KINDS), default=list(KINDS), help="hostile kinds"
    )
    parser.add_argument("--parallel", action="store_true", help="hostile messages all at once")
    parser.add_argument("--probe", action="store_true", help="time Detector.score per kind")
    args = parser.parse_args()
    if args.probe:
        probe()
        return 0
    reason = lab.available()
    if reason:
        print(f"milter_dos: {reason}", file=sys.stderr)
        return 2
    return scenario(args.hostile, args.ordinary, args.kinds, args.parallel)


if __name__ == "__main__":
    sys.exit(main())
