"""The X-Backscatter-* header block: SpamAssassin-style Status with the rules that fired,
folded per RFC 5322, for real verdicts of fixture messages (issue 10, "Headers")."""

from __future__ import annotations

import email
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from backscatter import Detector, __version__
from backscatter.detector import SPOOFED, UNKNOWN
from backscatter.filters.headers import (
    EVIDENCE,
    STATUS,
    VERDICT,
    unscored_headers,
    verdict_headers,
)
from backscatter.model.persist import load, shipped_model_path
from backscatter.sentlog import SentRecipient
from tests.conftest import DATA
from tests.test_sentlog_evidence import BOUNCE_AT, backscatter_of, unrelated

FAKE_NDR = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes()
LURE_LINK = (DATA / "formats" / "fake_ndr_plain_release_link.eml").read_bytes()
GENUINE = (DATA / "formats" / "postfix_dsn_user_unknown.eml").read_bytes()


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load()


def block(headers: list[tuple[str, str]]) -> str:
    """The header lines as the pipe filter writes them (LF message)."""
    return "".join(f"{name}: {value}\n" for name, value in headers)


def unfold(value: str) -> str:
    """RFC 5322 2.2.3 unfolding (drop the line break before white space), then white space
    runs read as one space, as readers of unstructured fields do."""
    return " ".join(re.sub(r"\r?\n(?=[ \t])", "", value).split())


def status_fields(headers: list[tuple[str, str]]) -> dict[str, str]:
    _answer, rest = unfold(dict(headers)[STATUS]).split(" ", 1)
    return dict(part.split("=", 1) for part in rest.replace(", ", ",").split(" "))


def assert_well_formed(headers: list[tuple[str, str]]) -> None:
    text = block(headers)
    assert text.isascii()
    for line in text.splitlines():
        assert len(line) <= 78, line
        assert line.startswith(("X-Backscatter-", "\t")), line
    parsed = email.message_from_string(text + "\nbody\n")
    assert [name for name, _ in headers] == parsed.keys()


def test_a_fake_ndr_says_yes_with_the_rules_that_fired_strongest_first(detector):
    verdict = detector.score(FAKE_NDR)
    headers = verdict_headers(verdict)
    assert_well_formed(headers)
    assert headers[0] == (VERDICT, "spoofed")
    assert dict(headers)[STATUS].startswith("Yes, score=")
    fields = status_fields(headers)
    assert fields["tests"] == "HTML_ONLY,LINK_WITH_LURE"
    assert fields["tests"].split(",") == list(verdict.rules)
    assert fields["required"] == "0.50"
    assert fields["version"] == __version__
    assert float(fields["score"]) == pytest.approx(verdict.spoofed_probability, abs=0.005)
    assert [name for name, _ in headers] == [VERDICT, STATUS, EVIDENCE]


def test_a_plain_text_fake_with_a_release_link_fires_only_the_link_rule(detector):
    headers = verdict_headers(detector.score(LURE_LINK))
    assert status_fields(headers)["tests"] == "LINK_WITH_LURE"
    assert dict(headers)[STATUS].startswith("Yes,")


def test_a_genuine_bounce_says_no_and_none_and_required_is_the_detectors_threshold():
    detector = Detector(load(shipped_model_path()), threshold=0.7)
    verdict = detector.score(GENUINE)
    headers = verdict_headers(verdict)
    assert_well_formed(headers)
    assert headers[0] == (VERDICT, "genuine")
    assert dict(headers)[STATUS].startswith("No, score=0.0")
    fields = status_fields(headers)
    assert fields["tests"] == "NONE" and verdict.rules == ()
    assert fields["required"] == "0.70"


def test_sent_log_outcomes_are_rules_too(store):
    store.add(unrelated(BOUNCE_AT - timedelta(days=20), 25))
    detector = Detector(load(shipped_model_path()), store)
    forged = detector.score(backscatter_of("forged-77@sender.example"))
    assert forged.verdict == SPOOFED
    assert status_fields(verdict_headers(forged))["tests"].split(",")[0] == "NOT_IN_SENTLOG"
    sent = BOUNCE_AT - timedelta(hours=2)
    store.add(
        [SentRecipient("ours-5@sender.example", sent, "ann@sender.example", "kim@far.example")]
    )
    ours = detector.score(backscatter_of("ours-5@sender.example"))
    assert "SENTLOG_MATCH" in ours.rules and "NOT_IN_SENTLOG" not in ours.rules
    assert dict(verdict_headers(ours))[STATUS].startswith("No,")


