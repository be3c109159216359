"""The SQLite sent-log: one writer and many readers at once, lookups in microseconds.

WAL mode lets the mail filter record outgoing mail while a batch job reads. The store sits
behind :class:`SentLogStore` so that a shared server database (:mod:`.postgres`) replaces it
without touching the importers or the matching; both stores keep rows in the form
:class:`RowKeys` makes and read them back through :func:`from_row`, so they hold the same
records.

A row whose recipient is ``''`` says only that we sent that Message-ID (a Bcc-only Sent copy,
a list server's one line per posting); the unique key holds it like any other, so importing
twice still adds nothing. The store also knows the span it covers (:meth:`coverage`): a log
that starts today cannot say anything about a bounce of last month's mail.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from backscatter.errors import BackscatterError
from backscatter.mail.identifiers import address_key, message_id_forms, message_id_key
from backscatter.sentlog.records import SentRecipient

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    message_id TEXT,
    sent_at    INTEGER NOT NULL,          -- Unix seconds, UTC
    sender     TEXT NOT NULL,
    recipient  TEXT NOT NULL,             -- '' when only the Message-ID is known
    subject    TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS sent_unique
    ON sent (recipient, sent_at, sender, COALESCE(message_id, ''));
CREATE INDEX IF NOT EXISTS sent_by_message_id ON sent (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sent_by_sender ON sent (sender, sent_at);
CREATE INDEX IF NOT EXISTS sent_by_time ON sent (sent_at);
"""
_BATCH = 10_000
#: Most keys in one IN (...) lookup (old SQLite builds allow 999 bound parameters).
MAX_KEYS = 200


class SentLogStore(Protocol):
    """The storage interface the importers, the matching and the filter rely on."""

    def add(self, rows: Iterable[SentRecipient]) -> tuple[int, int]:
        """Store rows; return (rows read, rows that were new). Importing twice adds nothing."""
        ...

    def by_message_id(self, message_id: str) -> list[SentRecipient]: ...

    def by_message_ids(
        self, message_ids: Sequence[str], recipients: Sequence[str] = ()
    ) -> list[SentRecipient]: ...

    def by_recipient(
        self, recipient: str, since: datetime, until: datetime
    ) -> list[SentRecipient]: ...

    def by_recipients(
        self, recipients: Sequence[str], since: datetime, until: datetime
    ) -> list[SentRecipient]: ...

    def by_sender(self, sender: str, since: datetime, until: datetime) -> list[SentRecipient]: ...

    def coverage(self) -> tuple[datetime, datetime] | None:
        """The first and last ``sent_at`` stored, or None when the store is empty."""
        ...

    def prune(self, before: datetime) -> int: ...

    def stats(self) -> dict[str, object]: ...

    def check(self, full: bool = False) -> list[str]:
        """``["ok"]`` or the problems found."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> SentLogStore: ...

    def __exit__(self, *_: object) -> None: ...


def default_path() -> Path:
    """Where the sent-log lives when ``--db`` is not given: the user's data directory."""
    from platformdirs import user_data_path

    return user_data_path("backscatter") / "sentlog.db"


