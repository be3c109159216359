"""Messages that look like bounces but are not delivery failures, each with a named kind.

They come from mail systems too, often with a null sender, and some carry a report part or a
quoted original; counting them as bounces would suppress working addresses. The kinds and
where their wording comes from:

- ``arf``: feedback loops. RFC 5965 (``report-type=feedback-report``, a
  ``message/feedback-report`` part) as Yahoo, AOL, Comcast and most others send them, plus
  Microsoft's JMRP (``X-HmXmrOriginalRecipient``, "complaint about message from <ip>") and the
  older AOL/Yahoo text reports ("This is an email abuse report for an email message received
  from IP ...", "Email Feedback Report for IP").
- ``mdn``: read receipts, RFC 8098 (``report-type=disposition-notification``, a
  ``message/disposition-notification`` part).
- ``mta-notice``: an MTA writing to its postmaster: Exim's moan_tell_someone() ("Message
  frozen", filter errors), Postfix smtpd ``notify_classes`` notices.
- ``challenge-response``: a C/R system holding mail until the sender proves to be a person:
  TMDA ("X-Delivery-Agent: TMDA", "Please confirm your message"), ASK (Active Spam Killer,
  "[ASK]" subjects), Spamarrest, Boxbe, Bluebottle, and the generic wording such systems use.
- ``list-notice``: list managers telling a poster or subscriber about moderation or
  subscription: Mailman 2 and 3 (from LIST-admin@ or LIST-owner@, "X-List-Administrivia:
  yes", "Your message to LIST awaits moderator approval" / "Is being held until the list
  moderator can review it for approval", Mailman 2 templates/en/postheld.txt), Sympa,
  LISTSERV (L-Soft), Google Groups ("pending approval"). The Sympa, LISTSERV and Google
  Groups wording is from their user documentation, not checked against their sources.
- ``auto-reply``: RFC 3834 auto-responders, vendor headers (X-Autoreply, X-Vacation,
  Exchange's OOF rule header) and out-of-office subjects in the languages the reader knows.
  A subject or header that says so wins before the bounce recognisers (an out-of-office that
  carries a DSN-looking part is still an out-of-office); a bare ``Auto-Submitted:
  auto-replied`` is only asked after them, because Exim writes it on its real bounces.
- ``rfc3464-success``: a DSN that reports only successes (formats/rfc3464.py decides it).
"""

from __future__ import annotations

from backscatter.mail.message import MessageView, contains_any, content_type
from backscatter.mail.signals import auto_submitted, bounce_subject, from_mail_system

_AUTO_REPLY_SUBJECTS = (
    # English
    "out of office",
    "out of the office",
    "auto:",
    "autoreply",
    "auto-reply",
    "auto reply",
    "automatic reply",
    "automatic response",
    "auto response",
    "autorespons",
    "away from",
    "on vacation",
    "vacation",
    "absence",
    # German (Outlook "Automatische Antwort:", "Abwesenheitsnotiz")
    "abwesenheit",
    "automatische antwort",
    "nicht im büro",
    # French ("Réponse automatique :")
    "réponse automatique",
    "reponse automatique",
    "absent du bureau",
    # Spanish
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    # Italian
    "risposta automatica",
    "fuori sede",
    "fuori ufficio",
    # Portuguese
    "resposta automática",
    "resposta automatica",
    "fora do escritório",
    "ausência",
    # Polish
    "odpowiedź automatyczna",
    "automatyczna odpowiedź",
    "poza biurem",
    "nieobecność",
    # Dutch
    "automatisch antwoord",
    "afwezig",
    "niet op kantoor",
    # Japanese, Chinese, Russian
    "自動応答",
    "自動返信",
    "不在",
    "自动回复",
    "自動回覆",
    "автоответ",
    "автоматический ответ",
    "вне офиса",
)

_MTA_NOTICE_SUBJECTS = (
    "message frozen",
    "error(s) in forwarding or filtering",
    "postfix smtp server: errors from",
    "postfix smtp server: too many errors",
)

_FEEDBACK_SUBJECTS = ("complaint about message from", "email feedback report for ip")
_FEEDBACK_TEXT = (
    "this is an email abuse report for an email message",
    "feedback-type: abuse",
)

_CR_SENDER_DOMAINS = (
    "spamarrest.com",
    "boxbe.com",
    "bluebottle.com",
    "mailblocks.com",
    "sendio.com",
)
_CR_SUBJECTS = ("please confirm your message", "[ask]", "please verify your email")
_CR_TEXT = (
    "please verify you are human",
    "verify that you are human",
    "verify that you are a human",
    "prove that you are human",
    "confirm that you are a real person",
    "confirm your message",
    "challenge-response",
    "challenge/response",
    "active spam killer",
    "tagged message delivery agent",
    "add you to my approved senders",
    "add you to my list of approved senders",
    "until you verify",
    "to have your message delivered",
    "my guest list",
)

