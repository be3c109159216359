"""Evidence that needs no model at SMTP time: RCPT-time refusals in the milter's core, then
the milter inside a real Postfix (private instance on loopback), seen as smtplib sees it."""

from __future__ import annotations

import email
import shutil
import smtplib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backscatter import Detector, SentLog
from backscatter.features import OurInfrastructure
from backscatter.features.patterns import AddressPatterns
from backscatter.filters.policy import MilterPolicy, load_policy
from backscatter.filters.session import MessageSession, MilterCore
from tests.conftest import DATA
from tests.filters import postfix_instance as lab

BOUNCE_TO_ALICE = (DATA / "nomodel" / "postfix_to_alice.eml").read_bytes()
BOUNCE_TO_WEBMASTER = (DATA / "nomodel" / "postfix_to_webmaster.eml").read_bytes()
NEVER_SEND = '["webmaster@*", "hostmaster@*", "noc@*", "noreply@*", "*-donotreply@*"]'
OURS = f'our_domains = ["ours.example"]\nnever_send = {NEVER_SEND}\n'


def rules_of(message: email.message.Message) -> list[str]:
    """The rule names in X-Backscatter-Status (the header may be folded anywhere)."""
    status = " ".join(str(message["X-Backscatter-Status"]).split())
    return status.partition(" tests=")[2].split()[0].split(",")


def session_for(policy: MilterPolicy, sender: str = "") -> MessageSession:
    """A session without a scoring pool: RCPT checks need the detector's config only."""
    core = MilterCore.__new__(MilterCore)  # no worker processes: nothing is scored here
    core.policy = policy
    core.detector = Detector.__new__(Detector)
    core.detector.config = OurInfrastructure(never_send=AddressPatterns.of(["webmaster@*"]))
    session = MessageSession(core, "198.51.100.7", "mx")
    session.begin(sender, authenticated=False)
    return session


def rcpt(session: MessageSession, recipient: str) -> tuple[str, str, str] | None:
    """What the milter does per RCPT: refuse, or add the recipient."""
    refusal = session.recipient_refusal(recipient)
    if refusal is None:
        session.add_recipient(recipient)
    return refusal


def test_rcpt_checks_are_off_by_default():
    session = session_for(MilterPolicy())
    assert rcpt(session, "<webmaster@ours.example>") is None
    assert rcpt(session, "<bob@ours.example>") is None


def test_a_never_send_recipient_of_a_null_sender_is_refused_with_550():
    session = session_for(MilterPolicy(reject_never_send_rcpt=True))
    assert rcpt(session, "<WebMaster@ours.example>")[:2] == ("550", "5.7.1")
    assert rcpt(session, "<alice@ours.example>") is None
    assert session.recipients == ["alice@ours.example"]


def test_a_real_sender_may_write_to_webmaster():
    session = session_for(MilterPolicy(reject_never_send_rcpt=True), "carol@remote.example")
    assert rcpt(session, "<webmaster@ours.example>") is None


def test_the_second_recipient_of_a_null_sender_gets_452():
    session = session_for(MilterPolicy(reject_null_sender_multi_rcpt=True))
    assert rcpt(session, "<alice@ours.example>") is None
    assert rcpt(session, "<alice@ours.example>") is None  # the same address again: harmless
    assert rcpt(session, "<bob@ours.example>")[:2] == ("452", "4.5.3")
    assert session.recipients == ["alice@ours.example", "alice@ours.example"]
    other = session_for(MilterPolicy(reject_null_sender_multi_rcpt=True), "carol@remote.example")
    assert rcpt(other, "<alice@ours.example>") is None
    assert rcpt(other, "<bob@ours.example>") is None


def test_the_policy_options_are_read_from_the_milter_table(tmp_path):
    path = tmp_path / "ours.toml"
    path.write_text("[milter]\nreject_never_send_rcpt = true\n")
    policy = load_policy(path)
    assert policy.reject_never_send_rcpt and not policy.reject_null_sender_multi_rcpt
    assert policy.checks_recipients and not MilterPolicy().checks_recipients


postfix = pytest.mark.skipif(lab.available() is not None, reason=str(lab.available()))


