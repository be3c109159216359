"""The scoring path's shortcuts must give exactly what the standard library gives.

mail/mimeparse.py reads multipart boundaries without compiling a regex per boundary, and
MessageView indexes header fields and remembers decoded bodies and charsets; each is only
worth having while its answers equal the stdlib's, which these tests hold it to.
"""

from __future__ import annotations

import email.feedparser
import ipaddress
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

import pytest

from backscatter import parse
from backscatter.features.evidence import _may_be_ip
from backscatter.features.links import Attachment, report_attachments
from backscatter.mail import mimeparse
from backscatter.mail.message import MessageView, decode_payload
from backscatter.mail.mimeparse import parse_bytes


def _report(boundary: str, close: str = "--", newline: str = "\n") -> bytes:
    """A small DSN (RFC 3464) whose boundary is ``boundary``, closed with ``close``."""
    lines = [
        "From: Mail Delivery System <mailer-daemon@mx.example.net>",
        "To: alice@example.com",
        "Subject: Undelivered Mail Returned to Sender",
        "Message-ID: <dsn.1@mx.example.net>",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        "preamble",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "I could not deliver your message to <bob@example.org>.",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.example.net",
        "",
        "Final-Recipient: rfc822; bob@example.org",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: user unknown",
        "",
        f"--{boundary}",
        "Content-Type: message/rfc822",
        "",
        "From: alice@example.com",
        "To: bob@example.org",
        "Subject: lunch",
        "Message-ID: <orig.1@example.com>",
        'Content-Type: multipart/alternative; boundary="inner.(1)"',
        "",
        "--inner.(1)",
        "Content-Type: text/plain",
        "",
        "see you",
        "--inner.(1)--",
        "",
        f"--{boundary}{close}",
        "epilogue",
    ]
    return newline.join(lines).encode("utf-8", "surrogateescape")


def _tree(message: Message) -> list[object]:
    """Everything a parse decides: fields, preamble, epilogue, defects, payloads."""
    payload = message._payload
    return [
        list(message.raw_items()),
        message.preamble,
        message.epilogue,
        [type(defect).__name__ for defect in message.defects],
        [_tree(part) for part in payload] if isinstance(payload, list) else payload,
    ]


