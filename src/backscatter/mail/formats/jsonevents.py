"""Shared reading of ESP event JSON (SES, SendGrid, Mailgun, Postmark, SparkPost).

Sending services report bounces as JSON documents: webhook posts saved to a file, or the same
document mailed as a message body. These helpers find and load that document once per message
and turn one provider's event into the :class:`FoundRecipient` every format returns, so each
provider module only maps its own field names. Not a family: nothing here is registered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from backscatter.mail.addresses import normalise
from backscatter.mail.formats.base import FoundRecipient
from backscatter.mail.message import MessageView

#: Documents larger than this are not webhook events; they are not parsed at all.
_MAX_JSON_CHARS = 256 * 1024


def load_json(text: str) -> Any:
    """The JSON object from the first ``{`` to the last ``}`` (a list when the text opens with
    ``[``), or None.

    Mailers wrap long lines, so a document that does not load as sent is tried again with its
    line breaks removed (JSON strings never hold raw line breaks).
    """
    opener, closer = ("[", "]") if text.lstrip()[:1] == "[" else ("{", "}")
    start, end = text.find(opener), text.rfind(closer)
    if start == -1 or end <= start or end - start > _MAX_JSON_CHARS:
        return None
    body = text[start : end + 1]
    for candidate in (body, body.replace("\r", "").replace("\n", "")):
        try:
            return json.loads(candidate, strict=False)
        except (ValueError, RecursionError):  # RecursionError: hostile nesting
            continue
    return None


def json_body(view: MessageView, *keys: str) -> Any:
    """The message body as JSON when it is a JSON document naming one of ``keys``.

    Cheap on ordinary mail: the body must open with ``{`` or ``[`` and name a key (quoted)
    in its first 4,000 characters before anything is parsed.
    """
    text = view.plain_text
    head = text[:4000].lstrip("\ufeff \t\r\n")
    if head[:1] not in ("{", "[") or not any(f'"{k}"' in head for k in keys):
        return None
    return load_json(text)


def events(document: Any) -> Iterator[dict[str, Any]]:
    """The event objects of a webhook post: one object, or a list of them (batched posts)."""
    if isinstance(document, dict):
        yield document
    elif isinstance(document, list):
        for item in document[:1000]:
            if isinstance(item, dict):
                yield item


def text_of(value: Any) -> str | None:
    """A JSON scalar as text (numbers too: Mailgun sends its SMTP code as an integer)."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def recipient(
    address: Any, diagnostic: str | None, status: str | None, permanent: bool | None
) -> FoundRecipient | None:
    """One bounced recipient; ``permanent`` (the provider's hard/soft verdict) sets the action
    when the provider gives no DSN status of its own."""
    text = text_of(address)
    if not text or "@" not in text:
        return None
    if status and status[:1] not in "45":
        status = None
    action = "delayed" if permanent is False else "failed"
    if status is None and permanent is not None:
        status = "5.0.0" if permanent else "4.0.0"
    return FoundRecipient(
        address=normalise(text), diagnostic=diagnostic, status=status, action=action
    )


def clean_id(value: Any) -> str | None:
    """A Message-ID without its angle brackets."""
    text = text_of(value)
    return text.strip("<> ") or None if text else None
