"""The long-tail families: each fixture written from what its MTA or ESP is known to emit.

Where a family has no module of its own, its fixture proves that an existing reader (the
RFC 3464 backbone, the generic reader, or an MTA whose wording the provider reuses) already
reads it fully: the ``format`` column says which one answers.
"""

from __future__ import annotations

import pytest

from backscatter import parse
from tests.conftest import parse_fixture
from tests.mail import ANATOMY, check_added_modules, check_anatomy

# fixture, format, [(address, status, reason, hard)], original Message-ID
BOUNCES = [
    # Office 365 / Exchange Online: current NDR with a DSN part
    (
        "office365_dsn_not_found.eml",
        "rfc3464",
        [("oskar@fabrikam.example", "5.1.10", "user_unknown", True)],
        "kickoff-0603@contoso.example",
    ),
    # Office 365, 2015-era text-only NDR ("Delivery has failed to these recipients or groups")
    (
        "office365_text_no_dsn.eml",
        "exchange",  # Exchange Online writes the Exchange 2007+ text the exchange module reads
        [("jonas@woodgrove.example", "5.1.1", "user_unknown", True)],
        "catalogue-0429@tailspin.example",
    ),
    # Office 365 "<host> rejected your message to the following email addresses"
    (
        "office365_rejected_by_remote.eml",
        "generic",
        [("rui@adatum.example", "5.2.2", "mailbox_full", True)],
        "order-5531@northwind.example",
    ),
    # Office 365 localised (Dutch) text-only NDR
    (
        "office365_dutch_text.eml",
        "generic",
        [("lotte@molens.example", "5.1.10", "user_unknown", True)],
        "offerte-0508@fietsen.example",
    ),
    # Outlook.com / Hotmail (SMTPSVC DSN with X-Message-Delivery)
    (
        "outlook_hotmail_dsn.eml",
        "rfc3464",
        [("nadia@hotmail.example", "5.5.0", "user_unknown", True)],
        "trip-photos-1004@sender.example",
    ),
    # AOL (Postfix-based outbound relay, X-AOL-IP)
    (
        "aol_dsn_host_unknown.eml",
        "rfc3464",
        [("piet@no-such-host.example", "5.4.4", "host_unknown", True)],
        "garden-0309.ola@aol.example",
    ),
    # Yahoo current layout with "Remote host said:" split over lines
    (
        "yahoo_remote_host_said_split.eml",
        "yahoo",
        [("kai@full.example", "5.2.2", "mailbox_full", True)],
        "weekend-0522.zoe@yahoo.example",
    ),
    # Yahoo old qmail-fork layout
    (
        "yahoo_old_unable.eml",
        "yahoo",
        [("clara@gone.example", "5.1.1", "user_unknown", True)],
        "oldphotos-0114.ben@yahoo.example",
    ),
    # Verizon vtext.com SMS gateway
    (
        "verizon_vtext_no_such_user.eml",
        "verizon",
        [("5550123456@vtext.example", "5.1.1", "user_unknown", True)],
        None,
    ),
    # Verizon vzwpix.com MMS gateway
    (
        "verizon_vzwpix_no_valid_recipients.eml",
        "verizon",
        [("5550199999@vzwpix.example", "5.1.1", "user_unknown", True)],
        None,
    ),
    # GMX / mail.com
    (
        "gmx_user_unknown.eml",
        "generic",
        [("fritz@receiver.example", "5.1.1", "user_unknown", True)],
        "trinity-stammtisch-0318@3c-app-gmx-bs01",
    ),
    (
        "gmx_retry_timeout.eml",
        "generic",
        [("greta@slow.example", None, "expired", False)],
        "trinity-urlaub-0316@3c-app-gmx-bs01",
    ),
    # 1&1 / IONOS
    (
        "einsundeins_size_limit.eml",
        "generic",
        [("jana@receiver.example", None, "message_too_large", True)],
        "scans-0320.hugo@ionos-customer.example",
    ),
    # Biglobe (Sendmail-style section headings)
    (
        "biglobe_mailbox_full.eml",
        "sendmail",
        [("yuki@biglobe.example", None, "mailbox_full", True)],
        "schedule-0602.kenji@sender.example",
    ),
    # EZweb / au (KDDI)
    (
        "ezweb_user_unknown.eml",
        "kddi",
        [("no-such-handset@ezweb.ne.jp", "5.0.0", "user_unknown", True)],
        "dinner-0603.sora@sender.example",
    ),
    (
        "ezweb_account_disabled.eml",
        "kddi",
        [("full-handset@ezweb.ne.jp", None, "mailbox_full", True)],
        "photos-0604.sora@sender.example",
    ),
    # Zoho (Exim-derived wording)
    (
        "zoho_invalid_address.eml",
        "exim",
        [("mona@receiver.example", "5.1.1", "user_unknown", True)],
        "1717581598000.quote@zoho-user.example",
    ),
    (
        "zoho_host_not_reachable.eml",
        "exim",
        [("nils@unreachable.example", "4.4.2", "expired", False)],
        "1717667998000.invoice@zoho-user.example",
    ),
    # Google Groups
    (
        "googlegroups_no_permission.eml",
        "googlegroups",
        [("team-list@groups.partner.example", None, "user_unknown", True)],
        "agenda-0609.pablo@sender.example",
    ),
    # Gmail / Google Workspace: current layout with DSN, without DSN, and the old text
    (
        "gmail_dsn_address_not_found.eml",
        "rfc3464",
        [("no.such.person@gmail.example", "5.1.1", "user_unknown", True)],
        "CAexample0610rosa@mail.gmail.example",
    ),
    (
        "gmail_workspace_not_delivered.eml",
        "gmail",
        [("wren@receiver.example", None, "blocked", True)],
        "CAexample0611theo@mail.gmail.example",
    ),
    (
        "gmail_old_permanent.eml",
        "gmail",
        [("vito@receiver.example", "5.1.1", "user_unknown", True)],
        "CAexample0206ugo@mail.gmail.example",
    ),
    # mail.ru (Exim with a Russian preamble)
    (
        "mailru_user_unknown.eml",
        "exim",
        [("olga@receiver.example", "5.1.1", "user_unknown", True)],
        "hello-0607.ivan@mail.ru.example",
    ),
    # Yandex (Postfix-based DSN)
    (
        "yandex_dsn_user_unknown.eml",
        "rfc3464",
        [("boris@receiver.example", "5.1.1", "user_unknown", True)],
        "report-0608.anya@yandex.example",
    ),
    # ESP events: mailed and as bare .json documents
    (
        "amazonses_sns_wrapped.eml",
        "amazonses",
        [("tara@receiver.example", "4.2.2", "mailbox_full", False)],
        "june-news-0615@sender.example",
    ),
    (
        "amazonses_event_raw.json",
        "amazonses",
        [("sam@receiver.example", "5.0.0", "other", True)],
        "alert-0614@sender.example",
    ),
    (
        "sendgrid_events.json",
        "sendgrid",
        [
            ("nora@receiver.example", "5.1.1", "user_unknown", True),
            ("otto@slow.example", "4.2.2", "expired", False),
        ],
        "newsletter-0611.4f2a@mail.sender.example",
    ),
    (
        "mailgun_failed_permanent.json",
        "mailgun",
        [("petra@receiver.example", "5.1.1", "user_unknown", True)],
        "20250612041640.1.ABCDEF@mg.sender.example",
    ),
    (
        "mailgun_mailed_temporary.eml",
        "mailgun",
        [("uma@busy.example", "4.7.0", "expired", False)],
        "20250616085900.2.XYZ@mg.sender.example",
    ),
    (
        "postmark_hard_bounce.json",
        "postmark",
        [("quinn@receiver.example", "5.1.1", "user_unknown", True)],
        None,
    ),
    (
        "sparkpost_bounce.json",
        "sparkpost",
        [("rita@receiver.example", "5.1.1", "user_unknown", True)],
        None,
    ),
]

