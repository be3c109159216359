"""Amazon SES bounce notifications and events (a JSON document), mailed or as a file.

SES sends its bounce and delivery events as JSON in the body of an ordinary message; the
JSON names the bounced recipients, their DSN status and diagnostic, and the original's
headers, so it is read as data rather than as prose. Three shapes arrive (SES Developer
Guide, "Contents of notifications" and "Contents of event data"): the notification itself
(``notificationType``), the same wrapped in an SNS envelope (``Type`` "Notification" with the
SES JSON as a string in ``Message``), and event publishing (``eventType``). ``bounceType``
("Permanent", "Transient", "Undetermined") decides the action when a recipient entry carries
no ``action``/``status`` (suppression-list bounces have neither).
"""

from __future__ import annotations

from email.message import Message
from typing import Any

from backscatter.mail.addresses import normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.jsonevents import load_json, recipient, text_of
from backscatter.mail.formats.rfc3464 import typed_value
from backscatter.mail.message import MessageView


class AmazonSes:
    name = "amazonses"

    def recognise(self, view: MessageView) -> Report | None:
        text = view.plain_text
        head = text[:2000]
        if "notificationType" not in head and "eventType" not in head:
            return None
        document = load_json(text)
        if isinstance(document, dict) and isinstance(document.get("Message"), str):
            # Delivered through an SNS topic: the SES event is a JSON string inside it.
            document = load_json(document["Message"])
        if not isinstance(document, dict):
            return None
        kind = document.get("notificationType") or document.get("eventType")
        if kind in ("Delivery", "Complaint", "Send", "Open", "Click"):
            return Report(self.name, is_bounce=False)
        bounce = document.get("bounce")
        if kind != "Bounce" or not isinstance(bounce, dict):
            return None
        permanent = _PERMANENCE.get(str(bounce.get("bounceType")))
        recipients = [
            _recipient(entry, permanent)
            for entry in bounce.get("bouncedRecipients") or ()
            if isinstance(entry, dict) and entry.get("emailAddress")
        ]
        if not recipients:
            return None
        mail = document.get("mail") if isinstance(document.get("mail"), dict) else {}
        return Report(
            self.name,
            recipients=recipients,
            reporting_mta=typed_value(bounce.get("reportingMTA")),
            arrival_date=mail.get("timestamp"),
            returned=_original_headers(mail),
        )


_PERMANENCE = {"Permanent": True, "Transient": False}


def _recipient(entry: dict[str, Any], permanent: bool | None) -> FoundRecipient:
    """A bounced recipient as SES lists it; its own action and status win over bounceType."""
    diagnostic = typed_value(entry.get("diagnosticCode"))
    action, status = text_of(entry.get("action")), text_of(entry.get("status"))
    if action or status:
        address = normalise(str(entry.get("emailAddress", "")))
        return FoundRecipient(address, diagnostic=diagnostic, status=status, action=action)
    found = recipient(entry.get("emailAddress"), diagnostic, None, permanent)
    return found or FoundRecipient(normalise(str(entry.get("emailAddress", ""))))


def _original_headers(mail: dict[str, Any]) -> Message | None:
    """The original's headers as SES lists them, rebuilt into a Message."""
    headers = mail.get("headers")
    if not isinstance(headers, list):
        return None
    original = Message()
    for entry in headers:
        if isinstance(entry, dict) and entry.get("name") and entry.get("value") is not None:
            name = str(entry["name"]).strip()
            if name.replace("-", "").isalnum():
                original[name] = str(entry["value"]).replace("\n", " ")
    return original if original.keys() else None


RECOGNISER = AmazonSes()
