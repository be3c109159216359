"""Apache James: the SMTP error first, then a "Message details:" block of the envelope.

    Error message below:
    550 - Requested action not taken: no such user here

    Message details:
      MAIL FROM: sender@example.org
      RCPT TO: user@example.net

The failed recipients are the ``RCPT TO:`` lines. No copy of the message comes back; the
parser takes the original's Message-ID from ``In-Reply-To``, which James sets.
"""

from __future__ import annotations

from backscatter.mail.addresses import addresses_in_text
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.text import find_marker, lower_lines
from backscatter.mail.message import MessageView

_ERROR, _DETAILS = "error message below:", "message details:"
_DETAIL_LINES = 40


class ApacheJames:
    name = "apachejames"

    def recognise(self, view: MessageView) -> Report | None:
        head = view.plain_text_head
        if view.text_is_html or not all(p in head for p in (_ERROR, _DETAILS, "rcpt to:")):
            return None
        lines, lowered = lower_lines(view.plain_text)
        error = find_marker(lowered, (_ERROR,))
        details = find_marker(lowered, (_DETAILS,), (error or 0) + 1)
        if error is None or details is None:
            return None
        diagnostic = " ".join(line.strip() for line in lines[error + 1 : details] if line.strip())
        recipients = [
            FoundRecipient(address=address, diagnostic=diagnostic or None)
            for line, low in zip(
                lines[details : details + _DETAIL_LINES],
                lowered[details : details + _DETAIL_LINES],
                strict=True,
            )
            if low.strip().startswith("rcpt to:")
            for address in addresses_in_text(line)
        ]
        if not recipients:
            return None
        return Report(self.name, recipients=recipients)


RECOGNISER = ApacheJames()
