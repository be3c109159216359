"""Evidence that needs no model: receive-only addresses, impossible envelopes, our own
bounces returned. Through the public Detector and the ``score`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backscatter import Detector
from backscatter.detector import Envelope
from backscatter.errors import BackscatterError
from backscatter.features import load_config
from backscatter.features.patterns import AddressPatterns
from tests.conftest import DATA
from tests.test_cli import run

FIXTURES = DATA / "nomodel"
NEVER_SEND = '["webmaster@*", "hostmaster@*", "noc@*", "noreply@*", "*-donotreply@*"]'
CONFIG = f"""
our_domains = ["ours.example"]
relay_hosts = ["mx.ours.example"]
never_send = {NEVER_SEND}
"""


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def detector_with(tmp_path: Path, text: str = CONFIG) -> Detector:
    path = tmp_path / "ours.toml"
    path.write_text(text)
    return Detector.load(config=path)


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    return detector_with(tmp_path_factory.mktemp("config"))


def test_a_bounce_to_a_never_send_address_by_its_delivery_header_is_spoofed(detector):
    verdict = detector.score(fixture("postfix_to_webmaster.eml"))
    assert verdict.verdict == "spoofed"
    assert verdict.spoofed_probability == 1.0
    assert verdict.rules == ("NEVER_SEND_RCPT",)
    assert verdict.evidence == (
        "sent to webmaster@ours.example, which never sends mail (never_send: webmaster@*)",
    )


def test_the_same_bounce_to_a_person_is_left_to_the_model(detector):
    verdict = detector.score(fixture("postfix_to_alice.eml"))
    assert verdict.verdict == "genuine"
    assert "NEVER_SEND_RCPT" not in verdict.rules


def test_the_envelope_recipient_speaks_before_the_headers(detector):
    """At SMTP time the bounce's headers name alice, but the envelope says webmaster."""
    envelope = Envelope("", ("webmaster@ours.example",))
    verdict = detector.score(fixture("postfix_to_alice.eml"), envelope=envelope)
    assert verdict.verdict == "spoofed"
    assert verdict.rules == ("NEVER_SEND_RCPT",)
    assert "webmaster@ours.example" in verdict.evidence[0]


def test_any_envelope_recipient_on_the_list_counts(detector):
    envelope = Envelope("someone@remote.example", ("alice@ours.example", "NOC@Ours.Example"))
    verdict = detector.score(fixture("postfix_to_alice.eml"), envelope=envelope)
    assert verdict.rules == ("NEVER_SEND_RCPT",)
    assert "never_send: noc@*" in verdict.evidence[0]


def test_mail_that_is_no_bounce_to_a_never_send_address_stays_not_bounce(detector):
    verdict = detector.score(fixture("letter_to_webmaster.eml"))
    assert verdict.verdict == "not_bounce"
    assert verdict.rules == ()


def test_without_never_send_configured_nothing_changes(tmp_path):
    plain = detector_with(tmp_path, 'our_domains = ["ours.example"]\n')
    verdict = plain.score(fixture("postfix_to_webmaster.eml"))
    assert "NEVER_SEND_RCPT" not in verdict.rules
    assert verdict.spoofed_probability < 1.0


def test_null_sender_with_two_recipients_is_spoofed(detector):
    envelope = Envelope("", ("alice@ours.example", "bob@ours.example"))
    verdict = detector.score(fixture("postfix_to_alice.eml"), envelope=envelope)
    assert verdict.verdict == "spoofed"
    assert verdict.spoofed_probability == 1.0
    assert verdict.rules == ("NULL_SENDER_MULTI_RCPT",)
    assert verdict.evidence == (
        "sent with a null envelope sender to 2 recipients (alice@ours.example, "
        "bob@ours.example): a bounce goes back to the one sender of the message it returns",
    )


