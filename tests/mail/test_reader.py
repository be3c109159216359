"""The format-free reader, the not-a-bounce kinds and the shared mail-system signals.

Fixtures under tests/data/reader are invented reports from MTAs no family module knows, in
the languages and layouts the reader claims to read, and look-alikes that are not bounces.
"""

from __future__ import annotations

import pytest

from backscatter import parse
from backscatter.mail.formats import FAMILIES, registry
from tests.conftest import DATA, parse_fixture
from tests.mail import check_anatomy, check_not_a_bounce

READER_ONLY = registry(["rfc3464", "generic"])

# fixture, [(address, status, reason, hard)], original Message-ID
UNKNOWN_MTA_BOUNCES = [
    (
        "de_nicht_zustellbar.eml",
        [("jonas.kraus@empfaenger.example", None, "user_unknown", True)],
        "angebot-0603@absender.example",
    ),
    (
        "fr_non_remis.eml",
        [("claire.dubois@destinataire.example", None, "mailbox_full", True)],
        "rdv-jeudi-0604@expediteur.example",
    ),
    (
        "es_no_se_puede_entregar.eml",
        [("lucia.gomez@destino.example", None, "user_unknown", True)],
        "factura-2291@remitente.example",
    ),
    (
        "ja_haishin_funou.eml",
        [("taro@atesaki.example", None, "user_unknown", True)],
        "kaigi-0606@sender-jp.example",
    ),
    (
        "layout_quoted_rcpt.eml",
        [("ana@far.example", "5.2.2", "mailbox_full", True)],
        "photos-0609@sender.example",
    ),
    (
        "layout_table.eml",
        [
            ("bob@one.example", "5.1.1", "user_unknown", True),
            ("carl@two.example", "5.7.1", "policy", True),
        ],
        "agenda-0610@sender.example",
    ),
    (
        "layout_reason_above.eml",
        [("pat@zeta.example", "5.1.1", "user_unknown", True)],
        "draft-0611@sender.example",
    ),
    (
        # HTML only: read because the envelope sender is null and From is MAILER-DAEMON@
        "html_only_daemon.eml",
        [("ines@receiver.example", "5.1.1", "user_unknown", True)],
        None,
    ),
    (
        "layout_envelope_details.eml",
        [("5550123@sms-gw.carrier.example", "5.0.0", "user_unknown", True)],
        None,
    ),
]

NOT_BOUNCES = [
    ("nb_challenge_tmda.eml", "challenge-response"),
    ("nb_challenge_verify_human.eml", "challenge-response"),
    ("nb_arf_jmrp.eml", "arf"),
    ("nb_mdn_read.eml", "mdn"),
    ("nb_auto_reply_de.eml", "auto-reply"),
    ("nb_auto_reply_with_dsn.eml", "auto-reply"),
    ("nb_list_notice_mailman.eml", "list-notice"),
    ("phish_ordinary_sender.eml", None),
]


@pytest.mark.parametrize("recognisers", [None, READER_ONLY], ids=["all", "reader-only"])
@pytest.mark.parametrize(("name", "recipients", "message_id"), UNKNOWN_MTA_BOUNCES)
def test_unknown_mta_bounce(name, recipients, message_id, recognisers):
    data = (DATA / "reader" / name).read_bytes()
    bounce = parse(data, name) if recognisers is None else parse(data, name, recognisers)
    check_anatomy(bounce, "generic", recipients, message_id)


@pytest.mark.parametrize(("name", "kind"), NOT_BOUNCES)
def test_look_alike_is_not_a_bounce(name, kind):
    check_not_a_bounce(parse_fixture(f"reader/{name}"), kind)


FAMILY_FIXTURES = [
    "apachejames_no_such_user.eml",
    "dragonfly_policy.eml",
    "exchange_text_user_unknown.eml",
    "exim_mailbox_full.eml",
    "exim_moan_too_big.eml",
    "gmail_delayed_text.eml",
    "kddi_not_received.eml",
    "netease_163_user_not_found.eml",
    "netease_126_quota_exceeded.eml",
    "notes_user_unknown.eml",
    "opensmtpd_host_unknown.eml",
    "postfix_text_no_dsn.eml",
    "qmail_host_unknown.eml",
    "sendmail_text_transcript.eml",
    "yahoo_user_unknown.eml",
]


@pytest.mark.parametrize("name", FAMILY_FIXTURES)
def test_reader_alone_reads_every_family_free_text(name):
    """Family modules add precision; whether a report is read does not depend on them."""
    data = (DATA / "formats" / name).read_bytes()
    alone = parse(data, name, registry(["generic"]))
    full = parse(data, name)
    assert alone.is_bounce and full.is_bounce
    assert alone.format == "generic"
    assert [r.address for r in alone.recipients] == [r.address for r in full.recipients]


