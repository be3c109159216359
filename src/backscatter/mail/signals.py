"""Is a mail system speaking? The header and text signals every layer asks about, in one place.

The format-free reader (formats/generic.py), the not-a-bounce checks (mail/nonbounce.py) and
the detector's evidence (features/evidence.py) all need the same answers: does the From name
a mailer daemon, is the envelope sender null, is the subject a bounce subject, does the text
state a delivery failure. Keeping the word lists here means a language added once is read
everywhere.

Wording sources, so the next reader can check them:

- English subjects and daemon names: what Sendmail ("Returned mail: see transcript"), Postfix
  ("Undelivered Mail Returned to Sender", bounce_template.c), Exim ("Mail delivery failed",
  deliver.c), qmail ("failure notice"), Exchange/Office 365 ("Undeliverable:") and Gmail
  ("Delivery Status Notification (Failure)") write; Sisimai's Lhost modules list the same.
- Localised subjects: Microsoft Exchange/Outlook translate "Undeliverable:" per mailbox
  language ("Unzustellbar:", "Non remis :", "No se puede entregar:", "Non recapitabile:",
  "Não é possível entregar:", "Niedostarczalne:", "Onbestelbaar:", "配信不能:", "无法投递:",
  "無法傳遞:", "Недоставляемое:"), and the body's "Delivery has failed to these recipients or
  groups" ("Fehler bei der Zustellung ...", "Échec de la remise ...", ...). Sisimai's
  Exchange2007 module reads the French "Non remis" / "Informations de diagnostic" variant.
- Localised body phrases of smaller MTAs and providers (French "n'a pas pu être remis",
  Japanese carriers' "配信できませんでした", Chinese webmail "退信", Russian "не доставлено"):
  the phrases those reports use for "could not be delivered"; kept to whole phrases so an
  ordinary letter rarely says them.
- Auto-Submitted: RFC 3834 section 5.
"""

from __future__ import annotations

from email.message import Message

from backscatter.mail import status as status_codes
from backscatter.mail.message import MessageView, contains_any

#: Local parts a mail system sends reports from (RFC 5321 postmaster, Sendmail/Postfix
#: MAILER-DAEMON and the spellings other MTAs use).
DAEMON_LOCALS: tuple[str, ...] = (
    "mailer-daemon",
    "postmaster",
    "mail-daemon",
    "mailerdaemon",
    "maildaemon",
    "post_master",
)

#: Display names of a mail system in a From header (Sendmail's "Mail Delivery Subsystem",
#: Exim's "Mail Delivery System"; Exchange's "Microsoft Outlook" is too broad and left out).
DAEMON_NAMES: tuple[str, ...] = ("mail delivery", "mail administrator", "mail deliver")

#: Subject phrases of delivery-failure reports, lower-case, every language we read.
BOUNCE_SUBJECTS: tuple[str, ...] = (
    # English
    "undeliver",
    "delivery fail",
    "delivery status notification",
    "returned mail",
    "failure notice",
    "non-delivery",
    "nondeliver",
    "could not be delivered",
    "mail delivery",
    "delivery problem",
    "delivery error",
    "not delivered",
    "mail failure",
    "rejected",
    "unable to deliver",
    "delivery notification",
    "error sending",
    "warning: message",
    "mail system error",
    "delayed mail",
    "delivery delay",
    "failed delivery",
    "delivery has failed",
    "message not delivered",
    "delivery failure",
    "returned to sender",
    "undelivered",
    "delivery report",
    # German
    "unzustellbar",
    "nicht zustellbar",
    "fehlgeschlagen",
    "fehler bei der zustellung",
    "nicht zugestellt",
    "unzustellbare nachricht",
    # French
    "non remis",
    "échec de la remise",
    "echec de la remise",
    "échec de remise",
    "message non délivré",
    "non distribuable",
    # Spanish
    "no se puede entregar",
    "no se pudo entregar",
    "mensaje no entregado",
    "error en la entrega",
    "no entregado",
    # Italian
    "non recapitabile",
    "mancata consegna",
    "non consegnato",
    # Portuguese
    "não é possível entregar",
    "não foi possível entregar",
    "não entregue",
    "falha na entrega",
    # Polish
    "niedostarczalne",
    "niedostarczona",
    "nie dostarczono",
    # Dutch
    "onbestelbaar",
    "niet afgeleverd",
    "niet bezorgd",
    # Japanese
    "配信不能",
    "配信エラー",
    "送信エラー",
    "配信失敗",
    # Chinese (simplified, traditional)
    "未送达",
    "无法投递",
    "無法傳遞",
    "退信",
    "投递失败",
    "发送失败",
    "無法投遞",
    # Russian
    "не доставлено",
    "недоставляемое",
    "недоставленное",
    "не удалось доставить",
)

