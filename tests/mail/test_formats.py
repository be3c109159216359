"""Each supported family parsed from a fixture written in its MTA's true layout."""

from __future__ import annotations

import pytest

from tests.conftest import parse_fixture
from tests.mail import ANATOMY, check_anatomy, check_not_a_bounce

# fixture, format, [(address, status, reason, hard)], original Message-ID
BOUNCES = [
    (
        "postfix_dsn_user_unknown.eml",
        "rfc3464",
        [("nobody@receiver.example", "5.1.1", "user_unknown", True)],
        "quarterly-2025-03@sender.example",
    ),
    (
        "sendmail_dsn_delayed.eml",
        "rfc3464",
        [("carol@slow.example", "4.4.1", "expired", False)],
        "notes-0320@laptop.sender.example",
    ),
    (
        "exchange_dsn_expired.eml",
        "rfc3464",
        [("dave@branch.partner.example", "4.4.7", "expired", False)],
        "q1-figures-7781@sender.example",
    ),
    (
        "apachejames_no_such_user.eml",
        "apachejames",
        [("5550100@carrier.example", "5.0.0", "user_unknown", True)],
        "trip-plan-0414@sender.example",
    ),
    (
        "kddi_not_received.eml",
        "kddi",
        [("no-such-phone-user@ezweb.ne.jp", None, "expired", False)],
        None,
    ),
    (
        "exim_mailbox_full.eml",
        "exim",
        [("erin@full.example", "5.2.2", "mailbox_full", True)],
        "photos.1744102800@desk.sender.example",
    ),
    (
        # moan.c: refused while being received, so the copy's envelope names the recipients
        "exim_moan_too_big.eml",
        "exim",
        [("lena@partner.example", None, "message_too_large", True)],
        "E1uAbCc-000XyY-2P@mail.sender.example",
    ),
    (
        "qmail_host_unknown.eml",
        "qmail",
        [("grace@no-such-domain.example", "5.1.2", "host_unknown", True)],
        "invoice-1042.frank@sender.example",
    ),
    (
        "gmail_delayed_text.eml",
        "gmail",
        [("ivan@busy.example", None, "expired", False)],
        "lunch-0514@sender.example",
    ),
    (
        "exchange_text_user_unknown.eml",
        "exchange",
        [("kim@corp.example", "5.1.1", "user_unknown", True)],
        None,
    ),
    (
        "dragonfly_policy.eml",
        "dragonfly",
        [("mia@strict.example", "5.7.26", "policy", True)],
        "6826e1c6.weekly@df.sender.example",
    ),
    (
        "yahoo_user_unknown.eml",
        "yahoo",
        [("iris@receiver.example", "5.1.1", "user_unknown", True)],
        "catchup-0522@sender.example",
    ),
    (
        "opensmtpd_host_unknown.eml",
        "opensmtpd",
        [("kate@gone.example", None, "host_unknown", True)],
        "tickets-0523@sender.example",
    ),
    (
        "sendmail_text_transcript.eml",
        "sendmail",
        [("maya@receiver.example", "5.1.1", "user_unknown", True)],
        "agenda-0524@sender.example",
    ),
    (
        "postfix_text_no_dsn.eml",
        "postfix",
        [("olga@receiver.example", "5.7.1", "blocked", True)],
        "proposal-0525@sender.example",
    ),
    (
        "amazonses_json.eml",
        "amazonses",
        [("pia@receiver.example", "5.1.1", "user_unknown", True)],
        "offers-0526@sender.example",
    ),
    (
        "kddi_mailbox_full.eml",
        "kddi",
        [("ruth@mx01.dion.ne.jp", None, "mailbox_full", True)],
        None,
    ),
    (
        "notes_user_unknown.eml",
        "notes",
        [("tom@notes.partner.example", None, "user_unknown", True)],
        "budget-0528@sender.example",
    ),
    (
        "generic_unknown_mta.eml",
        "messagingserver",  # Netscape Messaging Server's wording, which the family module knows
        [("vera@partner.example", "5.0.0", "user_unknown", True)],
        None,
    ),
]

NOT_BOUNCES = [
    ("not_bounce_arf_complaint.eml", "arf"),
    ("not_bounce_auto_reply.eml", "auto-reply"),
    ("not_bounce_success_dsn.eml", "rfc3464-success"),
    ("not_bounce_exim_frozen.eml", "mta-notice"),
    ("fake_ndr_html_quarantine.eml", None),
    ("fake_ndr_plain_release_link.eml", None),
]


