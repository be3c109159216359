"""SendGrid Event Webhook posts (JSON), saved to a file or mailed as a message body.

SendGrid posts a JSON list of events; the delivery events and their fields are documented
in SendGrid's "Event Webhook Reference" (docs.sendgrid.com, "Delivery events"): ``bounce``
(``type`` "bounce" or "blocked", ``status`` an enhanced code such as "5.0.0", ``reason`` the
remote server's reply) and ``deferred`` (``response`` the reply, ``attempt`` the try count).
``smtp-id`` is the Message-ID header SendGrid gave the message. A post holding only other
events (processed, delivered, open, click, ...) is not a bounce.
"""

from __future__ import annotations

from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.jsonevents import clean_id, events, json_body, recipient, text_of
from backscatter.mail.message import MessageView

_KNOWN_EVENTS = frozenset(
    {
        "processed", "dropped", "delivered", "deferred", "bounce", "open", "click",
        "spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe",
    }
)  # fmt: skip


class SendGrid:
    name = "sendgrid"

    def recognise(self, view: MessageView) -> Report | None:
        document = json_body(view, "sg_event_id", "sg_message_id", "smtp-id")
        found: list[FoundRecipient] = []
        message_id = None
        seen = False
        for event in events(document):
            kind = text_of(event.get("event"))
            if kind not in _KNOWN_EVENTS:
                continue
            seen = True
            if kind not in ("bounce", "deferred"):
                continue
            reason = text_of(event.get("reason")) or text_of(event.get("response"))
            entry = recipient(
                event.get("email"), reason, text_of(event.get("status")), kind == "bounce"
            )
            if entry is not None:
                found.append(entry)
                message_id = message_id or clean_id(event.get("smtp-id"))
        if found:
            return Report(self.name, recipients=found, original_message_id=message_id)
        return Report(self.name, is_bounce=False) if seen else None


RECOGNISER = SendGrid()
