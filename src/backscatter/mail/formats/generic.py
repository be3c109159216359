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
    LIST_PUNCTUATION,
    RETURNED_MARKERS,
    TextFormat,
    find_marker,
    header_block_start,
    lower_lines,
    read_text_report,
    returned_headers,
)
from backscatter.mail.message import MessageView, contains_any, header_text
from backscatter.mail.signals import (
    DAEMON_LOCALS,
    FAILURE_PHRASES,
    bounce_subject,
    from_mail_system,
    is_report,
    mail_system_speaking,
    null_sender,
    states_failure,
)

__all__ = ["RECOGNISER", "addressed_in", "has_mail_system_signature", "returned_recipients"]

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
_ABOVE = 12
_MAX_LOOK_ABOVE = 20


def system_looking_sender(view: MessageView) -> bool:
    """The From's local part is a system's (``mailer@``, ``bounce@``), not a person's."""
    return any(local in _SYSTEM_LOCALS or local in DAEMON_LOCALS for local in _from_locals(view))


def _from_locals(view: MessageView) -> list[str]:
    """The lower-cased local parts of the From addresses."""
    return [address.split("@", 1)[0].lower() for address in header_addresses(view.header("from"))]


def has_mail_system_signature(view: MessageView) -> bool:
    """The first gate: plain report text and a mail system's mark in the headers."""
    if view.text_is_html:
        return False
    return mail_system_speaking(view) or (bounce_subject(view) and system_looking_sender(view))


def report_text(view: MessageView) -> str | None:
    """The text to read: the plain report, or an HTML-only report's visible text when the
    envelope sender is null and the From address itself is a daemon's (``MAILER-DAEMON@``,
    ``postmaster@``). A display name or a bounce subject is not enough for HTML: that is
    what phishing imitates."""
    if has_mail_system_signature(view):
        return view.plain_text
    if view.text_is_html and null_sender(view) and _daemon_address(view):
        return view.text
    return None


def _daemon_address(view: MessageView) -> bool:
    return any(local in DAEMON_LOCALS for local in _from_locals(view))


