"""Mail leaving through us: into the sent-log as it goes, and BATV-signed if asked.

Recording at the submission listener makes the sent-log complete without shipping logs
around; a later bounce of the message then matches by Message-ID or recipient.

Each message is one small transaction. When a shared (PostgreSQL) sent-log cannot be
reached, :meth:`OutboundRecorder.record` raises
:class:`~backscatter.sentlog.SentLogUnavailable`: the session applies ``on_error`` without a
traceback, and the store logs the outage once, not once per message.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from backscatter.features.config import OurInfrastructure
from backscatter.mail.identifiers import address_key, message_id_key
from backscatter.sentlog import SentLogStore, SentRecipient, batv


class OutboundRecorder:
    """Thread-safe: the milter calls it from one thread per SMTP connection."""

    def __init__(
        self, store: SentLogStore | None, ours: OurInfrastructure, sign: bool = False
    ) -> None:
        self.store = store
        self.ours = ours
        self.sign = sign and bool(ours.batv_secrets)
        self._lock = threading.Lock()

    def record(
        self,
        message_id: str | None,
        sender: str,
        recipients: Sequence[str],
        subject: str | None = None,
        when: datetime | None = None,
    ) -> int:
        """Store one row per recipient; returns how many were new (0 without a sent-log)."""
        if self.store is None or not recipients:
            return 0
        moment = when or datetime.now(UTC)
        ident = message_id_key(message_id)
        rows = [
            SentRecipient(ident, moment, address_key(sender), address_key(r), subject)
            for r in recipients
        ]
        with self._lock:
            return self.store.add(rows)[1]

    def signed_sender(self, sender: str) -> str | None:
        """The BATV-tagged envelope sender, or None when it is not to be (or cannot be) signed.

        The newest key number signs; older ones keep verifying returning bounces (rotation).
        """
        if not self.sign or "@" not in sender or batv.recognise(sender) is not None:
            return None
        key = max(self.ours.batv_secrets)
        return batv.sign(sender, self.ours.batv_secrets[key], key)

    def untagged(self, recipient: str) -> str | None:
        """The plain address behind a valid BATV tag of ours (to deliver a returning bounce)."""
        if not self.ours.batv_secrets or batv.recognise(recipient) is None:
            return None
        check = batv.verify(recipient, self.ours.batv_secrets)
        return check.address if check.valid else None