#: Phrases that state a delivery failed, lower-case, every language we read. Whole phrases,
#: so that a person's letter rarely says one by accident.
FAILURE_PHRASES: tuple[str, ...] = (
    # English
    "could not be delivered",
    "undeliverable",
    "delivery failed",
    "failed permanently",
    "not be delivered",
    "delivery has failed",
    "no valid recipients",
    "unable to deliver",
    "delivery to the following recipient",
    "permanent error",
    "permanent failure",
    "was not delivered",
    "couldn't be delivered",
    "did not reach",
    "delivery to the following recipients failed",
    "error delivering",
    # German
    "konnte nicht zugestellt werden",
    "nicht zugestellt werden",
    "unzustellbar",
    "nicht zustellbar",
    "zustellung fehlgeschlagen",
    "fehler bei der zustellung",
    "konnte nicht ausgeliefert werden",
    # French
    "n'a pas pu être remis",
    "n'a pas pu être distribué",
    "n'a pas pu être délivré",
    "n'a pas pu être transmis",
    "n'a pu être remis",
    "n'a pu être délivré",
    "échec de la remise",
    "impossible de remettre",
    "impossible de distribuer",
    "non remis",
    # Spanish
    "no se pudo entregar",
    "no se puede entregar",
    "no pudo ser entregado",
    "no ha podido ser entregado",
    "no se ha podido entregar",
    "error en la entrega",
    "fallo en la entrega",
    # Italian
    "non recapitabile",
    "non è stato possibile recapitare",
    "impossibile recapitare",
    "non è stato possibile consegnare",
    "non può essere consegnato",
    "mancata consegna",
    # Portuguese
    "não foi possível entregar",
    "não é possível entregar",
    "não pôde ser entregue",
    "não foi entregue",
    "falha na entrega",
    # Polish
    "niedostarczalne",
    "nie można dostarczyć",
    "nie mogła zostać dostarczona",
    "nie została dostarczona",
    "nie udało się dostarczyć",
    # Dutch
    "onbestelbaar",
    "kan niet worden bezorgd",
    "kon niet worden bezorgd",
    "kon niet worden afgeleverd",
    "kan niet worden afgeleverd",
    "bezorging mislukt",
    # Japanese
    "配信不能",
    "配信できませんでした",
    "配信できません",
    "送信できませんでした",
    "届けることができませんでした",
    "配送できませんでした",
    # Chinese
    "未送达",
    "无法投递",
    "無法傳遞",
    "无法送达",
    "投递失败",
    "發送失敗",
    "发送失败",
    # Russian
    "не доставлено",
    "не может быть доставлено",
    "не удалось доставить",
    "невозможно доставить",
    "не было доставлено",
    "недоставляемое",
)


def from_mail_system(view: MessageView) -> bool:
    """True when the From header names a mail system rather than a person."""
    sender = view.header("from").lower()
    return contains_any(sender, DAEMON_LOCALS) or contains_any(sender, DAEMON_NAMES)


def null_sender(view: MessageView) -> bool:
    """The envelope sender is null (RFC 5321 4.5.5: how every report should be sent)."""
    return view.header("return-path").strip() in ("<>", "<MAILER-DAEMON>") and bool(
        view.get("return-path")
    )


def bounce_subject(view: MessageView) -> bool:
    """The Subject reads as a delivery-failure report, in any language we know."""
    return contains_any(view.header("subject").lower(), BOUNCE_SUBJECTS)


def auto_submitted(message: Message) -> str:
    """The RFC 3834 Auto-Submitted keyword ('auto-replied', 'auto-generated'), '' if absent
    or 'no'."""
    value = str(message.get("auto-submitted") or "").strip().lower()
    keyword = value.split(";", 1)[0].strip()
    return "" if keyword in ("", "no") else keyword


def is_report(view: MessageView) -> bool:
    """A multipart/report (RFC 6522): only mail systems write those."""
    return view.content_type == "multipart/report"


def mail_system_speaking(view: MessageView) -> bool:
    """True when the headers carry a mail system's signature.

    Any one will do: Exim's/Google's X-Failed-Recipients, a daemon From, a null envelope
    sender, an Auto-Submitted header, a multipart/report. Phishing can forge all of these,
    so this is only the first gate: the reader also needs a failure tied to an address
    other than the addressee.
    """
    return bool(
        view.get("x-failed-recipients")
        or from_mail_system(view)
        or null_sender(view)
        or auto_submitted(view.message)
        or is_report(view)
    )


def states_failure(text: str | None) -> bool:
    """True when text says delivery failed: an SMTP code, a known cause, or plain words."""
    text = text or ""
    lowered = text.lower()
    return contains_any(lowered, FAILURE_PHRASES) or bool(
        status_codes.enhanced_status(text)
        or status_codes.reply_code(text)
        or status_codes.classify_reason(text, None) != status_codes.OTHER
    )


#: Words a message uses when it claims mail was not delivered or is held (fake NDRs too).
_CLAIMS = (
    "undeliver",
    "not delivered",
    "delivery fail",
    "failed to deliver",
    "could not be delivered",
    "returned mail",
    "mail delivery",
    "pending",
    "held",
    "quarantine",
    "release",
    "bounce",
    "delivery status",
    "non-delivery",
    "failure notice",
    "messages were not delivered",
    "incoming mail",
    "incoming messages",
    "mailbox",
    "email account",
    "blocking",
    "suspended",
)

#: Display names a fake NDR signs with to pass for the mail system.
_MAIL_SYSTEM_NAMES = (
    "mailbox",
    "email service",
    "e-mail service",
    "mail service",
    "mail system",
    "webmail",
    "postmaster",
    "mail admin",
    "email admin",
    "it support",
    "helpdesk",
    "help desk",
    "email security",
    "mail delivery",
    "microsoft outlook",
    "exchange",
)


def claims_to_be_a_bounce(view: MessageView, text: str) -> bool:
    """The message says mail was not delivered, or speaks as the mail system itself: what a
    fake NDR imitates (so the detector scores it), whether or not a real report is inside."""
    if bounce_subject(view) or from_mail_system(view):
        return True
    display = view.header("from").lower().split("<", 1)[0]
    if any(name in display for name in _MAIL_SYSTEM_NAMES):
        return True
    lowered = f"{view.header('subject')}\n{text[:3000]}".lower()
    return any(phrase in lowered for phrase in _CLAIMS)
