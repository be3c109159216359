"""The long tail of MTA families, each parsed from a fixture written in its known layout.

Families whose reports the existing recognisers already read fully (a standard DSN part, or
free text the generic reader handles) are listed under the format that reads them, so the
table also proves those families need no module of their own.
"""

from __future__ import annotations

import pytest

from tests.conftest import parse_fixture
from tests.mail import ANATOMY, check_added_modules, check_anatomy

# fixture, format, [(address, status, reason, hard)], original Message-ID
BOUNCES = [
    # MDaemon: its own session transcript, newer and older wording
    (
        "mdaemon_permanent_failure.eml",
        "mdaemon",
        [("una@remote.example", "5.1.1", "user_unknown", True)],
        "visit-0602@sender.example",
    ),
    (
        # no copy attached: the transcript's "*  Message-ID:" line names the original
        "mdaemon_not_received.eml",
        "mdaemon",
        [("vlad@remote.example", "5.2.2", "mailbox_full", True)],
        "budget-0602@sender.example",
    ),
    # Novell GroupWise Internet Agent: "(reason)" after the address; the generic reader
    (
        "groupwise_undeliverable.eml",
        "generic",
        [("wade@gw.partner.example", None, "user_unknown", True)],
        "roster-0603@sender.example",
    ),
    # Sun/Oracle Messaging Server text report, and Netscape Messaging Server
    (
        "messagingserver_text_report.eml",
        "messagingserver",
        [("zora@ms.partner.example", "5.1.1", "user_unknown", True)],
        "lab-0604@sender.example",
    ),
    (
        "messagingserver_netscape_over_quota.eml",
        "messagingserver",
        [("bree@nms.partner.example", None, "mailbox_full", True)],
        "menu-0604@sender.example",
    ),
    # Ipswitch IMail
    (
        "imail_unknown_user.eml",
        "imail",
        [("dina@imail.partner.example", None, "user_unknown", True)],
        "pricing-0605@sender.example",
    ),
    (
        "imail_generated_response.eml",
        "imail",
        [("emil@full.partner.example", "5.2.2", "mailbox_full", True)],
        "pricing-0605b@sender.example",
    ),
    # MailMarshal SMTP / Trustwave SEG
    (
        "mailmarshal_undeliverable.eml",
        "mailmarshal",
        [("gus@partner.example", "5.1.1", "user_unknown", True)],
        "shipment-0606@sender.example",
    ),
    # Courier sends a standard DSN
    (
        "courier_undeliverable.eml",
        "rfc3464",
        [("ivo@partner.example", "5.1.1", "user_unknown", True)],
        "agenda-0607@sender.example",
    ),
    # Domino "DELIVERY FAILURE:" layout (the notes module's second layout)
    (
        "notes_domino_delivery_failure.eml",
        "notes",
        [("kurt@domino.partner.example", None, "user_unknown", True)],
        "invoice-77@sender.example",
    ),
    # Exchange 5.5 IMC, 2003 wording, 2007+ text; 2000's DSN goes to rfc3464
    (
        "exchange55_imc_unknown_recipient.eml",
        "exchange",
        [("mona@corp.example", None, "user_unknown", True)],
        "trip-0609@sender.example",
    ),
    (
        "exchange2003_could_not_be_reached.eml",
        "exchange",
        [("nils@corp.example", "5.1.1", "user_unknown", True)],
        "budget-0609@sender.example",
    ),
    (
        "exchange2007_recip_not_found.eml",
        "exchange",
        [("otto@corp.example", "5.1.1", "user_unknown", True)],
        "offsite-0609@sender.example",
    ),
    (
        # 2010+ says "or groups"; no Return-Path, so only the wording names it
        "exchange2010_text_groups.eml",
        "exchange",
        [("petra@corp.example", "5.1.1", "user_unknown", True)],
        "review-0610@sender.example",
    ),
    (
        "exchange2000_dsn_text.eml",
        "rfc3464",
        [("pia@remote.example", "5.1.1", "user_unknown", True)],
        "visit-0609@sender.example",
    ),
    # Trend Micro InterScan MSS: "Sent <<< / Received >>>" lines; the generic reader
    (
        "interscan_mss_user_unknown.eml",
        "generic",
        [("rosa@partner.example", "5.1.1", "user_unknown", True)],
        "quote-0610@sender.example",
    ),
    # McAfee Email Gateway (DSN part) and MX Logic (Exim-derived text)
    (
        "mcafee_delivery_status.eml",
        "rfc3464",
        [("tina@partner.example", "5.1.1", "user_unknown", True)],
        "forecast-0611@sender.example",
    ),
    (
        "mxlogic_user_unknown.eml",
        "exim",
        [("vera@partner.example", "5.1.1", "user_unknown", True)],
        "survey-0612@sender.example",
    ),
    # Mimecast "-- address" text
    (
        "mimecast_delivery_failure.eml",
        "generic",
        [("xander@partner.example", "5.1.1", "user_unknown", True)],
        "brief-0613@sender.example",
    ),
    # Barracuda, Proofpoint, PowerMTA, Zimbra (Postfix), Kerio: DSN parts
    (
        "barracuda_bulk_filter.eml",
        "rfc3464",
        [("zane@partner.example", "5.7.1", "blocked", True)],
        "offer-0614@sender.example",
    ),
    (
        "proofpoint_dsn.eml",
        "rfc3464",
        [("beth@partner.example", "5.1.1", "user_unknown", True)],
        "deal-0615@sender.example",
    ),
    (
        "powermta_bad_mailbox.eml",
        "rfc3464",
        [("kai@partner.example", "5.1.1", "user_unknown", True)],
        "newsletter-0620@sender.example",
    ),
    (
        "zimbra_postfix_dsn.eml",
        "rfc3464",
        [("rhea@partner.example", "5.1.1", "user_unknown", True)],
        "update-0624a@sender.example",
    ),
    (
        "kerio_dsn.eml",
        "rfc3464",
        [("sara@partner.example", "5.2.2", "mailbox_full", True)],
        "update-0624b@sender.example",
    ),
    # Haraka's outbound.bounce_message copies qmail ("invoked for bounce"): qmail reads it
    (
        "haraka_failure_notice.eml",
        "qmail",
        [("mark@partner.example", "5.1.1", "user_unknown", True)],
        "plan-0621@sender.example",
    ),
    # SmarterMail: "Failed Recipient:" / "Reason:" lines; the generic reader
    (
        "smartermail_failed_recipient.eml",
        "generic",
        [("theo@partner.example", "5.1.1", "user_unknown", True)],
        "update-0624c@sender.example",
    ),
    (
        "smartermail_mailbox_full.eml",
        "generic",
        [("uma@sm.partner.example", None, "mailbox_full", True)],
        None,
    ),
    # Digital Arts m-FILTER (Japanese text, "-------server message")
    (
        "mfilter_failure_notice.eml",
        "generic",
        [("dan@partner.example", "5.1.1", "user_unknown", True)],
        "order-0616@sender.example",
    ),
    # Sendmail V5 and Active!hunter: Sendmail-style text the sendmail module reads
    (
        "v5sendmail_transcript.eml",
        "sendmail",
        [("finn@partner.example", "5.0.0", "user_unknown", True)],
        "memo-0617@sender.example",
    ),
    (
        "activehunter_fatal.eml",
        "sendmail",
        [("hugo@partner.example", "5.1.1", "user_unknown", True)],
        "report-0618@sender.example",
    ),
    # MailFoundry
    (
        "mailfoundry_no_such_user.eml",
        "generic",
        [("jon@partner.example", "5.0.0", "user_unknown", True)],
        "notes-0619@sender.example",
    ),
    # hMailServer (Exchange 2003 wording plus its SMTP block); no copy comes back
    (
        "hmailserver_could_not_be_reached.eml",
        "hmailserver",
        [("oleg@partner.example", "5.1.1", "user_unknown", True)],
        None,
    ),
    # CommuniGate Pro: "Failed to deliver to '<addr>'" / "<module> reports:"
    (
        "communigate_failed_to_deliver.eml",
        "generic",
        [("rita@partner.example", "5.1.1", "user_unknown", True)],
        "minutes-0623@sender.example",
    ),
    (
        "communigate_account_full.eml",
        "generic",
        [("sven@cgp.partner.example", None, "mailbox_full", True)],
        None,
    ),
    # fml refuses a non-member's post to the list
    (
        "fml_not_member.eml",
        "fml",
        [("ml@lists.partner.example", None, "other", True)],
        "question-0625@sender.example",
    ),
]

