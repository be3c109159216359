"""The SQLite sent-log: one writer and many readers at once, lookups in microseconds.

WAL mode lets the mail filter record outgoing mail while a batch job reads. The store sits
behind :class:`SentLogStore` so that a shared server database can replace it later without
touching the importers or the matching.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from backscatter.errors import BackscatterError
from backscatter.sentlog.records import SentRecipient

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    message_id TEXT,
    sent_at    INTEGER NOT NULL,          -- Unix seconds, UTC
    sender     TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    subject    TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS sent_unique
    ON sent (recipient, sent_at, sender, COALESCE(message_id, ''));
CREATE INDEX IF NOT EXISTS sent_by_message_id ON sent (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sent_by_sender ON sent (sender, sent_at);
"""
_BATCH = 10_000


class SentLogStore(Protocol):
    """The storage interface the importers, the matching and the filter rely on."""

    def add(self, rows: Iterable[SentRecipient]) -> tuple[int, int]:
        """Store rows; return (rows read, rows that were new). Importing twice adds nothing."""
        ...

    def by_message_id(self, message_id: str) -> list[SentRecipient]: ...

    def by_recipient(
        self, recipient: str, since: datetime, until: datetime
    ) -> list[SentRecipient]: ...

    def by_sender(self, sender: str, since: datetime, until: datetime) -> list[SentRecipient]: ...

    def prune(self, before: datetime) -> int: ...

    def stats(self) -> dict[str, object]: ...


def default_path() -> Path:
    """Where the sent-log lives when ``--db`` is not given: the user's data directory."""
    from platformdirs import user_data_path

    return user_data_path("backscatter") / "sentlog.db"


class SqliteSentLog:
    """The embedded default store (one file, safe for one writer and many readers)."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        try:
            if readonly:
                if not self.path.is_file():
                    raise BackscatterError(f"no sent-log at {self.path}")
                uri = f"file:{self.path}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
            self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BackscatterError(f"cannot open sent-log {self.path}: {exc}") from None
        except OSError as exc:
            raise BackscatterError(f"cannot open sent-log {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteSentLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def add(self, rows: Iterable[SentRecipient]) -> tuple[int, int]:
        read = added = 0
        batch: list[tuple[object, ...]] = []
        for row in rows:
            read += 1
            batch.append(_to_row(row))
            if len(batch) >= _BATCH:
                added += self._insert(batch)
                batch = []
        if batch:
            added += self._insert(batch)
        return read, added

    def _insert(self, batch: list[tuple[object, ...]]) -> int:
        with self._db:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO sent (message_id, sent_at, sender, recipient, subject) "
                "VALUES (?, ?, ?, ?, ?)",
                batch,
            )
            return self._db.total_changes - before

    def by_message_id(self, message_id: str) -> list[SentRecipient]:
        return self._select("message_id = ?", (message_id.strip().strip("<>"),))

    def by_recipient(self, recipient: str, since: datetime, until: datetime) -> list[SentRecipient]:
        return self._select(
            "recipient = ? AND sent_at BETWEEN ? AND ?",
            (recipient.lower(), _seconds(since), _seconds(until)),
        )

    def by_sender(self, sender: str, since: datetime, until: datetime) -> list[SentRecipient]:
        """The sender's most recent rows in the window, newest first (at most 100)."""
        return self._select(
            "sender = ? AND sent_at BETWEEN ? AND ? ORDER BY sent_at DESC LIMIT 100",
            (sender.lower(), _seconds(since), _seconds(until)),
        )

    def _select(self, where: str, args: tuple[object, ...]) -> list[SentRecipient]:
        query = f"SELECT message_id, sent_at, sender, recipient, subject FROM sent WHERE {where}"
        return [_from_row(row) for row in self._db.execute(query, args)]

    def prune(self, before: datetime) -> int:
        with self._db:
            return self._db.execute(
                "DELETE FROM sent WHERE sent_at < ?", (_seconds(before),)
            ).rowcount

    def stats(self) -> dict[str, object]:
        messages, recipients, first, last = self._db.execute(
            "SELECT count(DISTINCT COALESCE(message_id, sender || sent_at)), count(*), "
            "min(sent_at), max(sent_at) FROM sent"
        ).fetchone()
        return {
            "messages": messages,
            "recipients": recipients,
            "first_sent": _iso(first),
            "last_sent": _iso(last),
        }


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _iso(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def _to_row(row: SentRecipient) -> tuple[object, ...]:
    message_id = row.message_id.strip().strip("<>") if row.message_id else None
    return (
        message_id or None,
        _seconds(row.sent_at),
        row.sender.lower(),
        row.recipient.lower(),
        row.subject,
    )


def _from_row(row: tuple[object, ...]) -> SentRecipient:
    message_id, sent_at, sender, recipient, subject = row
    return SentRecipient(
        message_id=message_id,  # type: ignore[arg-type]
        sent_at=datetime.fromtimestamp(int(sent_at), UTC),  # type: ignore[arg-type]
        sender=str(sender),
        recipient=str(recipient),
        subject=subject,  # type: ignore[arg-type]
    )