_LIST_SENDER_PARTS = (
    "-owner@",
    "-admin@",
    "-request@",
    "-bounces@",
    "listserv@",
    "sympa@",
    "mailman@",
)
_LIST_TEXT = (
    "awaits moderator approval",
    "held until the list moderator",
    "held for moderation",
    "held for approval",
    "pending moderator approval",
    "pending approval",
    "requires moderator approval",
    "has been forwarded to the moderator",
    "forwarded to editor",
    "your subscription request",
    "confirm your subscription",
    "confirm your request to join",
    "you have been unsubscribed",
    "welcome to the",
)


def is_mta_notice(view: MessageView) -> bool:
    """An MTA telling its administrator something (a frozen message, a filter error)."""
    subject = view.header("subject").lower()
    return subject.startswith(_MTA_NOTICE_SUBJECTS)


def is_feedback_report(view: MessageView, types: set[str]) -> bool:
    """A feedback-loop complaint report (RFC 5965 ARF, Microsoft JMRP, AOL/Yahoo text FBLs);
    ``types`` are the report's part types (_part_types)."""
    if view.report_type == "feedback-report" or "message/feedback-report" in types:
        return True
    if view.get("x-hmxmroriginalrecipient"):
        return True
    subject = view.header("subject").lower()
    if subject.startswith(_FEEDBACK_SUBJECTS):
        return True
    if view.status_parts:
        return False  # a DSN: no feedback loop writes one, and its text need not be decoded
    head = view.plain_text_head[:4000]
    return contains_any(head, _FEEDBACK_TEXT)


def is_read_receipt(view: MessageView, types: set[str]) -> bool:
    """A message disposition notification (RFC 8098): a read receipt, not a failure."""
    return (
        view.report_type == "disposition-notification"
        or "message/disposition-notification" in types
    )


def _part_types(view: MessageView) -> set[str]:
    """The MIME types of the report's own parts, for the checks that look for one."""
    return {content_type(part) for part in view.parts} if view.message.is_multipart() else set()


def is_challenge(view: MessageView) -> bool:
    """A challenge-response system asking the sender to prove to be a person.

    A challenge comes from the protected person's address; a daemon's report that quotes such
    wording (the bounce of a challenge) is still a report, so those are let go first."""
    if from_mail_system(view) or view.status_parts:
        return False
    message = view.message
    if "tmda" in str(view.get("x-delivery-agent") or "").lower():
        return True
    if any(name.lower().startswith(("x-boxbe", "x-spamarrest", "x-tmda")) for name in message):
        return True
    sender = view.header("from").lower()
    if contains_any(sender, _CR_SENDER_DOMAINS):
        return True
    subject = view.header("subject").lower()
    if contains_any(subject, _CR_SUBJECTS):
        return True
    head = view.text_head
    return contains_any(head, _CR_TEXT)


def is_list_notice(view: MessageView) -> bool:
    """A list manager's moderation or subscription notice, not a delivery failure.

    Needs a list manager's signature (Mailman's administrivia header, a list's owner/request
    address, LISTSERV or Sympa) and its wording; a list's own bounce of a post ("you are not
    allowed to post") is a rejection and stays a bounce.
    """
    administrivia = str(view.get("x-list-administrivia") or "").strip().lower() == "yes"
    sender = f"{view.header('from')} {view.header('sender')}".lower()
    listed = (
        administrivia
        or contains_any(sender, _LIST_SENDER_PARTS)
        or "l-soft list server" in sender
        or bool(view.get("x-google-group-id"))
        or bool(view.get("x-mailman-version"))
    )
    if not listed:
        return False
    subject = view.header("subject").lower()
    head = f"{subject}\n{view.text_head}"
    return (administrivia and not bounce_subject(view)) or contains_any(head, _LIST_TEXT)


def is_auto_reply(view: MessageView) -> bool:
    """An out-of-office or other auto-responder answer (RFC 3834 and common vendor headers)."""
    return auto_submitted(view.message).startswith("auto-replied") or says_auto_reply(view)


def says_auto_reply(view: MessageView) -> bool:
    """A vendor header or the subject says auto-reply, and the subject is no bounce subject.

    Strong enough to be asked before the bounce recognisers: Exim's bounces carry
    ``Auto-Submitted: auto-replied`` but none of these.
    """
    if view.get("x-autoreply") or view.get("x-autorespond") or view.get("x-vacation"):
        return True
    if (
        view.header("x-auto-response-suppress")
        and "oof" in view.header("x-ms-exchange-inbox-rules-loop").lower()
    ):
        return True
    if bounce_subject(view):
        return False
    subject = view.header("subject").lower()
    return contains_any(subject, _AUTO_REPLY_SUBJECTS)


def not_bounce_kind(view: MessageView) -> str | None:
    """The kind of a look-alike that is never a bounce, asked before any bounce recogniser."""
    types = _part_types(view)
    if is_feedback_report(view, types):
        return "arf"
    if is_read_receipt(view, types):
        return "mdn"
    if is_mta_notice(view):
        return "mta-notice"
    if is_challenge(view):
        return "challenge-response"
    if is_list_notice(view):
        return "list-notice"
    if says_auto_reply(view):
        return "auto-reply"
    return None