@pytest.mark.parametrize(ANATOMY, BOUNCES)
def test_bounce_anatomy(name, family, recipients, message_id):
    check_anatomy(parse_fixture(f"formats/{name}"), family, recipients, message_id)


@pytest.mark.parametrize(("name", "family"), NOT_BOUNCES)
def test_not_a_bounce(name, family):
    check_not_a_bounce(parse_fixture(f"formats/{name}"), family)


def test_dsn_fields_are_kept():
    bounce = parse_fixture("formats/postfix_dsn_user_unknown.eml")
    recipient = bounce.recipients[0]
    assert recipient.action == "failed"
    assert recipient.remote_mta == "mx.receiver.example"
    assert recipient.diagnostic_code.startswith("550 5.1.1 <nobody@receiver.example>")
    assert bounce.reporting_mta == "mx1.sender.example"
    assert bounce.arrival_date == "Mon, 3 Mar 2025 10:15:00 +0100 (CET)"


def test_returned_headers_from_rfc822_headers_part():
    bounce = parse_fixture("formats/sendmail_dsn_delayed.eml")
    assert bounce.original_from == "bob@sender.example"
    assert bounce.original_to == "carol@slow.example"
    assert bounce.original_subject == "Meeting notes"
    assert bounce.original_date == "Thu, 20 Mar 2025 07:35:10 +0100"
    assert len(bounce.original_received) == 1
    assert bounce.recipients[0].action == "delayed"


def test_returned_headers_quoted_in_text():
    bounce = parse_fixture("formats/qmail_host_unknown.eml")
    assert bounce.original_from == "frank@sender.example"
    assert bounce.original_subject == "Invoice 1042"
    assert bounce.original_received == (
        "(qmail 30207 invoked by uid 1001); 12 May 2025 14:20:30 -0000",
    )


def test_exim_recipient_comes_from_x_failed_recipients_and_text():
    bounce = parse_fixture("formats/exim_mailbox_full.eml")
    assert "552 5.2.2 Mailbox full" in bounce.recipients[0].diagnostic_code


def test_address_inside_a_link_is_not_a_recipient():
    bounce = parse_fixture("formats/fake_ndr_plain_release_link.eml")
    assert bounce.recipients == ()


def test_every_registered_family_has_a_fixture():
    from backscatter.mail.formats import FAMILIES
    from tests.mail import test_families_a, test_families_b, test_families_cn

    tables = (
        BOUNCES,
        test_families_a.BOUNCES,
        test_families_b.BOUNCES,
        test_families_cn.BOUNCES,
    )
    assert set(FAMILIES) <= {row[1] for table in tables for row in table}


def test_delay_warning_is_soft_and_delayed():
    bounce = parse_fixture("formats/gmail_delayed_text.eml")
    assert [(r.action, r.hard) for r in bounce.recipients] == [("delayed", False)]


def test_amazon_ses_reads_the_original_headers_from_json():
    bounce = parse_fixture("formats/amazonses_json.eml")
    assert bounce.original_subject == "May offers"
    assert bounce.reporting_mta == "a1-2.smtp-out.eu-west-1.amazonses.example"


def test_original_attached_without_mime_headers_is_found():
    bounce = parse_fixture("formats/sendmail_original_without_mime_headers.eml")
    assert [r.address for r in bounce.recipients] == ["xena@partner.example"]
    assert bounce.original_message_id == "headless-0530@sender.example"
    assert bounce.original_subject == "Headless original"


def test_indented_quoted_header_summary_gives_the_original_fields():
    bounce = parse_fixture("formats/pmdf_indented_summary.eml")
    assert [(r.address, r.status) for r in bounce.recipients] == [("zack@partner.example", "5.1.1")]
    assert bounce.original_message_id == "summary-0531@sender.example"
    assert bounce.original_to == "zack@partner.example"


def test_reporting_mta_of_a_text_bounce_is_where_it_was_written():
    assert parse_fixture("formats/exim_mailbox_full.eml").reporting_mta == "mail.sender.example"
    # qmail's bounce has no "by" hop of its own: the From address names the host.
    assert parse_fixture("formats/qmail_host_unknown.eml").reporting_mta == "smtp.sender.example"
