"""The last resort: a free-text report from an MTA no family module knows.

It only speaks when the headers carry a mail system's signature (a mailer-daemon or
postmaster From, Exim's X-Failed-Recipients, or a bounce subject with a null sender), and
only keeps an address the report gives a failure for: an SMTP code, a failure phrase, or an
address the returned original was sent to. Phishing dressed as a bounce fails the first test
(it comes from an ordinary sender) and usually the second (it names only its victim).
"""

from __future__ import annotations

from email.message import Message

from backscatter.mail import status as status_codes
from backscatter.mail.addresses import addresses_in_text, header_addresses, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.text import (
    RETURNED_MARKERS,
    TextFormat,
    find_marker,
    lower_lines,
    returned_headers,
)
from backscatter.mail.message import MessageView, header_text

DAEMON_LOCALS = (
    "mailer-daemon",
    "postmaster",
    "mail-daemon",
    "mailerdaemon",
    "maildaemon",
    "post_master",
)
BOUNCE_SUBJECTS = (
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
    "fehlgeschlagen",
    "unzustellbar",
    "delivery failure",
    "returned to sender",
    "undelivered",
    "delivery report",
)


def from_mail_system(view: MessageView) -> bool:
    """True when the From header names a mail system rather than a person."""
    sender = view.header("from").lower()
    return any(local in sender for local in DAEMON_LOCALS) or any(
        name in sender for name in ("mail delivery", "mail administrator", "mail deliver")
    )


def null_sender(view: MessageView) -> bool:
    return view.header("return-path").strip() in ("<>", "<MAILER-DAEMON>") and bool(
        view.message.get("return-path")
    )


def bounce_subject(view: MessageView) -> bool:
    subject = view.header("subject").lower()
    return any(phrase in subject for phrase in BOUNCE_SUBJECTS)


def has_mail_system_signature(view: MessageView) -> bool:
    if view.text_is_html:
        return False
    if view.message.get("x-failed-recipients") or from_mail_system(view):
        return True
    return null_sender(view) and bounce_subject(view)


def addressed_in(returned: Message, names: tuple[str, ...] = ("to", "cc")) -> list[str]:
    """The addresses in the returned original's recipient headers, in order, once each."""
    found = [
        address
        for name in names
        for value in returned.get_all(name) or ()
        for address in header_addresses(header_text(value))
    ]
    return list(dict.fromkeys(found))


def returned_recipients(returned: Message | None) -> set[str]:
    """Where the returned original was addressed: To, Cc and Received ``for`` clauses."""
    if returned is None:
        return set()
    names = ("to", "cc", "delivered-to", "x-original-to")
    found = {a.lower() for a in addressed_in(returned, names)}
    for value in returned.get_all("received") or ():
        text = header_text(value)
        at = text.find(" for ")
        if at != -1:
            found.update(a.lower() for a in addresses_in_text(text[at : at + 300]))
    return found


_FAILURE_PHRASES = (
    "could not be delivered",
    "undeliverable",
    "delivery failed",
    "failed permanently",
    "not be delivered",
    "delivery has failed",
    "no valid recipients",
    "unable to deliver",
)


def states_failure(diagnostic: str | None) -> bool:
    """True when text says delivery failed: an SMTP code, a known cause, or plain words."""
    text = diagnostic or ""
    lowered = text.lower()
    return any(p in lowered for p in _FAILURE_PHRASES) or bool(
        status_codes.enhanced_status(text)
        or status_codes.reply_code(text)
        or status_codes.classify_reason(text, None) != status_codes.OTHER
    )


class Generic:
    """Accepts an unknown free-text report only where a recipient's failure is stated."""

    name = "generic"
    _format = TextFormat("generic", has_mail_system_signature)

    def recognise(self, view: MessageView) -> Report | None:
        failed_header = [
            normalise(a) for a in addresses_in_text(view.header("x-failed-recipients"))
        ]
        report = self._format.recognise(view)
        if report is None:
            report = _addressed_only(view) if not failed_header else Report(self.name)
            if report is None:
                return None
        addressed = returned_recipients(report.returned or view.attached_original)
        kept = [
            r
            for r in report.recipients
            if states_failure(r.diagnostic) or r.address.lower() in addressed
        ]
        if failed_header:
            kept = _with_header_recipients(kept, report.recipients, failed_header)
        report.recipients = kept
        return report if kept else None


def _addressed_only(view: MessageView) -> Report | None:
    """A report that states a failure but names nobody (Sendmail V5, some carriers).

    The recipients are then those the returned original was addressed to, as Sisimai
    does for these formats; a report with no returned original names nobody and is declined.
    """
    if not has_mail_system_signature(view) or not states_failure(view.plain_text[:4000]):
        return None
    lines, lowered = lower_lines(view.plain_text)
    marker = find_marker(lowered, RETURNED_MARKERS)
    returned = returned_headers(lines, marker + 1) if marker is not None else None
    returned = returned or view.attached_original
    if returned is None:
        return None
    addressed = addressed_in(returned)
    if not addressed or len(addressed) > 5:
        return None
    return Report(
        "generic",
        [FoundRecipient(address=a, diagnostic=view.plain_text[:600]) for a in addressed],
        returned=returned,
    )


def _with_header_recipients(
    kept: list[FoundRecipient], candidates: list[FoundRecipient], failed: list[str]
) -> list[FoundRecipient]:
    """X-Failed-Recipients (Exim, Google) is authoritative about who failed."""
    by_address = {r.address.lower(): r for r in candidates}
    return [by_address.get(a.lower()) or FoundRecipient(address=a) for a in failed]


RECOGNISER = Generic()
