"""The milter inside a real Postfix (private instance on loopback), delivering to a Maildir."""

from __future__ import annotations

import email
import os
import shutil
import signal
import smtplib
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import pytest

from backscatter import SentLog
from backscatter.sentlog import SentRecipient
from tests.conftest import DATA
from tests.filters import postfix_instance as lab

pytestmark = pytest.mark.skipif(lab.available() is not None, reason=str(lab.available()))
pytest.importorskip("Milter", reason="pymilter is not installed (needs libmilter-dev)")

FAKE_NDR = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes()
GENUINE = (DATA / "formats" / "postfix_dsn_user_unknown.eml").read_bytes()
ORDINARY = (
    b"From: Bob <bob@elsewhere.example>\r\nTo: alice@ours.example\r\nSubject: lunch\r\n"
    b"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <lunch-1@elsewhere.example>\r\n"
    b"\r\nShall we meet at noon?\r\n"
)


class Lab:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sock = root / "milter.sock"
        self.sent_log = root / "sent.db"
        self.milter_log = root / "milter.log"
        self.postfix = lab.PostfixInstance(root / "postfix", f"unix:{self.sock}")
        self.process = None

    def milter(self, *options: str) -> None:
        """(Re)start the milter with these options (Postfix reconnects per SMTP session)."""
        if self.process is not None:
            lab.stop_milter(self.process)
        self.process = lab.start_milter(
            self.sock, "--sent-log", str(self.sent_log), *options, log=self.milter_log
        )

    def config(self, text: str) -> str:
        path = self.root / f"config-{time.monotonic_ns()}.toml"
        path.write_text(text)
        return str(path)

    def send(self, data: bytes, sender: str = "", port: int | None = None) -> None:
        with smtplib.SMTP("127.0.0.1", port or self.postfix.inbound_port, timeout=30) as smtp:
            smtp.sendmail(sender, ["alice@ours.example"], data)

    def bounce_of_outgoing(self, data: bytes) -> Message:
        """Send as alice through the submission listener to a refused remote user; the
        stand-in for the Internet refuses it and Postfix bounces it back to alice."""
        before = len(self.postfix.delivered())
        with smtplib.SMTP("127.0.0.1", self.postfix.submission_port, timeout=30) as smtp:
            smtp.sendmail("alice@ours.example", [lab.REMOTE_UNKNOWN], data)
        return email.message_from_bytes(self.postfix.wait_for(before + 1)[before])

    def deliver(self, data: bytes, sender: str = "", port: int | None = None) -> Message:
        """Send one message and return it as delivered to the Maildir."""
        before = len(self.postfix.delivered())
        self.send(data, sender, port)
        return email.message_from_bytes(self.postfix.wait_for(before + 1)[before])


@pytest.fixture(scope="module")
def mx() -> Iterator[Lab]:
    # Not pytest's tmp_path: that is private to root, and Postfix's own users need a way in.
    root = Path(tempfile.mkdtemp(prefix="backscatter-mx-"))
    root.chmod(0o755)
    setup = Lab(root)
    SentLog(setup.sent_log).close()  # the schema, before the milter opens it read-only
    setup.milter()
    setup.postfix.start()
    yield setup
    setup.postfix.stop()
    if setup.process is not None:
        lab.stop_milter(setup.process)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def default_milter(mx: Lab) -> Iterator[Lab]:
    yield mx
    mx.milter()  # tests that reconfigure it leave the default behind


def test_a_fake_ndr_arrives_tagged_spoofed(mx: Lab) -> None:
    delivered = mx.deliver(FAKE_NDR, "support@login-portal.example")
    assert delivered["X-Backscatter-Verdict"] == "spoofed"
    assert delivered["X-Backscatter-Status"].startswith("Yes, score=")
    assert "LINK_WITH_LURE" in delivered["X-Backscatter-Status"]
    assert "release" in delivered["X-Backscatter-Evidence"]


