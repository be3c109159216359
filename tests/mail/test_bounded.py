"""Work per message is bounded by construction: hostile sizes cost linear time (issue 12)."""

from __future__ import annotations

import time

import pytest

from backscatter import parse
from backscatter.mail import status
from backscatter.mail.formats.base import MAX_RECIPIENTS


def _postfix_bounce_listing(count: int) -> bytes:
    """A Postfix-worded bounce whose recipient list is one line of ``count`` addresses
    (bounce_template.c's default failure text; the list is the attacker's)."""
    listing = ", ".join(f'"Someone" <user{i}@receiver.example>' for i in range(count))
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.sender.example>\n"
        "To: amy@sender.example\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Message-ID: <many-1@mx.sender.example>\n\n"
        "This is the mail system at host mx.sender.example.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        f"{listing}\n"
    ).encode()


def test_ten_thousand_addresses_on_one_line_parse_in_linear_time():
    data = _postfix_bounce_listing(10_000)
    started = time.perf_counter()
    bounce = parse(data)
    took = time.perf_counter() - started
    assert bounce.is_bounce
    assert len(bounce.recipients) == MAX_RECIPIENTS  # capped, not 10,000
    assert f"more than {MAX_RECIPIENTS} recipients" in (bounce.error or "")  # and says so
    assert bounce.recipients[0].address == "user0@receiver.example"
    assert all(len(r.diagnostic_code or "") <= 1000 for r in bounce.recipients)
    assert took < 1.5, f"{took:.2f} s for 10,000 addresses: quadratic again?"


def test_a_short_list_is_read_whole():
    bounce = parse(_postfix_bounce_listing(3))
    assert bounce.error is None
    assert [r.address for r in bounce.recipients] == [
        "user0@receiver.example",
        "user1@receiver.example",
        "user2@receiver.example",
    ]


def test_status_codes_are_read_from_the_start_of_a_long_diagnostic():
    filler = "x " * 50_000
    assert status.enhanced_status("550 5.1.1 no such user " + filler) == "5.1.1"
    assert status.reply_code("550 5.1.1 no such user " + filler) == "550"
    assert status.enhanced_status(filler + " 5.1.1") is None  # past SCAN_LIMIT: not read
    assert status.enhanced_status("see RFC 3463 v2.5.1.1 then 4.2.2 mailbox full") == "4.2.2"


def _nested(depth: int, kind: str) -> bytes:
    if kind == "multipart":
        levels = b"".join(
            b'Content-Type: multipart/mixed; boundary="level%d"\n\n--level%d\n' % (i, i)
            for i in range(depth)
        )
    else:
        levels = b"Content-Type: message/rfc822\n\n" * depth
    return (
        b"From: MAILER-DAEMON@mx.receiver.example\nTo: amy@sender.example\n"
        b"Subject: Undeliverable\nMIME-Version: 1.0\n" + levels + b"Subject: inner\n\nhello\n"
    )


@pytest.mark.parametrize("kind", ["multipart", "message"])
def test_deep_nesting_is_cut_not_a_recursion_error(kind):
    started = time.perf_counter()
    bounce = parse(_nested(5000, kind))
    assert time.perf_counter() - started < 0.5
    assert bounce.error is None  # an anatomy, not "could not parse message: RecursionError"
    assert bounce.subject == "Undeliverable"
    assert "MimeNestingCutDefect" in bounce.mime_defects


def test_ordinary_nesting_is_left_alone():
    assert "MimeNestingCutDefect" not in parse(_nested(10, "multipart")).mime_defects


def test_a_utf7_encoded_word_decoding_to_a_lone_surrogate_is_readable_text():
    data = (
        b"From: MAILER-DAEMON@mx.receiver.example\nSubject: =?utf-7?Q?+2L8-?= failure\n\n"
        b"no such user\n"
    )
    bounce = parse(data)
    assert bounce.error is None
    assert bounce.subject is not None and bounce.subject.endswith("failure")
    bounce.subject.encode("utf-8")  # writable by every output stream


def _dsn_with_groups(count: int) -> bytes:
    """An RFC 3464 report (multipart/report, message/delivery-status) naming ``count``
    recipients, one field group each."""
    groups = b"".join(
        b"Final-Recipient: rfc822; user%d@receiver.example\nAction: failed\nStatus: 5.1.1\n\n" % i
        for i in range(count)
    )
    return (
        b"From: MAILER-DAEMON@mx.receiver.example\nTo: amy@sender.example\n"
        b"Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nDelivery failed.\n"
        b"--b\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.receiver.example\n\n" + groups + b"--b--\n"
    )