class SqliteSentLog:
    """The embedded default store (one file, safe for one writer and many readers)."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        """Open the store; an existing file is checked first (``PRAGMA quick_check``, about
        0.2 s per million rows) so that a damaged one is one plain error at open, not a
        traceback halfway through a command (issue 12)."""
        self.path = Path(path)
        try:
            existed = self.path.is_file() and self.path.stat().st_size > 0
            if readonly:
                self._db = self._open_readonly()
            else:
                self._refuse_readonly_place()
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                if existed:
                    self._check()
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
            self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if readonly:
                self._check()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, "cannot open sent-log") from None
        except OSError as exc:
            raise BackscatterError(f"cannot open sent-log {self.path}: {exc.strerror}") from None
        self._writes = 0
        self._span: tuple[datetime, datetime] | None = None
        self._span_version: tuple[int, int] | None = None

    def _open_readonly(self) -> sqlite3.Connection:
        """``mode=ro``; ``immutable=1`` as well where the directory is not writable, since
        a WAL store read in place otherwise needs its -shm side file (a read-only copy)."""
        if not self.path.is_file():
            raise BackscatterError(f"no sent-log at {self.path}")
        immutable = not _writable(self.path.parent)
        uri = f"{self.path.absolute().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)

    def _refuse_readonly_place(self) -> None:
        """A writing command on a read-only store says so, before SQLite half-opens it."""
        target = self.path if self.path.exists() else self.path.parent
        if target.exists() and not _writable(target):
            raise BackscatterError(f"sent-log {self.path} is read-only: cannot write to it")

    def _check(self) -> None:
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise BackscatterError(self._damaged())

    def _damaged(self) -> str:
        return f"sent-log DB is damaged: run `backscatter sentlog check --db {self.path}`"

    def _error(self, exc: sqlite3.DatabaseError, doing: str) -> BackscatterError:
        """One plain line for what SQLite reports: a full disk, a read-only store, damage."""
        code = getattr(exc, "sqlite_errorcode", None)
        if code == sqlite3.SQLITE_FULL:
            return BackscatterError(
                f"{doing} {self.path}: the disk is full (the unfinished batch was rolled back)"
            )
        if (code or 0) & 0xFF == sqlite3.SQLITE_READONLY:  # extended codes keep the base
            return BackscatterError(f"sent-log {self.path} is read-only: cannot write to it")
        if (code or 0) & 0xFF == sqlite3.SQLITE_CORRUPT:
            return BackscatterError(self._damaged())
        return BackscatterError(f"{doing} {self.path}: {exc}")

    def check(self, full: bool = False) -> list[str]:
        """``PRAGMA quick_check`` (or ``integrity_check``): ``["ok"]`` or the problems found
        (at most 100)."""
        pragma = "integrity_check" if full else "quick_check"
        try:
            return [str(row[0]) for row in self._db.execute(f"PRAGMA {pragma}(100)")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]

    @classmethod
    def open_unchecked(cls, path: str | os.PathLike[str]) -> SqliteSentLog:
        """Read-only, without the check at open: for ``sentlog check`` to report what is
        wrong rather than refuse."""
        store = cls.__new__(cls)
        store.path = Path(path)
        try:
            store._db = store._open_readonly()
        except sqlite3.DatabaseError as exc:
            raise BackscatterError(f"cannot open sent-log {store.path}: {exc}") from None
        store._writes, store._span, store._span_version = 0, None, None
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteSentLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def add(self, rows: Iterable[SentRecipient]) -> tuple[int, int]:
        read = added = 0
        batch: list[tuple[object, ...]] = []
        keys = RowKeys()
        for row in rows:
            read += 1
            batch.append(keys.row(row))
            if len(batch) >= _BATCH:
                added += self._insert(batch)
                batch = []
        if batch:
            added += self._insert(batch)
        return read, added

    def _insert(self, batch: list[tuple[object, ...]]) -> int:
        self._writes += 1
        try:
            with self._db:  # one transaction per batch: rolled back whole on any error
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO sent (message_id, sent_at, sender, recipient, subject) "
                    "VALUES (?, ?, ?, ?, ?)",
                    batch,
                )
                return self._db.total_changes - before
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, "cannot write sent-log") from None

    def by_message_id(self, message_id: str) -> list[SentRecipient]:
        return self.by_message_ids([message_id])

    def by_message_ids(
        self, message_ids: Sequence[str], recipients: Sequence[str] = ()
    ) -> list[SentRecipient]:
        """Rows of any of these Message-IDs (each in its stored and as-written form): those
        to the given recipients when there are any, else at most 100 of them, since a
        mailing's one ID can have a hundred thousand rows and one proves it was ours."""
        forms = id_forms(message_ids)
        if not forms:
            return []
        ids = f"message_id IN ({','.join('?' * len(forms))})"
        keys = address_keys(recipients)
        if keys:
            rows = self._select(
                f"{ids} AND recipient IN ({','.join('?' * len(keys))})", (*forms, *keys)
            )
            if rows:
                return rows
        return self._select(f"{ids} LIMIT 100", tuple(forms))

    def by_recipient(self, recipient: str, since: datetime, until: datetime) -> list[SentRecipient]:
        return self.by_recipients([recipient], since, until)

    def by_recipients(
        self, recipients: Sequence[str], since: datetime, until: datetime
    ) -> list[SentRecipient]:
        """Rows to any of these recipients sent in the window (one indexed query)."""
        keys = address_keys(recipients)
        if not keys:
            return []
        return self._select(
            f"recipient IN ({','.join('?' * len(keys))}) AND sent_at BETWEEN ? AND ?",
            (*keys, unix_seconds(since), unix_seconds(until)),
        )

    def by_sender(self, sender: str, since: datetime, until: datetime) -> list[SentRecipient]:
        """The sender's most recent rows in the window, newest first (at most 100)."""
        return self._select(
            "sender = ? AND sent_at BETWEEN ? AND ? ORDER BY sent_at DESC LIMIT 100",
            (address_key(sender), unix_seconds(since), unix_seconds(until)),
        )

    def _select(self, where: str, args: tuple[object, ...]) -> list[SentRecipient]:
        query = f"SELECT message_id, sent_at, sender, recipient, subject FROM sent WHERE {where}"
        try:
            return [from_row(row) for row in self._db.execute(query, args)]
        except sqlite3.DatabaseError as exc:  # damage the check at open did not reach
            raise self._error(exc, "cannot read sent-log") from None

    def coverage(self) -> tuple[datetime, datetime] | None:
        """The first and last ``sent_at`` stored (two index probes), or None when empty.

        Cached per connection; our own writes drop the cache, and SQLite's ``data_version``
        tells when another connection (the mail filter recording) has written meanwhile.
        """
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if self._span_version != (version, self._writes):
            first = self._db.execute("SELECT min(sent_at) FROM sent").fetchone()[0]
            last = self._db.execute("SELECT max(sent_at) FROM sent").fetchone()[0]
            self._span = None if first is None else (from_unix(first), from_unix(last))
            self._span_version = (version, self._writes)
        return self._span

    def prune(self, before: datetime) -> int:
        self._writes += 1
        try:
            with self._db:
                return self._db.execute(
                    "DELETE FROM sent WHERE sent_at < ?", (unix_seconds(before),)
                ).rowcount
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, "cannot prune sent-log") from None

    def stats(self) -> dict[str, object]:
        """Counts and span. ``recipients`` counts rows that name one; ``id_only`` the rows
        that know only a Message-ID; ``messages`` the distinct messages of both kinds."""
        try:
            messages, recipients, id_only = self._db.execute(
                "SELECT count(DISTINCT COALESCE(message_id, sender || sent_at)), "
                "count(*) FILTER (WHERE recipient != ''), count(*) FILTER (WHERE recipient = '') "
                "FROM sent"
            ).fetchone()
            span = self.coverage()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc, "cannot read sent-log") from None
        return {
            "messages": messages,
            "recipients": recipients,
            "id_only": id_only,
            "first_sent": span[0].isoformat() if span else None,
            "last_sent": span[1].isoformat() if span else None,
            "span_days": round((span[1] - span[0]).total_seconds() / 86400, 1) if span else 0.0,
        }