@pytest.mark.parametrize(
    "envelope",
    [
        Envelope("", ("alice@ours.example",)),
        Envelope("", ("alice@ours.example", "Alice@ours.example")),  # one address, twice
        Envelope("carol@remote.example", ("alice@ours.example", "bob@ours.example")),
        Envelope(None, ("alice@ours.example", "bob@ours.example")),  # sender unknown
    ],
)
def test_one_recipient_or_a_real_sender_is_no_impossible_envelope(detector, envelope):
    verdict = detector.score(fixture("postfix_to_alice.eml"), envelope=envelope)
    assert "NULL_SENDER_MULTI_RCPT" not in verdict.rules


def test_several_recipients_in_headers_are_not_an_envelope(detector):
    """Only a known envelope shows the impossible one: a To header listing two is no sign."""
    data = fixture("postfix_to_alice.eml").replace(
        b"To: alice@ours.example\n", b"To: alice@ours.example, bob@ours.example\n", 1
    )
    assert "NULL_SENDER_MULTI_RCPT" not in detector.score(data).rules


@pytest.mark.parametrize(
    ("address", "pattern"),
    [
        ("webmaster@ours.example", "webmaster@*"),
        ("WebMaster@OURS.example", "webmaster@*"),
        ("<hostmaster@sub.ours.example>", "hostmaster@*"),
        ("billing-donotreply@ours.example", "*-donotreply@*"),
        ("noreply@ours.example", "noreply@*"),
        ("x@mx1.ours.example", "x@mx?.ours.example"),
        ("alice@ours.example", None),
        ("webmaster.alice@ours.example", None),  # the whole address, not a prefix
        ("donotreply@ours.example", None),  # "*-donotreply" needs the hyphen
        ("noreply@ours.example.evil", "noreply@*"),
        ("", None),
    ],
)
def test_patterns_match_the_whole_address_case_insensitively(address, pattern):
    patterns = AddressPatterns.of(
        ["webmaster@*", "hostmaster@*", "noreply@*", "*-donotreply@*", "x@mx?.ours.example"]
    )
    assert patterns.match(address) == pattern


def test_a_hostile_address_cannot_make_a_pattern_backtrack():
    patterns = AddressPatterns.of(["*a*a*a*a*a*a*a*b@*"])
    assert patterns.match("a" * 400 + "@x.example") is None


def test_never_send_must_be_a_list_of_strings(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('never_send = "webmaster@*"\n')
    with pytest.raises(BackscatterError, match="never_send"):
        load_config(path)


def test_our_signed_bounce_returned_is_genuine_evidence(detector):
    """The returned original is a bounce our MTA wrote and DKIM-signed (d= under ours)."""
    verdict = detector.score(fixture("returned_our_bounce.eml"))
    assert verdict.verdict == "genuine"
    assert "OUR_DKIM_SIGNATURE" in verdict.rules
    sentence = "the original is a bounce our mail system sent, with our DKIM signature"
    assert sentence in verdict.evidence


def test_a_signing_domain_outside_our_domains_is_configured_with_dkim_domains(tmp_path):
    data = fixture("returned_our_bounce.eml").replace(
        b"d=bounces.ours.example", b"d=signer.example"
    )
    assert "OUR_DKIM_SIGNATURE" not in detector_with(tmp_path, CONFIG).score(data).rules
    signing = detector_with(tmp_path, CONFIG + 'dkim_domains = ["signer.example"]\n')
    assert "OUR_DKIM_SIGNATURE" in signing.score(data).rules


def test_score_command_with_a_never_send_config(tmp_path):
    config = tmp_path / "ours.toml"
    config.write_text(CONFIG)
    result = run(
        "score", "--format", "jsonl", "--config", str(config),
        str(FIXTURES / "postfix_to_webmaster.eml"), str(FIXTURES / "letter_to_webmaster.eml"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["verdict"] for r in records] == ["spoofed", "not_bounce"]
    assert records[0]["rules"] == ["NEVER_SEND_RCPT"]
    assert records[0]["spoofed_probability"] == 1.0
    assert records[0]["evidence"] == [
        "sent to webmaster@ours.example, which never sends mail (never_send: webmaster@*)"
    ]