def test_a_genuine_bounce_of_mail_in_the_sent_log_arrives_tagged_genuine(mx: Lab) -> None:
    with SentLog(mx.sent_log) as log:
        sent = datetime(2025, 3, 3, 9, 15, tzinfo=UTC)
        log.add([SentRecipient("quarterly-2025-03@sender.example", sent, "alice@sender.example",
                               "nobody@receiver.example")])  # fmt: skip
    delivered = mx.deliver(GENUINE)
    assert delivered["X-Backscatter-Verdict"] == "genuine"
    assert delivered["X-Backscatter-Status"].startswith("No, score=0.0")
    assert "SENTLOG_MATCH" in delivered["X-Backscatter-Status"]
    assert "quarterly-2025-03@sender.example" in delivered["X-Backscatter-Evidence"]


def test_ordinary_mail_passes_untouched(mx: Lab) -> None:
    before = len(mx.postfix.delivered())
    mx.send(ORDINARY, "bob@elsewhere.example")
    raw = mx.postfix.wait_for(before + 1)[before]
    assert b"X-Backscatter" not in raw
    # Postfix prepends its trace headers; everything from the sender follows byte for byte.
    assert raw.endswith(ORDINARY.replace(b"\r\n", b"\n"))


def test_forged_verdict_headers_from_outside_are_removed(mx: Lab) -> None:
    forged = (
        b"X-Backscatter-Verdict: genuine\r\nX-Backscatter-Status: No, score=0.00\r\n" + FAKE_NDR
    )
    delivered = mx.deliver(forged, "support@login-portal.example")
    assert delivered.get_all("X-Backscatter-Verdict") == ["spoofed"]
    assert [s[:4] for s in delivered.get_all("X-Backscatter-Status")] == ["Yes,"]
    ordinary = mx.deliver(b"x-backscatter-verdict: genuine\r\n" + ORDINARY, "bob@elsewhere.example")
    assert ordinary["X-Backscatter-Verdict"] is None


def test_outbound_mail_is_recorded_and_its_real_bounce_recognised(mx: Lab) -> None:
    outgoing = (
        b"From: Alice <alice@ours.example>\r\nTo: nobody@remote.example\r\nSubject: report\r\n"
        b"Message-ID: <report-77@ours.example>\r\n\r\nThe report.\r\n"
    )
    bounce = mx.bounce_of_outgoing(outgoing)
    with sqlite3.connect(mx.sent_log) as db:
        rows = db.execute(
            "SELECT sender, recipient FROM sent WHERE message_id = 'report-77@ours.example'"
        ).fetchall()
    assert rows == [("alice@ours.example", "nobody@remote.example")]
    assert "MAILER-DAEMON@" in bounce["From"]
    assert bounce["X-Backscatter-Verdict"] == "genuine"
    assert "report-77@ours.example" in bounce["X-Backscatter-Evidence"]


def test_a_fake_ndr_is_rejected_with_550_when_configured(default_milter: Lab) -> None:
    mx = default_milter
    mx.milter("--spoofed-action", "reject")
    before = len(mx.postfix.delivered())
    with pytest.raises(smtplib.SMTPDataError) as refused:
        mx.send(FAKE_NDR, "support@login-portal.example")
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.7.1")
    assert mx.deliver(GENUINE)["X-Backscatter-Verdict"] == "genuine"  # still let in
    assert len(mx.postfix.delivered()) == before + 1


def test_quarantine_puts_a_fake_ndr_on_hold(default_milter: Lab) -> None:
    mx = default_milter
    mx.milter("--config", mx.config('[milter.actions]\nspoofed = "quarantine"\n'))
    hold = mx.postfix.root / "queue" / "hold"
    held_before = len(list(hold.iterdir())) if hold.is_dir() else 0
    mx.send(FAKE_NDR, "support@login-portal.example")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(list(hold.iterdir())) == held_before:
        time.sleep(0.05)
    assert len(list(hold.iterdir())) == held_before + 1


