"""Messages that look like bounces but are not delivery failures.

Feedback-loop (ARF, RFC 5965) reports and auto-replies (RFC 3834) come from mail systems
too, often with a null sender; counting them as bounces would suppress working addresses.
"""

from __future__ import annotations

from backscatter.mail.message import MessageView

_AUTO_REPLY_SUBJECTS = (
    "out of office",
    "out of the office",
    "auto:",
    "autoreply",
    "auto-reply",
    "auto reply",
    "automatic reply",
    "away from",
    "on vacation",
    "vacation",
    "abwesenheit",
    "automatische antwort",
    "réponse automatique",
    "absence",
    "respuesta automática",
)


#: Subjects of reports an MTA writes to a postmaster or a local user about its own state,
#: not to a sender about a failed delivery: Exim's moan_tell_someone() ("Message frozen",
#: filter errors), Postfix's smtpd notices to the postmaster (``notify_classes``).
_MTA_NOTICE_SUBJECTS = (
    "message frozen",
    "error(s) in forwarding or filtering",
    "postfix smtp server: errors from",
    "postfix smtp server: too many errors",
)


def is_mta_notice(view: MessageView) -> bool:
    """An MTA telling its administrator something (a frozen message, a filter error)."""
    subject = view.header("subject").lower()
    return subject.startswith(_MTA_NOTICE_SUBJECTS)


def is_feedback_report(view: MessageView) -> bool:
    """An ARF abuse/complaint report (RFC 5965), not a delivery failure."""
    if view.report_type == "feedback-report":
        return True
    return any(p.get_content_type() == "message/feedback-report" for p in view.parts)


def is_auto_reply(view: MessageView) -> bool:
    """An out-of-office or other auto-responder answer (RFC 3834 and common vendor headers)."""
    auto = view.header("auto-submitted").lower()
    if auto.startswith("auto-replied"):
        return True
    message = view.message
    if message.get("x-autoreply") or message.get("x-autorespond") or message.get("x-vacation"):
        return True
    if (
        view.header("x-auto-response-suppress")
        and "oof" in view.header("x-ms-exchange-inbox-rules-loop").lower()
    ):
        return True
    subject = view.header("subject").lower()
    return any(phrase in subject for phrase in _AUTO_REPLY_SUBJECTS)
