"""Verizon Wireless gateway reports: vtext.com (SMS) and vzwpix.com (MMS).

Neither writes a DSN or names the recipient in prose; the wording is read the way Sisimai's
``Sisimai::Lhost::Verizon`` (lib/Sisimai/Lhost/Verizon.pm) documents it:

- vtext.com, From ``post_master@vtext.com``: an ``Error: 550 - Requested action not taken:
  no such user here`` line, then "Message details:" with indented ``Subject:``, ``MAIL
  FROM:`` and ``RCPT TO:`` lines; the recipients are the ``RCPT TO:`` lines.
- vzwpix.com, From ``sysadmin@...vzwpix.com``: "Message could not be delivered to mobile.",
  an ``Error: No valid recipients for this MM`` line, then "Original Message:" with the
  copy's ``From:``/``To:``/``Subject:``; the recipients are its ``To:`` lines.
"""

from __future__ import annotations

from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.message import MessageView

#: The gateways' own errors carry no code; Sisimai reads both as an unknown recipient (the
#: handset number does not exist on the network).
_KNOWN_ERRORS = {
    "no valid recipients for this mm": "5.1.1",
    "requested action not taken: no such user here": "5.1.1",
}


class Verizon:
    name = "verizon"

    def recognise(self, view: MessageView) -> Report | None:
        sender = view.header("from").lower()
        if "post_master@vtext." in sender:
            marker = "rcpt to:"
        elif "sysadmin@" in sender and "vzwpix." in sender:
            marker = "to:"
        else:
            return None
        if view.text_is_html:
            return None
        error: str | None = None
        addresses: list[str] = []
        original = False
        for line in view.plain_text.splitlines()[:200]:
            stripped = line.strip()
            lowered = stripped.lower()
            if lowered.startswith("error:") and error is None:
                error = stripped[6:].strip() or None
            elif lowered.startswith("original message:"):
                original = True
            elif lowered.startswith(marker) and (marker == "rcpt to:" or original):
                addresses.extend(normalise(a) for a in addresses_in_text(stripped))
        lowered_error = (error or "").lower()
        status = next((code for text, code in _KNOWN_ERRORS.items() if text in lowered_error), None)
        recipients = [
            FoundRecipient(address=a, diagnostic=error, status=status, action="failed")
            for a in dict.fromkeys(addresses)
        ]
        return Report(self.name, recipients=recipients) if recipients else None


RECOGNISER = Verizon()