# language, localised bounce subject, failure statement next to the address
LANGUAGES = [
    ("en", "Undeliverable: Hello", "could not be delivered"),
    ("de", "Unzustellbar: Hallo", "Die Nachricht konnte nicht zugestellt werden"),
    ("fr", "Non remis : Bonjour", "Votre message n'a pas pu être remis"),
    ("es", "No se puede entregar: Hola", "El mensaje no se pudo entregar"),
    ("it", "Non recapitabile: Ciao", "Messaggio non recapitabile"),
    ("pt", "Não foi possível entregar: Olá", "Não foi possível entregar a mensagem"),
    ("pl", "Niedostarczalne: Cześć", "Nie można dostarczyć wiadomości"),
    ("nl", "Onbestelbaar: Hallo", "Het bericht kon niet worden bezorgd"),
    ("ja", "配信不能: こんにちは", "メールは配信できませんでした"),
    ("zh", "未送达: 你好", "邮件无法投递"),
    ("ru", "Не доставлено: Привет", "Сообщение не может быть доставлено"),  # noqa: RUF001
]


def _report(subject: str, statement: str, sender: str = "mailer@relay.example") -> bytes:
    """A report from an unknown MTA: no null sender, no daemon name, only the system-looking
    sender and the subject sign it."""
    text = (
        f"From: {sender}\n"
        "To: anna@sender.example\n"
        f"Subject: {subject}\n"
        "Message-ID: <report-1@relay.example>\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        f"{statement}:\n\n    kim@receiver.example\n"
    )
    return text.encode()


@pytest.mark.parametrize(("language", "subject", "statement"), LANGUAGES)
def test_bounce_subject_and_failure_in_each_language(language, subject, statement):
    bounce = parse(_report(subject, statement), language, READER_ONLY)
    assert bounce.is_bounce
    assert [r.address for r in bounce.recipients] == ["kim@receiver.example"]


@pytest.mark.parametrize(("language", "subject", "statement"), LANGUAGES)
def test_no_mail_system_signature_is_no_bounce(language, subject, statement):
    """The same words from a person's address are not a report (the phishing gate)."""
    bounce = parse(_report(subject, statement, "anna.b@person.example"), language)
    assert not bounce.is_bounce


SEPARATORS = [
    "----- Ursprüngliche Nachricht -----",
    "-------- Message d'origine --------",
    "----- Mensaje original -----",
    "----- Messaggio originale -----",
    "--- 元のメッセージ ---",
    "----- Исходное сообщение -----",
    "______________________________",
    "==============================",
    "------- Returned Message --------",
    "-- ",
]


@pytest.mark.parametrize("separator", SEPARATORS)
def test_returned_original_after_any_separator(separator):
    """The copy after the separator is read as the original, and its addresses (a Cc the
    report never mentions) are not failed recipients."""
    text = (
        "Return-Path: <>\n"
        "From: MAILER-DAEMON@relay.example\n"
        "To: anna@sender.example\n"
        "Subject: Returned mail\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "kim@receiver.example\n    550 5.1.1 user unknown\n\n"
        f"{separator}\n"
        "From: anna@sender.example\n"
        "To: kim@receiver.example\n"
        "Cc: lou@third.example\n"
        "Subject: Plans\n"
        "Message-ID: <plans-77@sender.example>\n\n"
        "See you.\n"
    )
    bounce = parse(text.encode(), "separator", READER_ONLY)
    assert [r.address for r in bounce.recipients] == ["kim@receiver.example"]
    assert bounce.original_message_id == "plans-77@sender.example"
    assert bounce.original_subject == "Plans"


def test_html_only_claim_from_a_display_name_is_not_read():
    """HTML-only text needs a null sender and a daemon's own address: "Mail Delivery System"
    as a display name is what phishing writes."""
    bounce = parse_fixture("formats/fake_ndr_html_quarantine.eml")
    assert not bounce.is_bounce


def test_exim_bounce_with_auto_submitted_is_still_a_bounce():
    """Exim writes Auto-Submitted: auto-replied on its bounces: the auto-reply check that
    runs before the recognisers must not take them."""
    for name in ("exim_mailbox_full.eml", "exim_moan_too_big.eml"):
        bounce = parse_fixture(f"formats/{name}")
        assert bounce.is_bounce and bounce.format == "exim"


def test_registry_narrows_in_order_and_rejects_unknown_names():
    assert [r.name for r in registry(["generic", "rfc3464"])] == ["rfc3464", "generic"]
    assert len(registry(without=["exim", "qmail"])) == len(FAMILIES) - 2
    with pytest.raises(ValueError, match="nosuch"):
        registry(["nosuch"])


def test_older_mailman_held_notice_from_the_admin_address():
    """Mailman 2.0 sent its held-for-approval notice from LIST-admin@ with no administrivia
    header; the wording and the list address are enough."""
    text = (
        "From: team-admin@lists.example\n"
        "To: sam@sender.example\n"
        "Subject: Your message to Team awaits moderator approval\n"
        "Content-Type: text/plain\n\n"
        "Your mail to 'Team' with the subject\n\n    Plans\n\n"
        "Is being held until the list moderator can review it for approval.\n"
    )
    bounce = parse(text.encode(), "mailman2")
    assert not bounce.is_bounce
    assert bounce.format == "list-notice"