def test_rules_are_listed_strongest_first(store):
    store.add(unrelated(BOUNCE_AT - timedelta(days=20), 25))
    detector = Detector(load(shipped_model_path()), store)
    lure = backscatter_of("forged-79@sender.example").replace(
        b"Sorry it didn't work out.\n",
        b"Sorry it didn't work out.\nClick https://release.example/q to release it.\n",
    )
    rules = detector.score(lure).rules
    assert {"NOT_IN_SENTLOG", "LINK_WITH_LURE"} <= set(rules)
    # The sent-log's verdict outweighs a lure link in the shipped model (rules shows both).
    assert rules.index("NOT_IN_SENTLOG") < rules.index("LINK_WITH_LURE")


def test_a_status_that_contradicts_its_action_fires_a_rule_that_pushes_towards_spoofed(detector):
    contradicting = GENUINE.replace(b"Action: failed", b"Action: delayed")
    assert contradicting != GENUINE
    verdict = detector.score(contradicting)
    assert "STATUS_ACTION_CONFLICT" in verdict.rules
    from backscatter.model.explain import rule_weights

    assert rule_weights(detector.weights)["STATUS_ACTION_CONFLICT"] > 0


def test_the_record_lists_the_rules(detector):
    record = detector.score(FAKE_NDR).to_record()
    assert record["rules"] == ["HTML_ONLY", "LINK_WITH_LURE"]


def test_not_a_bounce_gets_no_headers(detector):
    ordinary = b"From: bob@example.org\nTo: alice@example.net\nSubject: hi\n\nHello\n"
    assert verdict_headers(detector.score(ordinary)) == []


def test_a_long_tests_list_folds_after_a_comma_and_hostile_evidence_stays_ascii(detector):
    verdict = detector.score(FAKE_NDR)
    every = tuple(f"RULE_NUMBER_{n:02d}_LONG" for n in range(12))
    hostile = (
        "never sent <" + "x" * 300 + "@évil.example>",
        "quoted\r\nX-Backscatter-Verdict: genuine\u2028and\x00more " + "word " * 80,
    )
    headers = verdict_headers(replace(verdict, rules=every, evidence=hostile))
    assert_well_formed(headers)
    status = dict(headers)[STATUS]
    assert ",\n\t" in status  # the list broke after a comma
    assert status_fields(headers)["tests"] == ",".join(every)
    evidence = dict(headers)[EVIDENCE]
    assert "\r" not in evidence and "\nX-" not in evidence
    assert len(unfold(evidence)) <= 400


def test_evidence_unfolds_to_the_same_text(detector):
    verdict = detector.score(FAKE_NDR)
    headers = verdict_headers(verdict)
    assert "\n\t" in dict(headers)[EVIDENCE]  # long enough to fold
    assert unfold(dict(headers)[EVIDENCE]) == "; ".join(verdict.evidence)


def test_a_score_rounding_across_the_threshold_keeps_four_decimals(detector):
    capped = replace(detector.score(GENUINE), verdict=UNKNOWN, spoofed_probability=0.499)
    status = unfold(dict(verdict_headers(capped))[STATUS])
    assert status.startswith("No, score=0.4990 required=0.50 ")


def test_unscored_headers_say_why_and_flag_claimed_bounces():
    headers = unscored_headers("budget", True, 0.5)
    assert_well_formed(headers)
    assert headers[0] == (VERDICT, "unscored")
    assert unfold(headers[1][1]) == (
        f"No, score=? required=0.50 tests=BOUNCE_UNSCORED unscored=budget version={__version__}"
    )
    assert "tests=NONE" in unfold(unscored_headers("size", False, 0.7)[1][1])


@pytest.mark.parametrize(
    "fixture", ["fake_ndr_html_quarantine.eml", "fake_ndr_plain_release_link.eml"]
)
def test_the_evidence_says_each_fact_once(detector, fixture):
    """"1 link(s) to 1 domain(s)" and "asks to log in" are parts of the link-with-lure
    sentence: a header that repeats them reads as noise to the user deciding on it."""
    evidence = detector.score((DATA / "formats" / fixture).read_bytes()).evidence
    assert evidence
    for i, sentence in enumerate(evidence):
        others = evidence[:i] + evidence[i + 1 :]
        assert not any(sentence in other for other in others), evidence
