"""Hostile and broken mail: every input yields a record, none raises."""

from __future__ import annotations

import base64

import pytest

from backscatter import parse
from backscatter.mail.sources import MAX_MESSAGE_BYTES, RawMessage
from tests.conftest import parse_fixture


def test_truncated_mime_still_reads_the_report():
    bounce = parse_fixture("hostile/truncated_mime.eml")
    assert bounce.is_bounce
    assert [r.address for r in bounce.recipients] == ["victor@receiver.example"]
    assert bounce.recipients[0].status == "5.1.1"


def test_missing_boundary_falls_back_to_the_text():
    bounce = parse_fixture("hostile/missing_boundary.eml")
    assert bounce.is_bounce
    assert "NoBoundaryInMultipartDefect" in bounce.mime_defects
    assert [(r.address, r.status) for r in bounce.recipients] == [
        ("xavier@receiver.example", "5.1.1")
    ]


def test_eight_bit_garbage_headers_and_unknown_charset():
    bounce = parse_fixture("hostile/eight_bit_garbage_headers.eml")
    assert bounce.is_bounce
    assert [r.address for r in bounce.recipients] == ["zoe@receiver.example"]
    assert bounce.original_message_id == "garbage-1@sender.example"
    assert "\ufffd" in bounce.subject  # undecodable bytes are shown, not dropped


@pytest.mark.parametrize("name", ["binary_noise.eml", "empty.eml"])
def test_not_mail_at_all(name):
    bounce = parse_fixture(f"hostile/{name}")
    assert not bounce.is_bounce
    assert bounce.error == "no header fields: not an e-mail message"


def _bounce_with_attachment(size: int) -> bytes:
    blob = base64.encodebytes(b"\0" * size)
    head = (
        b"Return-Path: <>\nFrom: MAILER-DAEMON@mx.sender.example\nTo: amy@sender.example\n"
        b"Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.sender.example\n\n"
        b"Final-Recipient: rfc822; ben@receiver.example\nAction: failed\nStatus: 5.2.2\n\n"
        b"--b\nContent-Type: message/rfc822\n\nFrom: amy@sender.example\nTo: ben@receiver.example\n"
        b'Message-ID: <big@sender.example>\nContent-Type: multipart/mixed; boundary="i"\n\n'
        b"--i\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
    )
    return head + blob + b"\n--i--\n--b--\n"


def test_twenty_megabyte_attachment():
    data = _bounce_with_attachment(20 * 1024 * 1024)
    raw = RawMessage("big.eml", data[:MAX_MESSAGE_BYTES], len(data), truncated=True)
    bounce = parse(raw)
    assert bounce.is_bounce
    assert [(r.address, r.status) for r in bounce.recipients] == [("ben@receiver.example", "5.2.2")]
    assert bounce.original_message_id == "big@sender.example"
    assert bounce.size == len(data)
    assert bounce.error.startswith(f"message is {len(data)} bytes")


def test_thousand_nested_multiparts():
    depth = 1000
    opening = "".join(
        f'--n{i}\nContent-Type: multipart/mixed; boundary="n{i + 1}"\n\n' for i in range(depth)
    )
    closing = "".join(f"--n{i}--\n" for i in reversed(range(depth)))
    data = (
        "From: MAILER-DAEMON@mx.sender.example\nTo: cy@sender.example\nSubject: Nested\n"
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="n0"\n\n'
        + opening
        + f"--n{depth}\nContent-Type: text/plain\n\ndeep\n--n{depth}--\n"
        + closing
    ).encode()
    bounce = parse(data, "nested.eml")
    assert bounce.source == "nested.eml"
    assert not bounce.is_bounce


def test_headers_only_no_body():
    bounce = parse(b"From: MAILER-DAEMON@mx.sender.example\nSubject: failure notice\n", "h.eml")
    assert not bounce.is_bounce
    assert bounce.error is None
