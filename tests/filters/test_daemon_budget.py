"""The budget that stops the work it abandons, in the standalone filter and in the milter."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys

import pytest

from backscatter import Detector
from backscatter.errors import BackscatterError
from backscatter.features import OurInfrastructure
from backscatter.filters.outbound import OutboundRecorder
from backscatter.filters.pipe import run_filter
from backscatter.filters.policy import MilterPolicy, load_policy
from backscatter.filters.session import MessageSession, MilterCore
from backscatter.filters.unscored import claims_bounce
from tests.filters.test_daemon import FAKE_NDR, ORDINARY, slow_bounce

SLOW = slow_bounce()


@pytest.fixture(scope="module")
def detector():
    return Detector.load()


def test_the_filter_stops_scoring_at_its_budget_and_writes_the_message_through(detector):
    out = io.BytesIO()
    assert run_filter(io.BytesIO(SLOW), out, lambda: detector, 1 << 22, 0.05) == 0
    header, _, body = out.getvalue().partition(b"\n\n")
    assert b"\nX-Backscatter-Verdict: unscored\n" in header + b"\n"
    assert b"X-Backscatter-Status: No, score=? required=0.50 tests=BOUNCE_UNSCORED" in header
    assert b"unscored=budget version=" in header
    assert SLOW.endswith(body)


def test_the_filter_command_has_a_budget():
    result = subprocess.run(
        [sys.executable, "-m", "backscatter", "filter", "--budget-ms", "50"],
        input=SLOW,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0
    assert b"unscored=budget" in result.stdout
    assert result.stdout.endswith(SLOW.partition(b"\n\n")[2])


@pytest.mark.parametrize(
    ("message", "sender", "claims"),
    [
        (FAKE_NDR, None, True),  # a bounce Subject / daemon-looking From
        (ORDINARY, None, False),
        (ORDINARY, "", True),  # the null envelope sender
        (b"Return-Path: <>\n" + ORDINARY, None, True),
        (b"Content-Type: multipart/report; report-type=delivery-status\n" + ORDINARY, None, True),
        (b"From: postmaster@example.net\nSubject: hello\n\nbody\n", None, True),
        (b"Subject: Unzustellbar: hello\n\nbody\n", None, True),
        (b"\xff\xfe\x00:\n\n", None, False),
    ],
)
def test_claims_bounce_reads_the_header(message, sender, claims):
    assert claims_bounce(message, sender) is claims


@pytest.fixture(scope="module")
def core(detector):
    milter = MilterCore(
        detector,
        MilterPolicy(time_budget_ms=300, workers=1),
        OutboundRecorder(None, OurInfrastructure()),
    )
    yield milter
    milter.close()


def finish(core: MilterCore, raw: bytes, sender: str = ""):
    session = MessageSession(core, "192.0.2.1", "mx")
    session.begin(sender, authenticated=False)
    session.add_recipient("<alice@example.org>")
    head, _, body = raw.partition(b"\n\n")
    for line in head.split(b"\n"):
        name, _, value = line.partition(b":")
        session.add_header(name.decode("latin-1"), value.strip())
    session.end_headers()
    session.add_body(body)
    return session.finish()


def test_the_milter_tags_an_over_budget_message_and_scores_the_next(core):
    pid = core.pool.pids[0]
    decision = finish(core, SLOW)
    assert decision.action == "tag"
    assert decision.add_headers[0] == ("X-Backscatter-Verdict", "unscored")
    status = decision.add_headers[1][1]
    assert "tests=BOUNCE_UNSCORED" in status and "unscored=budget" in status
    assert "unscored=budget" in decision.note
    assert pid not in core.pool.pids
    after = finish(core, FAKE_NDR)
    assert after.verdict is not None and after.verdict.verdict == "spoofed"


@pytest.mark.parametrize(
    ("unscored_action", "action"), [("reject", "reject"), ("tempfail", "tempfail")]
)
def test_unscored_action_applies_to_mail_that_claims_to_be_a_bounce(core, unscored_action, action):
    policy = core.policy
    core.policy = dataclasses.replace(policy, unscored_action=unscored_action)
    try:
        decision = finish(core, SLOW)
    finally:
        core.policy = policy
    assert decision.action == action
    assert decision.reply is not None and decision.reply[0][0] in "45"


def test_unscored_action_is_read_from_the_config(tmp_path):
    config = tmp_path / "b.toml"
    config.write_text('[milter]\nunscored_action = "reject"\nworkers = 3\n')
    policy = load_policy(config)
    assert (policy.unscored_action, policy.workers) == ("reject", 3)
    config.write_text('[milter]\nunscored_action = "discard"\n')
    with pytest.raises(BackscatterError, match="unscored_action"):
        load_policy(config)