def test_a_report_of_fifty_thousand_recipients_is_capped_and_quick():
    started = time.perf_counter()
    bounce = parse(_dsn_with_groups(50_000))
    assert time.perf_counter() - started < 1.5
    assert bounce.format == "rfc3464"
    assert len(bounce.recipients) == MAX_RECIPIENTS
    assert f"more than {MAX_RECIPIENTS} recipients" in (bounce.error or "")
    assert bounce.recipients[0].address == "user0@receiver.example"


@pytest.mark.parametrize("newline", [b"\n", b"\r", b"\r\n"])
def test_millions_of_lines_are_cut_before_the_mime_parser(newline):
    data = (
        b"From: MAILER-DAEMON@mx.receiver.example\nSubject: x\n\n" + b"a" * 3 + newline * 2_000_000
    )
    started = time.perf_counter()
    bounce = parse(data)
    assert time.perf_counter() - started < 0.5
    assert "MimeLinesCutDefect" in bounce.mime_defects
    assert bounce.subject == "x"


def test_a_megabyte_boundary_is_cut_before_the_parser_compiles_it():
    boundary = b"b" * 1_000_000
    data = (
        b"From: MAILER-DAEMON@mx.receiver.example\nSubject: Undeliverable\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; boundary="'
        + boundary
        + b'"\n\n--'
        + boundary
        + b"\nContent-Type: text/plain\n\n<bob@receiver.example>: no such user\n"
    )
    started = time.perf_counter()
    bounce = parse(data)
    assert time.perf_counter() - started < 0.5
    assert "MimeFieldCutDefect" in bounce.mime_defects and bounce.subject == "Undeliverable"


def test_a_content_type_folded_over_thousands_of_lines_is_cut():
    folded = b'Content-Type: text/plain; name="x' + b';\n ";' * 100_000 + b'"\n'
    data = b"From: MAILER-DAEMON@mx.receiver.example\nSubject: s\n" + folded + b"\nbody\n"
    started = time.perf_counter()
    bounce = parse(data)
    assert time.perf_counter() - started < 0.5
    assert "MimeFieldCutDefect" in bounce.mime_defects


def test_addresses_are_looked_for_in_bounded_time_on_a_three_megabyte_line():
    from backscatter.mail.addresses import addresses_in_text

    text = "x" * 100 + " a@b.example" * 250_000
    started = time.perf_counter()
    assert sum(1 for _ in addresses_in_text(text)) == (256 * 1024 - 100) // 12
    assert sum(1 for _ in addresses_in_text("@" * 3_000_000)) == 0
    assert time.perf_counter() - started < 1.5


def test_an_fml_report_naming_thousands_on_one_line_is_capped_and_quick():
    listing = " ".join(f"<user{i}@receiver.example>" for i in range(5000))
    data = (
        "From: list-admin@lists.sender.example\nTo: amy@sender.example\n"
        "Subject: fml error report\nX-MLServer: fml [fml 4.0]\nMessage-ID: <1.fml@x>\n\n"
        f"{listing}\n"
    ).encode()
    started = time.perf_counter()
    bounce = parse(data)
    assert time.perf_counter() - started < 1.0
    assert bounce.format == "fml" and len(bounce.recipients) == MAX_RECIPIENTS
    assert f"more than {MAX_RECIPIENTS} recipients" in (bounce.error or "")


def test_a_megabyte_received_header_in_the_returned_copy_costs_little_to_score():
    from backscatter import Detector

    received = b"Received: from a.example " + b"5.1.1 10.0.0.1 " * 200_000 + b"\n"
    data = (
        b"From: MAILER-DAEMON@mx.receiver.example\nTo: amy@sender.example\n"
        b"Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nDelivery failed.\n"
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.receiver.example\n\n"
        b"Final-Recipient: rfc822; bob@receiver.example\nAction: failed\nStatus: 5.1.1\n\n"
        b"--b\nContent-Type: message/rfc822\n\n"
        + received
        + b"From: amy@sender.example\nMessage-ID: <m1@sender.example>\n\nhello\n--b--\n"
    )
    detector = Detector.load()
    started = time.perf_counter()
    verdict = detector.score(data)
    assert time.perf_counter() - started < 1.0
    assert verdict.bounce.original_message_id == "m1@sender.example"
