"""One message through the milter's protocol-free core, with hostile content."""

from __future__ import annotations

import pytest

from backscatter import Detector
from backscatter.features import OurInfrastructure
from backscatter.filters.outbound import OutboundRecorder
from backscatter.filters.policy import MilterPolicy
from backscatter.filters.session import MessageSession, MilterCore
from tests.conftest import DATA


@pytest.fixture(scope="module")
def core():
    milter = MilterCore(
        Detector.load(),
        MilterPolicy(max_message_kb=64),
        OutboundRecorder(None, OurInfrastructure()),
    )
    yield milter
    milter.close()


def feed(core: MilterCore, raw: bytes, sender: str = "") -> MessageSession:
    session = MessageSession(core, "192.0.2.1", "mx")
    session.begin(sender, authenticated=False)
    session.add_recipient("<alice@ours.example>")
    head, _, body = raw.partition(b"\n\n")
    for line in head.split(b"\n"):
        name, _, value = line.partition(b":")
        session.add_header(name.decode("latin-1"), value.strip())
    session.end_headers()
    for start in range(0, len(body), 65536):
        session.add_body(body[start : start + 65536])
    return session


def test_content_beyond_the_cap_is_not_kept(core):
    raw = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes() + b"A" * 5_000_000
    session = feed(core, raw)
    assert session.size == 64 * 1024
    decision = session.finish()
    assert decision.verdict is not None and decision.verdict.verdict == "spoofed"


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: \xff\xfe\x00 broken\nContent-Type: multipart/report; boundary=\n\n--\n\xff",
        b"From: MAILER-DAEMON\n" + b"X-Junk: " + b"x" * 200_000 + b"\n\nbody",
        b"\n\n",
        b"Content-Type: multipart/mixed; boundary=a\n\n"
        + b"--a\nContent-Type: multipart/mixed; boundary=a\n\n" * 2000,
    ],
)
def test_hostile_mail_gets_a_decision_not_an_exception(core, raw):
    decision = feed(core, raw).finish()
    assert decision.action in ("accept", "tag")


def test_forged_headers_are_listed_for_removal_with_their_index(core):
    raw = b"X-Backscatter-Verdict: genuine\nSubject: hi\nx-backscatter-verdict: genuine\n\nhello"
    decision = feed(core, raw).finish()
    assert decision.remove_headers == [("X-Backscatter-Verdict", 1), ("x-backscatter-verdict", 2)]