#: Modules added for these families; each must be proven by a fixture above.
ADDED_FAMILIES = ("mdaemon", "messagingserver", "imail", "mailmarshal", "hmailserver", "fml")


@pytest.mark.parametrize(ANATOMY, BOUNCES)
def test_family_anatomy(name, family, recipients, message_id):
    check_anatomy(parse_fixture(f"formats/{name}"), family, recipients, message_id)


def test_every_added_family_is_registered_and_has_a_fixture():
    from backscatter.mail.formats import FAMILIES

    check_added_modules(ADDED_FAMILIES, BOUNCES)
    assert FAMILIES.index("hmailserver") < FAMILIES.index("exchange")


def test_mdaemon_takes_the_reply_to_rcpt_not_other_transcript_lines():
    bounce = parse_fixture("formats/mdaemon_permanent_failure.eml")
    assert [r.address for r in bounce.recipients] == ["una@remote.example"]
    assert bounce.recipients[0].diagnostic_code.startswith("550 5.1.1")


def test_messaging_server_keeps_reason_and_remote_system():
    recipient = parse_fixture("formats/messagingserver_text_report.eml").recipients[0]
    assert recipient.diagnostic_code.startswith("Remote SMTP server has rejected address")
    assert recipient.remote_mta == "mx.ms.partner.example"


def test_netscape_postmaster_line_is_not_a_recipient():
    bounce = parse_fixture("formats/messagingserver_netscape_over_quota.eml")
    assert [r.address for r in bounce.recipients] == ["bree@nms.partner.example"]
    assert bounce.recipients[0].diagnostic_code == "The user(s) account is temporarily over quota."


def test_netscape_wording_from_an_ordinary_sender_is_not_a_bounce():
    bounce = parse_fixture("formats/not_bounce_netscape_wording_phish.eml")
    assert not bounce.is_bounce
    assert bounce.recipients == ()


def test_mailmarshal_reports_its_relay():
    assert parse_fixture("formats/mailmarshal_undeliverable.eml").reporting_mta == (
        "relay.partner.example"
    )
