"""The format-free reader: failed recipients from a report of any layout, any MTA.

Family modules add precision; this reader decides alone whether a report nobody recognised is
read at all. It reads the plain report text as three regions (what MTAs of every kind write,
see text.py): the report, a recipient with the text standing next to it, and the returned
original after a marker or a separator line. It understands an address next to a failure
statement on the same line or the lines after it (``<a@b>: 550 ...``, ``a@b (reason)``,
``RCPT TO:<a@b>`` then the reply, tables, indented and ``>``-quoted lists, the reason above a
bare address), in English and the other languages listed in mail/signals.py.

Two gates keep phishing out. The headers must carry a mail system's signature
(signals.mail_system_speaking, or a bounce subject from a system-looking sender), and each
kept address needs a stated failure next to it (an SMTP reply, an enhanced status, a known
cause or failure phrase) or must be where the returned original was sent. Phishing dressed
as a bounce comes from an ordinary sender, or names only its victim, the bounce's addressee.
A report signed only by Auto-Submitted (auto-responders write it too) must also say in words
that delivery failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import Message

from backscatter.mail import status as status_codes
from backscatter.mail.addresses import addresses_in_text, header_addresses, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.text import (
    RETURNED_MARKERS,
    TextFormat,
    find_marker,
    header_block_start,
    lower_lines,
    read_text_report,
    returned_headers,
)
from backscatter.mail.message import MessageView, header_text
from backscatter.mail.signals import (
    BOUNCE_SUBJECTS,
    DAEMON_LOCALS,
    FAILURE_PHRASES,
    bounce_subject,
    from_mail_system,
    mail_system_speaking,
    null_sender,
    states_failure,
)

__all__ = [
    "BOUNCE_SUBJECTS",
    "DAEMON_LOCALS",
    "RECOGNISER",
    "addressed_in",
    "bounce_subject",
    "from_mail_system",
    "has_mail_system_signature",
    "null_sender",
    "returned_recipients",
    "states_failure",
]

#: Local parts of senders that look like a system rather than a person; with a bounce
#: subject they sign a report (smaller MTAs and providers send from such addresses).
_SYSTEM_LOCALS = frozenset(
    {
        "mailer",
        "mail",
        "bounce",
        "bounces",
        "daemon",
        "mdaemon",
        "smtp",
        "mta",
        "system",
        "root",
        "nobody",
        "admin",
        "mailadmin",
        "mailerror",
        "returned",
    }
)
#: Characters a separator line is drawn with (``-----``, ``_____``, ``=====``).
_RULE_CHARS = frozenset("-_=*~+#")
_SEPARATOR_REACH = 4


def system_looking_sender(view: MessageView) -> bool:
    """The From's local part is a system's (``mailer@``, ``bounce@``), not a person's."""
    for address in header_addresses(view.header("from")):
        local = address.split("@", 1)[0].lower()
        if local in _SYSTEM_LOCALS or local in DAEMON_LOCALS:
            return True
    return False


def has_mail_system_signature(view: MessageView) -> bool:
    """The first gate: plain report text and a mail system's mark in the headers."""
    if view.text_is_html:
        return False
    return mail_system_speaking(view) or (bounce_subject(view) and system_looking_sender(view))


def _weakly_signed(view: MessageView) -> bool:
    """Signed only by a null sender or Auto-Submitted, which auto-responders write too.

    Such a message must state its failure in words or with an enhanced status code; an
    address the copy was sent to is not enough (an auto-reply quotes the copy's headers).
    """
    message = view.message
    return not (
        message.get("x-failed-recipients")
        or from_mail_system(view)
        or view.content_type == "multipart/report"
        or (bounce_subject(view) and (null_sender(view) or system_looking_sender(view)))
    )


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


def separator_before_headers(lines: Sequence[str], start: int = 0) -> int | None:
    """The first separator line (a rule of dashes, underscores, ``=``, or ``-- ``) that a
    header block follows within a few lines: the returned original's start in layouts that
    name it with no words at all."""
    for index in range(start, len(lines)):
        stripped = lines[index].strip().lstrip(">").strip()
        is_rule = len(stripped) >= 5 and set(stripped) <= _RULE_CHARS
        if not (is_rule or lines[index].rstrip("\r\n") == "-- "):
            continue
        block = header_block_start(lines, index + 1)
        if block is not None and block - index <= _SEPARATOR_REACH:
            return index
    return None


class Generic:
    """Accepts a report of any layout where a recipient's failure is stated."""

    name = "generic"
    _format = TextFormat("generic", has_mail_system_signature)

    def recognise(self, view: MessageView) -> Report | None:
        if not has_mail_system_signature(view):
            return None
        if _weakly_signed(view) and not _says_failed(view.plain_text_head):
            return None
        failed_header = [
            normalise(a) for a in addresses_in_text(view.header("x-failed-recipients"))
        ]
        report = _read(view)
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


def _says_failed(text: str) -> bool:
    """The text states a failure in words or with an RFC 3463 code."""
    return any(phrase in text for phrase in FAILURE_PHRASES) or bool(
        status_codes.enhanced_status(text)
    )


def _read(view: MessageView) -> Report | None:
    """The phrase engine's reading, cut at a bare separator when no marker names the copy."""
    report = read_text_report(Generic._format, view)
    if report is None or report.returned is not None:
        return report
    lines, lowered = lower_lines(view.plain_text)
    if find_marker(lowered, RETURNED_MARKERS) is not None:
        return report
    separator = separator_before_headers(lines)
    if separator is None:
        return report
    # Addresses below the separator belong to the returned copy, not to the report.
    inside = {address.lower() for line in lines[separator:] for address in addresses_in_text(line)}
    above = {address.lower() for line in lines[:separator] for address in addresses_in_text(line)}
    report.recipients = [
        r
        for r in report.recipients
        if r.address.lower() in above or r.address.lower() not in inside
    ]
    report.returned = returned_headers(lines, separator + 1)
    return report if report.recipients else None


def _addressed_only(view: MessageView) -> Report | None:
    """A report that states a failure but names nobody (Sendmail V5, some carriers).

    The recipients are then those the returned original was addressed to, as Sisimai
    does for these formats; a report with no returned original names nobody and is declined.
    """
    if not states_failure(view.plain_text[:4000]):
        return None
    lines, lowered = lower_lines(view.plain_text)
    marker = find_marker(lowered, RETURNED_MARKERS)
    if marker is None:
        marker = separator_before_headers(lines)
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
