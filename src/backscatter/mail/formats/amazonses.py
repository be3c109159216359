"""Amazon SES bounce notifications delivered by e-mail through SNS (a JSON document).

SES sends its bounce and delivery events as JSON in the body of an ordinary message; the
JSON names the bounced recipients, their DSN status and diagnostic, and the original's
headers, so it is read as data rather than as prose.
"""

from __future__ import annotations

import json
from email.message import Message
from typing import Any

from backscatter.mail.addresses import normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.rfc3464 import typed_value
from backscatter.mail.message import MessageView


class AmazonSes:
    name = "amazonses"

    def recognise(self, view: MessageView) -> Report | None:
        text = view.plain_text
        head = text[:2000]
        if "notificationType" not in head and "eventType" not in head:
            return None
        document = _load_json(text)
        if isinstance(document, dict) and isinstance(document.get("Message"), str):
            # Delivered through an SNS topic: the SES event is a JSON string inside it.
            document = _load_json(document["Message"])
        if not isinstance(document, dict):
            return None
        kind = document.get("notificationType") or document.get("eventType")
        if kind in ("Delivery", "Complaint", "Send", "Open", "Click"):
            return Report(self.name, is_bounce=False)
        bounce = document.get("bounce")
        if kind != "Bounce" or not isinstance(bounce, dict):
            return None
        recipients = [
            FoundRecipient(
                address=normalise(str(entry.get("emailAddress", ""))),
                diagnostic=typed_value(entry.get("diagnosticCode")),
                status=entry.get("status"),
                action=entry.get("action"),
            )
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


def _load_json(text: str) -> Any:
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start:
        return None
    body = text[start : end + 1]
    for candidate in (body, body.replace("\r", "").replace("\n", "")):
        try:
            return json.loads(candidate, strict=False)
        except ValueError:
            continue
    return None


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
