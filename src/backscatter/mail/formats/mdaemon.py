"""MDaemon (Alt-N / MDaemon Technologies) delivery failure reports.

MDaemon writes no DSN part. Its report is a short preamble and its own SMTP session log
(each line stamped with the date; ``-->`` what MDaemon sent, ``<--`` what it was told)::

    The attached message had PERMANENT fatal delivery errors!
    ...
    --- Session Transcript ---
     Mon 2025-06-02 10:00:01: *  Message-ID: <original@sender.example>
     Mon 2025-06-02 10:00:01: --> RCPT To:<user@remote.example>
     Mon 2025-06-02 10:00:01: <-- 550 5.1.1 User unknown
    --- End Transcript ---

Older versions open with "The following addresses did NOT receive a copy of your message:"
and list ``> user@domain`` lines (flufl.bounce ``simplematch.py``, "MDaemon 3.5.2").
Markers: ``X-MDaemon-Deliver-To`` header, ``X-Mailer: MDaemon ...``, the "Session Transcript"
rule. The failed recipient is the RCPT TO that drew a 4xx/5xx reply; the log's
``*  Message-ID:`` line names the original when no copy is attached.
"""

from __future__ import annotations

from backscatter.mail import status as status_codes
from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.text import is_delay_warning, lower_lines
from backscatter.mail.message import MessageView

_TRANSCRIPT = "--- session transcript ---"
_LISTED = "did not receive a copy of your message"
_MAX_LINES = 400


class MDaemon:
    name = "mdaemon"

    def recognise(self, view: MessageView) -> Report | None:
        if view.text_is_html or not _is_mdaemon(view):
            return None
        lines, lowered = lower_lines(view.plain_text, _MAX_LINES)
        recipients = _from_transcript(lines, lowered) or _from_list(lines, lowered)
        if not recipients:
            return None
        permanent = "permanent fatal" in view.plain_text_head
        delayed = not permanent and is_delay_warning(view.plain_text)
        for recipient in recipients:
            stated = status_codes.enhanced_status(recipient.diagnostic or "")
            soft = delayed and (not stated or stated[0] != "5")
            recipient.action = "delayed" if soft else "failed"
        logged = None if view.attached_original is not None else _logged_id(lowered, lines)
        return Report(self.name, recipients=recipients, original_message_id=logged)


def _is_mdaemon(view: MessageView) -> bool:
    if view.get("x-mdaemon-deliver-to") is not None:
        return True
    if "mdaemon" in view.header("x-mailer").lower():
        return True
    return _TRANSCRIPT in view.plain_text_head and "mdaemon" in view.header("from").lower()


def _reply(line: str) -> str | None:
    """The server's reply on a ``<--`` line, when it is a failure (4xx or 5xx)."""
    at = line.find("<-- ")
    if at == -1:
        return None
    reply = line[at + 4 :].strip()
    return reply if reply[:1] in ("4", "5") and reply[:3].isdigit() else None


def _from_transcript(lines: list[str], lowered: list[str]) -> list[FoundRecipient]:
    found: dict[str, FoundRecipient] = {}
    for index, low in enumerate(lowered):
        if "--> rcpt to:" not in low:
            continue
        addresses = list(addresses_in_text(lines[index]))
        # The reply to this RCPT is the next "<--" line (pipelining may put others between).
        for following in lines[index + 1 : index + 6]:
            if "<-- " in following or "--> rcpt to:" in following.lower():
                reply = _reply(following)
                if reply and addresses:
                    key = normalise(addresses[0])
                    found.setdefault(key.lower(), FoundRecipient(key, diagnostic=reply))
                break
    return list(found.values())


def _from_list(lines: list[str], lowered: list[str]) -> list[FoundRecipient]:
    """The older layout: ``> user@domain`` lines under the "did NOT receive" heading."""
    start = next((i for i, low in enumerate(lowered) if _LISTED in low), None)
    if start is None:
        return []
    replies = [reply for reply in (_reply(line) for line in lines) if reply]
    diagnostic = replies[-1] if replies else lines[start].strip()
    found: list[FoundRecipient] = []
    for line in lines[start + 1 : start + 50]:
        if line.lower().startswith(_TRANSCRIPT):
            break
        if line.lstrip().startswith(">"):
            found.extend(FoundRecipient(normalise(a), diagnostic) for a in addresses_in_text(line))
    return found


def _logged_id(lowered: list[str], lines: list[str]) -> str | None:
    for low, line in zip(lowered, lines, strict=True):
        if "*  message-id:" in low:
            value = line[low.index("*  message-id:") + 14 :].strip().strip("<>")
            return value or None
    return None


RECOGNISER = MDaemon()