class Lab:
    """A private Postfix whose smtpd_milters is ``backscatter milter`` with our config."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sock = root / "milter.sock"
        self.milter_log = root / "milter.log"
        self.postfix = lab.PostfixInstance(root / "postfix", f"unix:{self.sock}")
        self.process = None

    def milter(self, milter_table: str = "") -> None:
        if self.process is not None:
            lab.stop_milter(self.process)
        config = self.root / "ours.toml"
        config.write_text(OURS + milter_table)
        self.process = lab.start_milter(
            self.sock, "--config", str(config), "--sent-log", str(self.root / "sent.db"),
            log=self.milter_log,
        )  # fmt: skip

    def transaction(self, recipients: list[str], data: bytes) -> list[tuple[int, bytes]]:
        """MAIL FROM:<>, each RCPT, DATA when one was taken: the replies, in order."""
        with smtplib.SMTP("127.0.0.1", self.postfix.inbound_port, timeout=30) as smtp:
            smtp.ehlo("mx.remote.example")
            replies = [smtp.mail("")]
            replies += [smtp.rcpt(r) for r in recipients]
            if any(code == 250 for code, _ in replies[1:]):
                replies.append(smtp.data(data))
            return replies

    def delivered_after(self, before: int, count: int) -> list[email.message.Message]:
        messages = self.postfix.wait_for(before + count)[before:]
        return [email.message_from_bytes(m) for m in messages]


@pytest.fixture(scope="module")
def mx() -> Iterator[Lab]:
    root = Path(tempfile.mkdtemp(prefix="backscatter-nomodel-"))
    root.chmod(0o755)  # Postfix's own users need a way in (not pytest's private tmp_path)
    setup = Lab(root)
    SentLog(root / "sent.db").close()
    setup.milter()
    setup.postfix.start()
    yield setup
    setup.postfix.stop()
    if setup.process is not None:
        lab.stop_milter(setup.process)
    shutil.rmtree(root, ignore_errors=True)


@postfix
def test_a_bounce_to_a_never_send_address_is_tagged_spoofed_with_the_reason(mx: Lab):
    mx.milter()
    before = len(mx.postfix.delivered())
    replies = mx.transaction(["webmaster@ours.example"], BOUNCE_TO_WEBMASTER)
    assert [code for code, _ in replies] == [250, 250, 250]
    [delivered] = mx.delivered_after(before, 1)
    assert delivered["X-Backscatter-Verdict"] == "spoofed"
    assert delivered["X-Backscatter-Status"].startswith("Yes, score=1.00 ")
    assert rules_of(delivered) == ["NEVER_SEND_RCPT"]
    assert "which never sends mail (never_send: webmaster@*)" in " ".join(
        delivered["X-Backscatter-Evidence"].split()
    )


@postfix
def test_a_never_send_recipient_is_refused_at_rcpt_when_configured(mx: Lab):
    mx.milter("[milter]\nreject_never_send_rcpt = true\n")
    before = len(mx.postfix.delivered())
    replies = mx.transaction(["webmaster@ours.example", "alice@ours.example"], BOUNCE_TO_ALICE)
    mail, webmaster, alice, data = replies
    assert webmaster == (550, b"5.7.1 Bounce rejected: this address never sends mail")
    assert (mail[0], alice[0], data[0]) == (250, 250, 250)
    [delivered] = mx.delivered_after(before, 1)  # for alice only, scored as usual
    assert "NEVER_SEND_RCPT" not in rules_of(delivered)
    assert "milter-reject: RCPT from" in mx.postfix.log()
    # Refused before DATA: a transaction with no other recipient never sends its content.
    assert [code for code, _ in mx.transaction(["noc@ours.example"], BOUNCE_TO_ALICE)] == [
        250,
        550,
    ]


@postfix
def test_a_null_sender_with_two_recipients_is_tagged_spoofed(mx: Lab):
    mx.milter()
    before = len(mx.postfix.delivered())
    replies = mx.transaction(["alice@ours.example", "bob@ours.example"], BOUNCE_TO_ALICE)
    assert [code for code, _ in replies] == [250, 250, 250, 250]
    delivered = mx.delivered_after(before, 2)  # one copy per recipient, same Maildir
    for message in delivered:
        assert message["X-Backscatter-Verdict"] == "spoofed"
        assert rules_of(message) == ["NULL_SENDER_MULTI_RCPT"]


@postfix
def test_a_null_sender_with_two_recipients_is_rejected_when_spoofed_is(mx: Lab):
    mx.milter('[milter.actions]\nspoofed = "reject"\n')
    replies = mx.transaction(["alice@ours.example", "bob@ours.example"], BOUNCE_TO_ALICE)
    assert replies[-1][0] == 550
    assert replies[-1][1].startswith(b"5.7.1")


@postfix
def test_the_second_recipient_of_a_null_sender_is_deferred_at_rcpt_when_configured(mx: Lab):
    mx.milter("[milter]\nreject_null_sender_multi_rcpt = true\n")
    before = len(mx.postfix.delivered())
    replies = mx.transaction(["alice@ours.example", "bob@ours.example"], BOUNCE_TO_ALICE)
    assert replies[2] == (452, b"4.5.3 Too many recipients for a bounce, one per transaction")
    assert replies[-1][0] == 250
    [delivered] = mx.delivered_after(before, 1)  # alice's copy, scored on its own merits
    assert "NULL_SENDER_MULTI_RCPT" not in rules_of(delivered)