def test_discard_accepts_a_fake_ndr_and_drops_it(default_milter: Lab) -> None:
    mx = default_milter
    mx.milter("--spoofed-action", "discard")
    before = len(mx.postfix.delivered())
    mx.send(FAKE_NDR, "support@login-portal.example")  # 250: the sender sees no failure
    following = mx.deliver(ORDINARY, "bob@elsewhere.example")
    assert following["Message-ID"] == "<lunch-1@elsewhere.example>"
    assert len(mx.postfix.delivered()) == before + 1


def test_a_budget_overrun_tempfails_when_configured(default_milter: Lab) -> None:
    mx = default_milter
    # ~2.8 MB of report text takes well over 10 ms to read, against a 1 ms budget.
    slow = FAKE_NDR.replace(b"</body>", b"<p>" + b"padding words here " * 150000 + b"</p></body>")
    mx.milter("--config", mx.config('[milter]\ntime_budget_ms = 1\non_error = "tempfail"\n'))
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        mx.send(slow, "support@login-portal.example")
    assert deferred.value.smtp_code == 451
    assert "unscored=budget" in mx.milter_log.read_text()
    # accept (the default): let it in, visibly unscored, so that a site can act on it
    mx.milter("--config", mx.config("[milter]\ntime_budget_ms = 1\n"))
    delivered = mx.deliver(slow, "support@login-portal.example")
    assert delivered["X-Backscatter-Verdict"] == "unscored"
    assert "unscored=budget" in delivered["X-Backscatter-Status"]
    assert "tests=BOUNCE_UNSCORED" in delivered["X-Backscatter-Status"]


def test_the_milter_dying_mid_message_loses_nothing(default_milter: Lab) -> None:
    mx = default_milter
    before = len(mx.postfix.delivered())
    smtp = smtplib.SMTP("127.0.0.1", mx.postfix.inbound_port, timeout=30)
    smtp.ehlo()
    smtp.mail("")
    smtp.rcpt("alice@ours.example")
    smtp.putcmd("data")
    assert smtp.getreply()[0] == 354
    head, body = FAKE_NDR.split(b"\n\n", 1)
    smtp.send(head.replace(b"\n", b"\r\n") + b"\r\n\r\n")
    time.sleep(0.3)  # the headers reach the milter
    assert mx.process is not None
    os.kill(mx.process.pid, signal.SIGKILL)
    mx.process.wait()
    smtp.send(body.replace(b"\n", b"\r\n") + b"\r\n.\r\n")
    assert smtp.getreply()[0] == 250  # milter_default_action = accept
    smtp.quit()
    delivered = email.message_from_bytes(mx.postfix.wait_for(before + 1)[before])
    assert delivered["Message-ID"] == "<q-0520@login-portal.example>"
    mx.milter()  # it comes back cleanly on the same socket
    assert mx.deliver(FAKE_NDR, "support@login-portal.example")["X-Backscatter-Verdict"] == (
        "spoofed"
    )


def test_batv_signed_mail_comes_back_to_the_plain_address(default_milter: Lab) -> None:
    mx = default_milter
    mx.milter(
        "--config", mx.config('[batv_secrets]\n0 = "lab secret"\n[milter]\nbatv_sign = true\n')
    )
    outgoing = (
        b"From: alice@ours.example\r\nTo: nobody@remote.example\r\nSubject: tagged\r\n"
        b"Message-ID: <tagged-5@ours.example>\r\n\r\nHello.\r\n"
    )
    bounce = mx.bounce_of_outgoing(outgoing)
    assert bounce["To"].startswith("prvs=0")  # the envelope sender went out signed
    assert bounce["To"].endswith("=alice@ours.example")
    assert bounce["Delivered-To"] == "alice@ours.example"  # and came back to alice
    assert bounce["X-Backscatter-Verdict"] == "genuine"
