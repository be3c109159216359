"""Ipswitch IMail Server (SMTP32) non-delivery reports.

Markers (Sisimai ``Lhost/IMailServer.pm``; flufl.bounce ``smtp32.py``): ``X-Mailer:
<SMTP32 vX.YY>``, ``Subject: Undeliverable Mail``, the copy after "Original message follows.".
Each failure is one line, ``<Why>: <address>`` ("Unknown user: user@example.net",
"Invalid final delivery userid: ...", "User mailbox exceeds allowed size: ...") or
``undeliverable to <address>``; the remote server's words, when there are any, follow
"Body of message generated response:" and belong to every recipient.
"""

from __future__ import annotations

from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.text import find_marker, lower_lines, returned_headers
from backscatter.mail.message import MessageView

_COPY = "original message follows."
_RESPONSE = "body of message generated response:"


class IMail:
    name = "imail"

    def recognise(self, view: MessageView) -> Report | None:
        if view.text_is_html or not _is_imail(view):
            return None
        lines, lowered = lower_lines(view.plain_text)
        copy = find_marker(lowered, (_COPY,))
        end = copy if copy is not None else min(len(lines), 200)
        recipients: list[FoundRecipient] = []
        response: list[str] = []
        in_response = False
        for line, low in zip(lines[:end], lowered[:end], strict=True):
            text = line.strip()
            colon = text.find(": ")
            if low.strip().startswith("undeliverable to ") or (colon > 8 and "@" in text[colon:]):
                in_response = False
                recipients.extend(
                    FoundRecipient(normalise(a), text, action="failed")
                    for a in addresses_in_text(text[max(colon, 0) :])
                )
            elif _RESPONSE in low:
                in_response = True
            elif in_response and text:
                response.append(text)
        if not recipients:
            return None
        if response:
            for recipient in recipients:
                recipient.diagnostic = f"{' '.join(response)} {recipient.diagnostic}"
        returned = returned_headers(lines, copy + 1) if copy is not None else None
        return Report(self.name, recipients=recipients, returned=returned)


def _is_imail(view: MessageView) -> bool:
    if view.header("x-mailer").lower().startswith("<smtp32 v"):
        return True
    subject = view.header("subject").lower()
    return (
        subject.startswith("undeliverable mail")
        and not subject.startswith('undeliverable mail: "')
        and _COPY in view.plain_text_head
    )


RECOGNISER = IMail()