BOUNDARIES = [
    "----=_Part_1234_5678.1600000000000",  # '-', '=', '.', '_' (re.escape escapes some)
    "a(b)[c]{d}?*+|^$&~# z",  # every character re.escape escapes, space included
    "back\\slash",
    "unicode-é-边界",
    "inner.(1)",  # the same boundary as the nested multipart
]


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("close", ["--", "--  ", "", "-- trailing"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_parse_bytes_gives_the_stdlib_tree(boundary: str, close: str, newline: str) -> None:
    data = _report(boundary, close, newline)
    assert _tree(parse_bytes(data)) == _tree(BytesParser(policy=compat32).parsebytes(data))


def test_the_shortcut_is_in_use_on_this_python() -> None:
    """Should a Python write its boundary regex differently, mimeparse falls back to the
    stdlib's own code: correct, but the speed is gone; this says so."""
    assert mimeparse._FeedParser._parsegen is not email.feedparser.FeedParser._parsegen


def test_parse_bytes_gives_the_stdlib_tree_for_a_missing_or_misspelt_boundary() -> None:
    for data in (
        _report("b1").replace(b"--b1\n", b"--B1\n"),
        _report("b1").replace(b'boundary="b1"', b"boundary="),
        _report("b1").replace(b"--b1--", b"--b"),
    ):
        assert _tree(parse_bytes(data)) == _tree(BytesParser(policy=compat32).parsebytes(data))


def test_a_bounce_with_regex_characters_in_its_boundary_is_read() -> None:
    bounce = parse(_report("a(b)[c]{d}?*+|^$&~# z"), "dsn.eml")
    assert bounce.is_bounce
    assert [(r.address, r.status) for r in bounce.recipients] == [("bob@example.org", "5.1.1")]
    assert bounce.original_message_id == "orig.1@example.com"
    assert bounce.mime_defects == ()


def test_view_get_answers_what_message_get_answers() -> None:
    data = (
        b"Received: from a.example.net\nreceived: from b.example.net\n"
        b"X-Odd: caf\xc3\xa9\nSubject: =?utf-8?q?caf=C3=A9?=\n\nbody\n"
    )
    view = MessageView(data)
    for name in ("received", "RECEIVED", "x-odd", "subject", "absent", "x-autoreply"):
        assert view.get(name) == view.message.get(name)
        assert type(view.get(name)) is type(view.message.get(name))


def _types(message: Message) -> list[str]:
    return [message.get_content_type(), message.get_content_maintype(), message.get_default_type()]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_typed_parts_answer_what_stdlib_parts_answer(newline: str) -> None:
    data = _report("b1", newline=newline).replace(
        b"Subject: lunch", b"Subject: lunch" + newline.encode() + b"CONTENT-TYPE: text/html"
    )
    ours = list(parse_bytes(data).walk())
    theirs = list(BytesParser(policy=compat32).parsebytes(data).walk())
    assert {type(part) for part in ours} == {mimeparse.TypedMessage}
    assert [_types(part) for part in ours] == [_types(part) for part in theirs]


def test_a_typed_part_follows_every_change_to_its_fields() -> None:
    data = _report("b1")
    ours, theirs = parse_bytes(data), BytesParser(policy=compat32).parsebytes(data)
    changes = (
        lambda m: m.replace_header("content-type", "text/plain; charset=utf-8"),
        lambda m: m.set_param("charset", "latin-1"),
        lambda m: m.set_type("multipart/mixed"),
        lambda m: m.set_boundary("b2"),
        lambda m: m.__delitem__("content-type"),
        lambda m: m.set_default_type("message/rfc822"),
        lambda m: m.add_header("Content-Type", "Text/HTML"),
        lambda m: m.replace_header("Content-Type", "image/png"),
        lambda m: m.__setitem__("Content-Type", "text/csv"),  # a second field: the first wins
    )
    for change in changes:
        change(ours)
        change(theirs)
        assert _types(ours) == _types(theirs)


def test_a_part_is_decoded_once_and_the_same_every_time() -> None:
    view = MessageView(
        b"Content-Type: text/plain; charset=iso-8859-1\n"
        b"Content-Transfer-Encoding: base64\n\nY2Fm6Q==\n"
    )
    first = decode_payload(view.message)
    assert first == "café"
    assert decode_payload(view.message) is first
    assert view.plain_text == "café"


@pytest.mark.parametrize(
    "token",
    [
        "192.0.2.1",
        "2001:db8::1",
        "fe80::1%eth0",
        "::ffff:192.0.2.1",
        "2001:db8:0:0:0:0:0:1",
        "0:0:0:0:0:ffff:192.0.2.1",
        "::",
    ],
)
def test_every_ip_literal_is_still_tried(token: str) -> None:
    ipaddress.ip_address(token)  # (the case is an address)
    assert _may_be_ip(token)


@pytest.mark.parametrize("token", ["29", "2026", "12:34:56", "1.2.3", "mx.example.net", "a:b"])
def test_dates_and_times_are_not_tried(token: str) -> None:
    with pytest.raises(ValueError):
        ipaddress.ip_address(token)
    assert not _may_be_ip(token)


def test_attachments_named_only_in_content_type_are_still_found() -> None:
    data = (
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\n'
        b"Your message could not be delivered.\n--b\n"
        b"Content-Type: application/octet-stream; NAME*0*=utf-8''invoice%2E;\n"
        b' name*1="exe"\n\nAAAA\n--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n'
    )
    assert report_attachments(MessageView(data)) == [
        Attachment("application/octet-stream", "invoice.exe")
    ]
