"""What the sent-log stores: one row per recipient of a message we sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SentRecipient:
    """One recipient of one sent message, as every importer produces it.

    ``message_id`` is in :func:`~backscatter.mail.identifiers.message_id_key` form (no angle
    brackets); ``sent_at`` is timezone-aware (UTC when the source gave no zone); addresses are
    in :func:`~backscatter.mail.identifiers.address_key` form (lower-cased). ``recipient`` is
    ``''`` when only the Message-ID is known (a Bcc-only Sent copy, a log with no delivery
    line): such a row still proves the ID was ours.
    """

    message_id: str | None
    sent_at: datetime
    sender: str
    recipient: str
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one import did: rows read, rows new to the store, lines it could not read."""

    read: int
    added: int
    malformed: int
    examples: tuple[str, ...] = ()
