"""Gmail and Google Workspace failure and delay notices that come without a DSN part.

Two generations of wording, both from ``Mail Delivery Subsystem
<mailer-daemon@googlemail.com>`` with Subject "Delivery Status Notification (Failure|Delay)":

- Before ~2016 (Sisimai ``Sisimai::Lhost::Gmail``, lib/Sisimai/Lhost/Gmail.pm): "Delivery to
  the following recipient failed permanently:" / "has been delayed:", the indented address,
  "Technical details of permanent failure:", and the copy after "----- Original message
  -----". Read by the phrase engine.
- Since then (Sisimai ``Sisimai::Lhost::GoogleWorkspace``): a ``** Heading **`` line ("**
  Address not found **", "** Message not delivered **", "** Message blocked **", "**
  Delivery incomplete **" for a delay), a sentence "Your message wasn't delivered to <addr>
  ..." or "There was a temporary problem delivering your message to <addr>." (some headings,
  such as 'Send mail as' refusals, name no address: then the attached copy's To/Cc are the
  recipients), and "The response was:" with the remote reply. Usually a DSN part follows
  and the RFC 3464 reader answers first; this module reads the ones without.
"""

from __future__ import annotations

from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.generic import addressed_in
from backscatter.mail.formats.text import TextFormat, body_says
from backscatter.mail.message import MessageView

_TEXT = TextFormat(
    "gmail",
    detect=body_says(
        "delivery to the following recipient failed",
        "delivery to the following recipients failed",
        "delivery to the following recipient has been delayed",
        "we're writing to let you know that the group you tried to contact",
        "google tried to deliver your message",
    ),
    starts=(
        "delivery to the following recipient",
        "we're writing to let you know that the group",
    ),
    ends=("----- original message -----",),
)

#: Sentences of the current layout that name the recipient right after them.
_NAMING = (
    "your message wasn't delivered to ",
    "there was a temporary problem delivering your message to ",
    "your message couldn't be delivered to ",
)
_DELAY_HEADINGS = ("** delivery incomplete **", "temporary problem delivering")


class Gmail:
    name = "gmail"

    def recognise(self, view: MessageView) -> Report | None:
        report = _TEXT.recognise(view)
        if report is not None or view.text_is_html:
            return report
        return _current_layout(view)


def _current_layout(view: MessageView) -> Report | None:
    if "mailer-daemon@google" not in view.header("from").lower():
        return None
    text = view.plain_text[:20000]
    head = view.plain_text_head
    if not head.lstrip().startswith("** "):
        return None
    addresses: list[str] = []
    for sentence in _NAMING:
        at = head.find(sentence)
        if at != -1:
            clause = text[at + len(sentence) : at + len(sentence) + 400].split(" because", 1)[0]
            addresses.extend(normalise(a) for a in addresses_in_text(clause.split("\n", 1)[0]))
    if not addresses and view.attached_original is not None:
        addresses = addressed_in(view.attached_original)
    if not addresses:
        return None
    diagnostic = " ".join(text.split())[:1000] or None
    action = "delayed" if any(h in head for h in _DELAY_HEADINGS) else "failed"
    recipients = [
        FoundRecipient(address=a, diagnostic=diagnostic, action=action)
        for a in dict.fromkeys(addresses)
    ]
    return Report("gmail", recipients=recipients)


RECOGNISER = Gmail()
