"""Mailgun webhook and Events API documents (JSON), saved to a file or mailed as a body.

Mailgun's webhooks post ``{"signature": ..., "event-data": {...}}``; its Events API returns
``{"items": [...]}``. Both carry the event object documented in Mailgun's "Events" reference
(documentation.mailgun.com, "Event Structure"): ``event`` "failed" with ``severity``
"permanent" or "temporary", ``recipient``, ``delivery-status`` (``code`` the SMTP reply as an
integer, ``enhanced-code``, ``message``, ``description``) and ``message.headers.message-id``,
the Message-ID Mailgun gave the message. Other events (delivered, opened, ...) are not bounces.
"""

from __future__ import annotations

from typing import Any

from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.jsonevents import clean_id, events, json_body, recipient, text_of
from backscatter.mail.message import MessageView

_KNOWN_EVENTS = frozenset(
    {"accepted", "rejected", "delivered", "failed", "opened", "clicked", "unsubscribed",
     "complained", "stored"}
)  # fmt: skip


class Mailgun:
    name = "mailgun"

    def recognise(self, view: MessageView) -> Report | None:
        document = json_body(view, "event-data", "delivery-status", "items")
        if isinstance(document, dict):
            if isinstance(document.get("event-data"), dict):
                document = document["event-data"]
            elif isinstance(document.get("items"), list):
                document = document["items"]
        found: list[FoundRecipient] = []
        message_id = None
        seen = False
        for event in events(document):
            kind = text_of(event.get("event"))
            if kind not in _KNOWN_EVENTS or "recipient" not in event:
                continue
            seen = True
            if kind != "failed":
                continue
            entry = _failed(event)
            if entry is not None:
                found.append(entry)
                message_id = message_id or _message_id(event)
        if found:
            return Report(self.name, recipients=found, original_message_id=message_id)
        return Report(self.name, is_bounce=False) if seen else None


def _failed(event: dict[str, Any]) -> FoundRecipient | None:
    status = event.get("delivery-status")
    status = status if isinstance(status, dict) else {}
    code = text_of(status.get("code"))
    words = text_of(status.get("message")) or text_of(status.get("description"))
    diagnostic = " ".join(part for part in (code, words) if part) or text_of(event.get("reason"))
    severity = text_of(event.get("severity"))
    permanent = None if severity is None else severity == "permanent"
    return recipient(
        event.get("recipient"), diagnostic, text_of(status.get("enhanced-code")), permanent
    )


def _message_id(event: dict[str, Any]) -> str | None:
    message = event.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    return clean_id(headers.get("message-id")) if isinstance(headers, dict) else None


RECOGNISER = Mailgun()
