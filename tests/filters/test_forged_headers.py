"""Forged X-Backscatter-* fields are recognised by the MTA's own rules for a field name
(issue 12): up to the colon, white space and a fold before it included."""

from __future__ import annotations

import pytest

from backscatter import Detector
from backscatter.features import OurInfrastructure
from backscatter.filters.outbound import OutboundRecorder
from backscatter.filters.policy import MilterPolicy
from backscatter.filters.session import MessageSession, MilterCore
from tests.conftest import DATA

FAKE_NDR = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes()


@pytest.fixture(scope="module")
def core():
    milter = MilterCore(
        Detector.load(), MilterPolicy(), OutboundRecorder(None, OurInfrastructure())
    )
    yield milter
    milter.close()


def test_the_milter_removes_a_forged_name_whatever_white_space_the_mta_left(core):
    session = MessageSession(core, "192.0.2.1", "mx")
    session.begin("", authenticated=False)
    session.add_recipient("<sam@sender.example>")
    session.add_header("X-Backscatter-Verdict\r\n ", b"genuine")
    session.add_header("x-backscatter-verdict", b"genuine")
    head, _, body = FAKE_NDR.partition(b"\n\n")
    for line in head.split(b"\n"):
        name, _, value = line.partition(b":")
        session.add_header(name.decode("ascii"), value.strip())
    session.end_headers()
    session.add_body(body)
    decision = session.finish()
    assert decision.remove_headers == [
        ("X-Backscatter-Verdict\r\n ", 1),
        ("x-backscatter-verdict", 2),
    ]
    assert ("X-Backscatter-Verdict", "spoofed") in decision.add_headers