def _writable(path: Path) -> bool:
    """Whether we may write here: the permission bits (``os.access``, which root passes)
    and a file system mounted read-only (which stops root too)."""
    try:
        read_only_mount = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only_mount = False
    return os.access(path, os.W_OK) and not read_only_mount


def unix_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def id_forms(message_ids: Sequence[str]) -> list[str]:
    """Every stored and as-written form of these Message-IDs, without repeats, at most
    :data:`MAX_KEYS`."""
    forms = dict.fromkeys(f for m in message_ids for f in message_id_forms(m))
    return list(forms)[:MAX_KEYS]


def address_keys(addresses: Sequence[str]) -> list[str]:
    """Distinct address keys, empty ones dropped, at most :data:`MAX_KEYS`."""
    return [key for key in dict.fromkeys(address_key(a) for a in addresses) if key][:MAX_KEYS]


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


class RowKeys:
    """Rows in the stored (key) form. One message's rows come one after another and share
    its Message-ID and sender, so the last of each is remembered: an equality test instead
    of normalising them again for every recipient (a large share of import time)."""

    __slots__ = ("message_id", "message_key", "sender", "sender_key")

    def __init__(self) -> None:
        self.message_id: str | None = None
        self.message_key: str | None = None
        self.sender: str | None = None
        self.sender_key = ""

    def row(self, row: SentRecipient) -> tuple[object, ...]:
        if row.message_id != self.message_id:
            self.message_id, self.message_key = row.message_id, message_id_key(row.message_id)
        if row.sender != self.sender:
            self.sender, self.sender_key = row.sender, address_key(row.sender)
        return (
            self.message_key,
            unix_seconds(row.sent_at),
            self.sender_key,
            address_key(row.recipient),
            row.subject,
        )


def from_row(row: tuple[object, ...]) -> SentRecipient:
    message_id, sent_at, sender, recipient, subject = row
    return SentRecipient(
        message_id=message_id,  # type: ignore[arg-type]
        sent_at=from_unix(sent_at),  # type: ignore[arg-type]
        sender=str(sender),
        recipient=str(recipient),
        subject=subject,  # type: ignore[arg-type]
    )
