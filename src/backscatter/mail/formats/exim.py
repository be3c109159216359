"""Exim's bounce and delay messages (also what many hosting providers run).

Exim writes two kinds of failure report:

- ``deliver.c`` (delivery failures and delay warnings): "This message was created
  automatically by mail delivery software." then "The following address(es) failed:" and
  the copy after "------ This is a copy of the message". The phrase engine reads these.
- ``moan.c`` ``moan_send_message`` (the message was refused while it was being received,
  so no recipient got it): Subject "Mail failure - <what>", a body that opens with "A
  message that you sent ...", and the copy after "------ This is a copy of your message".
  These name no failed recipient line; the recipients are the returned copy's (its
  ``Received ... for`` clause, else To/Cc), and the whole paragraph is the diagnostic.

Both carry ``Auto-Submitted: auto-replied`` (moan.c writes it on every report), so this
module must answer before the auto-reply check does.
"""

from __future__ import annotations

from email.message import Message

from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.generic import addressed_in
from backscatter.mail.formats.text import (
    RETURNED_MARKERS,
    TextFormat,
    any_of,
    body_says,
    find_marker,
    header_says,
    lower_lines,
    returned_headers,
)
from backscatter.mail.message import MessageView, header_text
from backscatter.mail.signals import from_mail_system

_DELIVER = TextFormat(
    "exim",
    detect=any_of(
        lambda view: bool(view.get("x-failed-recipients")),
        body_says("this message was created automatically by mail delivery software"),
        header_says("received", "(exim "),
    ),
    starts=(
        "following address(es) failed",
        "following addresses failed",
        "could not be delivered to one or more of its",
        "message has not yet been delivered",
        "delivery to the following recipient",
    ),
    ends=(
        "------ this is a copy of the message",
        "------ the body of the message is",
        "--- the header of the original message is following",
    ),
)

#: moan.c's opening sentences (ERRMESS_*), lower-cased; each names why nothing was delivered.
_MOAN_OPENINGS = (
    "a message that you sent contained a recipient address that was incorrectly",
    "a message that you sent contained one or more recipient addresses that were",
    "a message that you sent using the -t command line option contained no",
    "a message that you sent contained no recipient addresses",
    "a system failure was encountered while processing a message that you sent",
    "a message that you sent contained a header section that was excessively",
    "a message that you sent contained a header line that was excessively",
    "a message that you sent was longer than the maximum size allowed",
    "a message that you sent contained more recipients than allowed",
    "a message that you sent was rejected by the local scanning code",
    "a message that you sent was rejected by the non-smtp acl",
    "a message that you sent has caused the error routine to be entered",
)
_MOAN_COPY = ("------ this is a copy of your message", "------ this is a copy of the headers")
#: Where a moan.c refusal's returned copy starts (precompiled with the families' markers).
MOAN_MARKERS = _MOAN_COPY + RETURNED_MARKERS


class Exim:
    """deliver.c reports through the phrase engine; moan.c refusals read as a whole."""

    name = "exim"

    def recognise(self, view: MessageView) -> Report | None:
        report = _DELIVER.recognise(view)
        if report is not None or view.text_is_html:
            return report
        return _moan_report(view)


def _moan_report(view: MessageView) -> Report | None:
    if not view.header("subject").lower().startswith("mail failure"):
        return None
    head = view.plain_text_head.lstrip()
    if not head.startswith(_MOAN_OPENINGS) or not from_mail_system(view):
        return None
    lines, lowered = lower_lines(view.plain_text)
    copy = find_marker(lowered, MOAN_MARKERS)
    returned = returned_headers(lines, copy + 1) if copy is not None else None
    paragraph = " ".join(" ".join(lines[: copy if copy is not None else 40]).split())
    diagnostic = f"{view.header('subject')}: {paragraph}"[:1000]
    listed = _malformed_addresses(lines[: copy if copy is not None else len(lines)])
    addresses = listed or _envelope_recipients(returned)
    recipients = [
        FoundRecipient(address=a, diagnostic=diagnostic, action="failed") for a in addresses
    ]
    return Report("exim", recipients=recipients, returned=returned)


def _malformed_addresses(lines: list[str]) -> list[str]:
    """ERRMESS_BAD*ADDRESS lists each bad address indented: ``  addr: why`` or ``  addr  why``."""
    found = []
    for line in lines:
        if line.startswith("  ") and "@" in line:
            found.extend(normalise(a) for a in addresses_in_text(line.split(":", 1)[0]))
    return list(dict.fromkeys(found))


def _envelope_recipients(returned: Message | None) -> list[str]:
    """Who the refused message was for: the ``for`` clause Exim put in its own Received
    header (the envelope), else the copy's To/Cc headers."""
    if returned is None:
        return []
    found: list[str] = []
    for value in returned.get_all("received") or ():
        text = header_text(value)
        at = text.find(" for ")
        if at != -1:
            found.extend(normalise(a) for a in addresses_in_text(text[at : at + 300]))
    if not found:
        found = addressed_in(returned)
    return list(dict.fromkeys(found))[:50]


RECOGNISER = Exim()
