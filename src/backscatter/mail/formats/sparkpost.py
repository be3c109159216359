"""SparkPost webhook batches (JSON), saved to a file or mailed as a message body.

SparkPost posts a list of ``{"msys": {"message_event": {...}}}`` objects; the fields are in
SparkPost's "Webhooks: Event Types" reference (developers.sparkpost.com): ``type`` "bounce",
"out_of_band", "policy_rejection" (failures) or "delay", ``rcpt_to``, ``raw_reason`` (the
remote reply), ``error_code`` and ``bounce_class`` (its "Bounce Classification Codes": 10
invalid recipient and 30 generic no-RCPT are hard, 20-24, 40 and 70 soft, the 50s blocks).
``message_id`` is SparkPost's own ID, not the Message-ID header, so it is not reported.
"""

from __future__ import annotations

from typing import Any

from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.jsonevents import events, json_body, recipient, text_of
from backscatter.mail.message import MessageView

_FAILURES = frozenset({"bounce", "out_of_band", "policy_rejection"})
_HARD_CLASSES = frozenset({"10", "30", "90"})
_SOFT_CLASSES = frozenset({"20", "21", "22", "23", "24", "40", "70"})


class SparkPost:
    name = "sparkpost"

    def recognise(self, view: MessageView) -> Report | None:
        document = json_body(view, "msys")
        found: list[FoundRecipient] = []
        seen = False
        for wrapper in events(document):
            body = wrapper.get("msys")
            if not isinstance(body, dict):
                continue
            for event in body.values():
                if not isinstance(event, dict) or "type" not in event:
                    continue
                seen = True
                entry = _failure(event)
                if entry is not None:
                    found.append(entry)
        if found:
            return Report(self.name, recipients=found)
        return Report(self.name, is_bounce=False) if seen else None


def _failure(event: dict[str, Any]) -> FoundRecipient | None:
    kind = text_of(event.get("type"))
    if kind not in _FAILURES and kind != "delay":
        return None
    code = text_of(event.get("error_code"))
    reason = text_of(event.get("raw_reason")) or text_of(event.get("reason"))
    diagnostic = reason or code
    if code and reason and not reason.startswith(code):
        diagnostic = f"{code} {reason}"  # the reply's code, when the reason leaves it out
    bounce_class = text_of(event.get("bounce_class"))
    permanent: bool | None = None
    if kind == "delay" or bounce_class in _SOFT_CLASSES:
        permanent = False
    elif bounce_class in _HARD_CLASSES:
        permanent = True
    address = event.get("rcpt_to") or event.get("raw_rcpt_to")
    return recipient(address, diagnostic, None, permanent)


RECOGNISER = SparkPost()
