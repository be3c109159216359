"""MailMarshal SMTP (Marshal, later Trustwave Secure Email Gateway) non-delivery reports.

Layout (Sisimai ``Lhost/MailMarshalSMTP.pm``; ``Subject: Undeliverable Mail: "<subject>"``)::

    Your message:
       From:    sender@example.org
       Subject: ...

    Could not be delivered because of

    550 5.1.1 User unknown

    The following recipients were affected:
        user@example.net

    Additional Information
    ======================
    Original Sender:    <sender@example.org>
    Reporting-MTA:      <relay.example.net>

The error stands above the recipients, so it is read once and given to each of them.
"""

from __future__ import annotations

from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.text import find_marker, lower_lines
from backscatter.mail.message import MessageView

_ERROR = "could not be delivered because of"
_AFFECTED = "the following recipients were affected:"
_MAX_LINES = 300


class MailMarshal:
    name = "mailmarshal"

    def recognise(self, view: MessageView) -> Report | None:
        head = view.plain_text_head
        if view.text_is_html or _ERROR not in head or _AFFECTED not in head:
            return None
        lines, lowered = lower_lines(view.plain_text, _MAX_LINES)
        error = find_marker(lowered, (_ERROR,))
        affected = find_marker(lowered, (_AFFECTED,), (error or 0) + 1)
        if error is None or affected is None:
            return None
        diagnostic = " ".join(line.strip() for line in lines[error + 1 : affected] if line.strip())
        recipients: list[FoundRecipient] = []
        for line in lines[affected + 1 : affected + 100]:
            if not line.strip():
                if recipients:
                    break
                continue
            addresses = list(addresses_in_text(line))
            if not addresses:
                break
            recipients.extend(
                FoundRecipient(normalise(a), diagnostic or None, action="failed") for a in addresses
            )
        if not recipients:
            return None
        reporting = _field(lines, lowered, "reporting-mta:")
        return Report(self.name, recipients=recipients, reporting_mta=reporting)


def _field(lines: list[str], lowered: list[str], name: str) -> str | None:
    for line, low in zip(lines, lowered, strict=True):
        if low.startswith(name):
            return line.split(":", 1)[1].strip().strip("<>") or None
    return None


RECOGNISER = MailMarshal()