def _weakly_signed(view: MessageView) -> bool:
    """Signed only by a null sender or Auto-Submitted, which auto-responders write too.

    Such a message must state its failure in words or with an enhanced status code; an
    address the copy was sent to is not enough (an auto-reply quotes the copy's headers).
    """
    message = view.message
    return not (
        message.get("x-failed-recipients")
        or from_mail_system(view)
        or is_report(view)
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
        if not _is_separator(lines[index]):
            continue
        # Only the few lines after the rule are searched: bounded work per separator.
        window = lines[index + 1 : index + 2 + _SEPARATOR_REACH]
        block = header_block_start(window, 0)
        if block is not None and block < _SEPARATOR_REACH:
            return index
    return None


def _is_separator(line: str) -> bool:
    """A rule (``-----``), a rule with words inside (``------- Returned Message -------``) or
    the signature dash line (``-- ``)."""
    if line.rstrip("\r\n") == "-- ":
        return True
    stripped = line.strip().lstrip(">").strip()
    if len(stripped) < 5 or stripped[0] not in _RULE_CHARS:
        return False
    if set(stripped) <= _RULE_CHARS:
        return True
    edge = stripped[0]
    return stripped.startswith(edge * 3) and stripped.endswith(edge * 3)


class Generic:
    """Accepts a report of any layout where a recipient's failure is stated."""

    name = "generic"
    _format = TextFormat("generic", has_mail_system_signature)

    def recognise(self, view: MessageView) -> Report | None:
        text = report_text(view)
        if text is None:
            return None
        if _weakly_signed(view) and not _says_failed(text[:20000].lower()):
            return None
        failed_header = [
            normalise(a) for a in addresses_in_text(view.header("x-failed-recipients"))
        ]
        report = _read(view, text)
        kept = _failed(report, view, text) if report is not None else []
        if not kept and not failed_header:
            report = _addressed_only(view, text)
            kept = _failed(report, view, text) if report is not None else []
        if report is None:
            report = Report(self.name)
        if failed_header:
            kept = _with_header_recipients(kept, report.recipients, failed_header)
        report.recipients = kept
        return report if kept else None


def _failed(report: Report, view: MessageView, text: str) -> list[FoundRecipient]:
    """The report's addresses with a failure stated next to them (below, or above a line
    that only names the recipient), or that the returned original was sent to."""
    addressed = returned_recipients(report.returned or view.attached_original)
    lines: list[str] | None = None
    first_line: dict[str, int] = {}
    looked_up = 0
    kept: list[FoundRecipient] = []
    for recipient in report.recipients:
        stated = states_failure(recipient.diagnostic)
        if not stated and looked_up < _MAX_LOOK_ABOVE:
            if lines is None:
                lines = text.splitlines()
                first_line = _first_lines(lines)
            looked_up += 1
            index = first_line.get(recipient.address.lower())
            if index is not None:
                stated = _take_statement_above(recipient, lines, index)
        if stated or recipient.address.lower() in addressed:
            kept.append(recipient)
    return kept


def _first_lines(lines: list[str]) -> dict[str, int]:
    """Each address's first line, found in one pass over the text."""
    found: dict[str, int] = {}
    for index, line in enumerate(lines):
        if "@" in line:
            for address in addresses_in_text(line):
                found.setdefault(address.lower(), index)
    return found


def _take_statement_above(recipient: FoundRecipient, lines: list[str], index: int) -> bool:
    """A failure stated in the lines above an address that stands alone or after
    ``RCPT TO:`` (Apache James, some carriers: the error, then "Message details" with the
    envelope) is that recipient's diagnostic. True when one was found."""
    rest = lines[index].lower().replace(recipient.address.lower(), "", 1)
    if rest.strip(LIST_PUNCTUATION) not in ("", "rcpt to", "recipient", "to"):
        return False
    above = [text.strip() for text in lines[max(0, index - _ABOVE) : index] if text.strip()]
    for number in range(len(above)):
        if "@" not in above[number] and states_failure(above[number]):
            statement = " ".join(above[number:])
            recipient.diagnostic = f"{statement} {recipient.diagnostic or ''}".strip()
            return True
    return False


def _says_failed(text: str) -> bool:
    """The text states a failure in words or with an RFC 3463 code."""
    return contains_any(text, FAILURE_PHRASES) or bool(status_codes.enhanced_status(text))


def _read(view: MessageView, text: str) -> Report | None:
    """The phrase engine's reading, cut at a bare separator when no marker names the copy."""
    report = read_text_report(Generic._format, view, text)
    if report is None or report.returned is not None:
        return report
    lines, lowered = lower_lines(text)
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


def _addressed_only(view: MessageView, text: str) -> Report | None:
    """A report that states a failure but names nobody (Sendmail V5, some carriers).

    The recipients are then those the returned original was addressed to, as Sisimai
    does for these formats; a report with no returned original names nobody and is declined.
    """
    # A daemon's From with a bounce subject states the failure on its own (Exim's "Mail
    # failure - no recipient addresses" says it in no other words).
    signed = from_mail_system(view) and bounce_subject(view)
    if not signed and not states_failure(text[:4000]):
        return None
    lines, lowered = lower_lines(text)
    marker = find_marker(lowered, RETURNED_MARKERS)
    if marker is None:
        marker = separator_before_headers(lines)
    returned = returned_headers(lines, marker + 1) if marker is not None else None
    returned = returned or view.attached_original
    if returned is None:
        return None
    addressed = addressed_in(returned) or sorted(returned_recipients(returned))
    if not addressed or len(addressed) > 5:
        return None
    return Report(
        "generic",
        [FoundRecipient(address=a, diagnostic=text[:600]) for a in addressed],
        returned=returned,
    )


def _with_header_recipients(
    kept: list[FoundRecipient], candidates: list[FoundRecipient], failed: list[str]
) -> list[FoundRecipient]:
    """X-Failed-Recipients (Exim, Google) is authoritative about who failed."""
    by_address = {r.address.lower(): r for r in candidates}
    return [by_address.get(a.lower()) or FoundRecipient(address=a) for a in failed]


RECOGNISER = Generic()