#: Modules this work added; each must be proven by a fixture above.
ADDED_MODULES = ("verizon", "googlegroups", "sendgrid", "mailgun", "postmark", "sparkpost")


@pytest.mark.parametrize(ANATOMY, BOUNCES)
def test_bounce_anatomy(name, family, recipients, message_id):
    check_anatomy(parse_fixture(f"formats/{name}"), family, recipients, message_id)


def test_every_added_module_has_a_fixture():
    check_added_modules(ADDED_MODULES, BOUNCES)


def test_esp_post_without_failures_is_not_a_bounce():
    post = b'[{"email": "a@receiver.example", "event": "delivered", "sg_event_id": "x"}]'
    bounce = parse(post, "delivered.json")
    assert not bounce.is_bounce
    assert bounce.format == "sendgrid"
    assert bounce.error is None


def test_json_that_no_family_reads_is_still_reported_as_not_mail():
    bounce = parse(b'{"hello": "world"}', "other.json")
    assert not bounce.is_bounce
    assert bounce.error == "no header fields: not an e-mail message"


def test_gmail_delay_heading_is_a_delay():
    fixture = parse_fixture("formats/gmail_workspace_not_delivered.eml")
    assert fixture.recipients[0].action == "failed"
    raw = (
        b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.example>\n"
        b"To: a@sender.example\nSubject: Delivery Status Notification (Delay)\n\n"
        b"** Delivery incomplete **\n\nThere was a temporary problem delivering your message "
        b"to b@slow.example. Gmail will retry for 46 more hours.\n\nThe response was:\n"
        b"451 4.3.0 Mail server temporarily rejected message.\n"
    )
    bounce = parse(raw, "delay.eml")
    assert bounce.format == "gmail"
    assert [(r.address, r.action) for r in bounce.recipients] == [("b@slow.example", "delayed")]


def test_verizon_diagnostic_is_the_error_line():
    bounce = parse_fixture("formats/verizon_vtext_no_such_user.eml")
    assert bounce.recipients[0].diagnostic_code == (
        "550 - Requested action not taken: no such user here"
    )
