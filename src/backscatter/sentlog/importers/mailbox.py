"""A user's Sent folder (mbox, Maildir, .eml files): Message-ID, Date, From, To/Cc/Bcc.

Fields as RFC 5322 section 3.6 defines them. A message with no To/Cc/Bcc left in its Sent copy
(MUAs drop Bcc when filing, RFC 5322 section 3.6.3) is kept as one Message-ID-only row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime

from backscatter.mail import RawMessage, iter_messages
from backscatter.mail.addresses import first_header_address, header_addresses
from backscatter.mail.identifiers import address_key, message_id_key
from backscatter.mail.message import header_text
from backscatter.sentlog.importers.base import Progress, Tally
from backscatter.sentlog.records import SentRecipient

_headers = BytesHeaderParser(policy=compat32)


def read_mailbox(
    path: str, tally: Tally, progress: Progress | None = None
) -> Iterator[SentRecipient]:
    for item in iter_messages([path]):
        if not isinstance(item, RawMessage):
            tally.bad(item.source, item.message)
            continue
        message = _headers.parsebytes(item.data)
        sender = first_header_address(header_text(message.get("from")))
        try:
            sent_at = parsedate_to_datetime(header_text(message.get("date")))
        except (TypeError, ValueError, IndexError):
            sent_at = None
        recipients = [
            address
            for name in ("to", "cc", "bcc")
            for value in message.get_all(name) or ()
            for address in header_addresses(header_text(value))
        ]
        message_id = message_id_key(header_text(message.get("message-id")))
        if not sender or sent_at is None or not (recipients or message_id):
            tally.bad(item.source, f"From={sender} Date={sent_at} recipients={len(recipients)}")
            continue
        if sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)
        subject = header_text(message.get("subject")) or None
        # A Bcc-only message whose Sent copy lost its Bcc still names its Message-ID.
        for recipient in dict.fromkeys(address_key(r) for r in recipients or [""]):
            yield SentRecipient(message_id, sent_at, address_key(sender), recipient, subject)
