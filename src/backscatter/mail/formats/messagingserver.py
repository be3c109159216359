"""Netscape Messaging Server, iPlanet / Sun Java System / Oracle Communications Messaging
Server (the PMDF lineage): their text reports when no DSN part carries the recipients.

Two layouts, both read here:

- Sun/Oracle (``Subject: Delivery Notification: ...``, MIME boundaries ``Boundary_(ID_...)``;
  Sisimai ``Lhost/MessagingServer.pm``, Oracle Messaging Server docs)::

      This report relates to a message you sent with the following header fields:
        Message-id: <original@sender.example>
      Your message cannot be delivered to the following recipients:
        Recipient address: user@example.net
        Original address: alias@example.net
        Reason: Remote SMTP server has rejected address
        Diagnostic code: smtp;550 5.1.1 <user@example.net>... User unknown
        Remote system: dns;mx.example.net (TCP|...)

- Netscape Messaging Server 3.x/4.x (flufl.bounce ``netscape.py``): the reason first, then
  the refused addresses in angle brackets, then a "Please reply to Postmaster@..." line::

      This Message was undeliverable due to the following reason:
      The user(s) account is temporarily over quota.
      <user@example.net>
      Please reply to Postmaster@example.net
"""

from __future__ import annotations

from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.text import find_marker, is_delay_warning, lower_lines
from backscatter.mail.message import MessageView
from backscatter.mail.signals import from_mail_system, null_sender

_SUN = "this report relates to a message you sent with the following header fields"
_NETSCAPE = "this message was undeliverable due to the following reason"
_RECIPIENT_FIELDS = ("recipient address:", "original address:")
_DETAIL_FIELDS = ("reason:", "diagnostic code:")
_MAX_LINES = 300


class MessagingServer:
    name = "messagingserver"

    def recognise(self, view: MessageView) -> Report | None:
        if view.text_is_html:
            return None
        head = view.plain_text_head
        if _SUN not in head and _NETSCAPE not in head:
            return None
        lines, lowered = lower_lines(view.plain_text, _MAX_LINES)
        if _SUN in head:
            recipients = _sun(lines, lowered)
        elif _from_the_mail_system(view):
            recipients = _netscape(lines, lowered)
        else:
            return None
        if not recipients:
            return None
        action = "delayed" if is_delay_warning(view.plain_text) else "failed"
        for recipient in recipients:
            recipient.action = action
        return Report(self.name, recipients=recipients)


def _from_the_mail_system(view: MessageView) -> bool:
    """The Netscape wording is short and generic enough for a phishing mail to copy; a real
    report comes from the mail system (a daemon From or a null sender) or returns the
    original."""
    return from_mail_system(view) or null_sender(view) or view.attached_original is not None


def _sun(lines: list[str], lowered: list[str]) -> list[FoundRecipient]:
    """One block of ``Field: value`` lines per recipient; a new Recipient address starts one."""
    found: list[FoundRecipient] = []
    details: list[str] = []
    for line, low in zip(lines, lowered, strict=True):
        field = low.strip()
        if field.startswith(_RECIPIENT_FIELDS):
            addresses = [normalise(a) for a in addresses_in_text(line)]
            if not addresses:
                continue
            if field.startswith("original address:") and found:
                continue  # the alias the sender used; the Recipient address is the mailbox
            _close(found, details)
            found.append(FoundRecipient(addresses[-1]))
            details = []
        elif found and field.startswith(_DETAIL_FIELDS):
            details.append(line.split(":", 1)[1].strip())
        elif found and field.startswith("remote system:"):
            remote = line.split(":", 1)[1].strip()
            found[-1].remote_mta = remote.split(";", 1)[-1].split(" ", 1)[0] or None
    _close(found, details)
    return found


def _close(found: list[FoundRecipient], details: list[str]) -> None:
    if found and details and found[-1].diagnostic is None:
        found[-1].diagnostic = " ".join(details)


def _netscape(lines: list[str], lowered: list[str]) -> list[FoundRecipient]:
    """Each bracketed address, with the lines under it ("Reason: 550 ...") when NMS 4 wrote
    them, else the reason paragraph above the list, which NMS 3 gives for all of them."""
    start = find_marker(lowered, (_NETSCAPE,))
    if start is None:
        return []
    preamble: list[str] = []
    found: list[tuple[FoundRecipient, list[str]]] = []
    window = range(start + 1, min(start + 60, len(lines)))
    for line, low in ((lines[i], lowered[i]) for i in window):
        if "please reply to" in low:
            break
        bracketed = [a for a in addresses_in_text(line) if f"<{a.lower()}>" in low]
        if bracketed:
            found.extend((FoundRecipient(normalise(a)), []) for a in bracketed)
        elif line.strip():
            (found[-1][1] if found else preamble).append(line.strip())
    for recipient, below in found:
        recipient.diagnostic = " ".join(below or preamble) or None
    return [recipient for recipient, _ in found]


RECOGNISER = MessagingServer()
