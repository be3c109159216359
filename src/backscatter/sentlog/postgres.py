"""The PostgreSQL sent-log: one database that every MX and submission host writes to and
every scorer reads (issue 11), for sites that outgrow one SQLite file.

It holds the same records as :class:`~backscatter.sentlog.store.SqliteSentLog`: rows go
through the same :class:`~backscatter.sentlog.store.RowKeys` on the way in and
:func:`~backscatter.sentlog.store.from_row` on the way out, under the same unique key
``(recipient, sent_at, sender, COALESCE(message_id, ''))``, and the lookups are the same
queries; the matching and importer test suites run against both stores to prove it.

* Schema: versioned. :data:`MIGRATIONS` are ordered SQL steps; :func:`migrate` applies the
  missing ones in one transaction under an advisory lock (two hosts starting at once do not
  race) and records each in ``schema_version``. A store opened for writing on an empty
  database migrates it; anything else out of date is refused with "run backscatter sentlog
  migrate", since upgrading a shared database is an operator's decision.
* Bulk import: ``COPY`` into a session-local staging table, then ``INSERT ... SELECT ... ON
  CONFLICT DO NOTHING`` (psycopg 3 ``Cursor.copy``, https://www.psycopg.org/psycopg3/docs/
  basic/copy.html; ``ON CONFLICT``, PostgreSQL manual "INSERT"). Each batch is one
  transaction, so the same log imported twice, by two hosts at once, or again after the
  database went away half-way, adds nothing twice. Staged rows are inserted in key order so
  that two concurrent imports of the same rows take their locks in the same order (no
  deadlock); a deadlock or serialisation failure is retried all the same. A batch that looks
  new goes in by a plain ``INSERT`` (cheaper for the server), falling back to ``ON
  CONFLICT`` when a row was there after all (:func:`_copy_batch`). Each index costs the
  insert: ``sent_by_time`` about 8% of it, kept because :meth:`PostgresSentLog.coverage`
  (min/max on every match) needs an ordered index led by ``sent_at``, which BRIN is not.
* Small batches (the milter recording one message) are one ``INSERT ... SELECT FROM
  unnest(...)`` in their own short transaction.
* Faults: a lost connection is reopened once and the operation retried (a database restart
  costs nothing); if that fails too the call raises :class:`SentLogUnavailable`, logged once
  per outage (not once per message) and once more when the database is back. A DSN's
  password never appears in a message (:func:`mask_dsn`).

PostgreSQL's B-tree index entries are limited to about a third of a page (2704 bytes,
manual "B-Tree Indexes", "Index row size"); a row whose addresses and Message-ID together
exceed that cannot be indexed, and no real one does (RFC 5321 section 4.5.3.1 bounds a path
at 256 octets), so such a row is counted as read and not stored. Text cannot hold NUL
(U+0000): it is stored as U+FFFD.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from backscatter.errors import BackscatterError
from backscatter.mail.identifiers import address_key
from backscatter.sentlog.records import SentRecipient
from backscatter.sentlog.store import (
    RowKeys,
    address_keys,
    from_row,
    from_unix,
    id_forms,
    unix_seconds,
)

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    import psycopg

log = logging.getLogger("backscatter.sentlog")

INSTALL_HINT = "pip install 'backscatter[postgres]'"
SCHEMES = ("postgresql://", "postgres://")

#: Ordered schema steps; step ``n`` (1-based) brings the schema to version ``n``. Never edit a
#: released step: add one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # keys compare byte-wise (COLLATE "C"), whatever the database's locale: they are
        # identifiers, never sorted for people, and C comparisons are several times faster
        """CREATE TABLE sent (
            message_id TEXT COLLATE "C",
            sent_at    BIGINT NOT NULL,   -- Unix seconds, UTC
            sender     TEXT COLLATE "C" NOT NULL,
            recipient  TEXT COLLATE "C" NOT NULL,  -- '' when only the Message-ID is known
            subject    TEXT
        )""",
        "CREATE UNIQUE INDEX sent_unique "
        "ON sent (recipient, sent_at, sender, COALESCE(message_id, ''))",
        "CREATE INDEX sent_by_message_id ON sent (message_id) WHERE message_id IS NOT NULL",
        "CREATE INDEX sent_by_sender ON sent (sender, sent_at)",
        "CREATE INDEX sent_by_time ON sent (sent_at)",
    ),
)
LATEST = len(MIGRATIONS)

_COLUMNS = "message_id, sent_at, sender, recipient, subject"
#: The unique index's order: concurrent importers lock rows in this order (no deadlock).
_KEY_ORDER = "recipient, sent_at, sender, COALESCE(message_id, '')"
#: Rows per COPY transaction; fewer than this go through one INSERT of arrays.
_BATCH = 50_000
#: Connections a forked child inherited: kept, never used or closed (see after_fork).
_INHERITED: list[Any] = []
_SMALL = 200
#: Index entries above this many bytes are refused by PostgreSQL (see the docstring).
_MAX_KEY_BYTES = 2600
#: pg_advisory_xact_lock key that serialises migrations ("bksc").
_MIGRATION_LOCK = 0x626B7363
_RETRIES = 3

T = TypeVar("T")


class SentLogUnavailable(BackscatterError):
    """The sent-log database cannot be reached now; the next call tries again."""


def is_dsn(spec: object) -> bool:
    """Whether a ``--sent-log`` value names a PostgreSQL database rather than a file."""
    return isinstance(spec, str) and spec.lstrip().lower().startswith(SCHEMES)


def mask_dsn(dsn: str) -> str:
    """The DSN with its password (in the authority or as ``password=``) replaced by ``***``,
    for messages and logs. Anything that is no URL (a file path) is returned as it is."""
    if "://" not in dsn:
        return dsn
    try:
        parts = urlsplit(dsn.strip())
    except ValueError:
        return "<unparsable DSN>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        if ":" in userinfo:
            netloc = f"{userinfo.partition(':')[0]}:***@{host}"
    query = parts.query
    if "password" in query.lower():
        pairs = [
            (k, "***" if k.lower() == "password" else v)
            for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe="/*:")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise BackscatterError(f"a PostgreSQL sent-log needs psycopg: {INSTALL_HINT}") from None
    return psycopg


def _connect(dsn: str) -> psycopg.Connection[Any]:
    psycopg = _psycopg()
    # prepare_threshold=None: every lookup is planned with its values. A generic plan for
    # ``message_id = ANY($1) LIMIT 100`` guesses many matches and scans the table.
    options: dict[str, Any] = {
        "autocommit": True,
        "application_name": "backscatter",
        "prepare_threshold": None,
    }
    if "connect_timeout" not in dsn:
        options["connect_timeout"] = 5
    try:
        return psycopg.connect(dsn, **options)  # type: ignore[no-any-return]
    except psycopg.Error as exc:
        raise SentLogUnavailable(
            f"cannot reach sent-log {mask_dsn(dsn)}: {_said(exc, dsn)}"
        ) from None


def _said(exc: BaseException, dsn: str) -> str:
    """The server's or libpq's message, one line, the DSN's password masked."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    password = _password(dsn)
    return text.replace(password, "***") if password else text


def _password(dsn: str) -> str | None:
    try:
        parts = urlsplit(dsn.strip())
    except ValueError:
        return None
    found = parts.password
    for key, value in parse_qsl(parts.query):
        if key.lower() == "password":
            found = value
    return found or None


def schema_version(connection: psycopg.Connection[Any]) -> int | None:
    """The schema version recorded, or None when the database has no sent-log yet."""
    row = connection.execute("SELECT to_regclass('schema_version')").fetchone()
    if row is None or row[0] is None:
        return None
    version = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(version[0]) if version and version[0] is not None else 0


def migrate(dsn: str) -> tuple[int, int]:
    """Bring the database's schema to :data:`LATEST`; returns (version before, after).

    One transaction under an advisory lock: a crash leaves the old schema, and two hosts
    migrating at once apply each step once."""
    psycopg = _psycopg()
    connection = _connect(dsn)
    try:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            before = schema_version(connection) or 0
            if before > LATEST:
                raise BackscatterError(_newer(dsn, before))
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            for number in range(before + 1, LATEST + 1):
                for step in MIGRATIONS[number - 1]:
                    connection.execute(step)
                connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
        return before, LATEST
    except psycopg.OperationalError as exc:
        raise SentLogUnavailable(
            f"cannot migrate sent-log {mask_dsn(dsn)}: {_said(exc, dsn)}"
        ) from None
    except psycopg.Error as exc:
        raise BackscatterError(
            f"cannot migrate sent-log {mask_dsn(dsn)}: {_said(exc, dsn)}"
        ) from None
    finally:
        connection.close()


def _newer(dsn: str, version: int) -> str:
    return (
        f"sent-log {mask_dsn(dsn)} has schema version {version}, newer than this backscatter "
        f"knows ({LATEST}): upgrade backscatter"
    )


class PostgresSentLog:
    """A :class:`~backscatter.sentlog.store.SentLogStore` in a PostgreSQL database.

    Thread-safe (one lock around the connection): the milter's recorder and scorer threads
    may share one. During an outage a new connection is tried at most every
    :attr:`RETRY_AFTER` seconds; calls in between fail at once, so that a database host that
    does not answer cannot hold every milter thread for the connect timeout.
    """

    RETRY_AFTER = 2.0

    def __init__(self, dsn: str, *, readonly: bool = False) -> None:
        self.dsn = dsn.strip()
        self.readonly = readonly
        self.name = mask_dsn(self.dsn)
        self._lock = threading.RLock()
        self._down = False  # an outage is being reported; said once, and once when over
        self._retry_at = 0.0
        self._last_error = ""
        self._connection: psycopg.Connection[Any] | None = None
        self._staged = False
        connection = self._open()
        try:
            version = schema_version(connection)
        except _psycopg().Error as exc:
            connection.close()
            raise BackscatterError(f"cannot open sent-log {self.name}: {_said(exc, dsn)}") from None
        if version is None and not readonly:
            migrate(self.dsn)
            version = LATEST
        if version is None or version < LATEST:
            connection.close()
            raise BackscatterError(
                f"sent-log {self.name} has schema version {version or 0}, this backscatter "
                f"needs {LATEST}: run backscatter sentlog migrate --sent-log '{self.name}'"
            )
        if version > LATEST:
            connection.close()
            raise BackscatterError(_newer(self.dsn, version))
        self._connection = connection

    def _open(self) -> psycopg.Connection[Any]:
        connection = _connect(self.dsn)
        if self.readonly:
            connection.execute("SET default_transaction_read_only = on")
        self._staged = False
        return connection

    def after_fork(self) -> None:
        """In a forked child (a scoring worker): the parent's connection shares its socket
        with the parent, so the child must neither use it nor close it (closing would send
        the server a Terminate that ends the parent's session). It is kept referenced and
        never finalised (workers leave with ``os._exit``); the next query opens the child's
        own connection."""
        if self._connection is not None:
            _INHERITED.append(self._connection)
        self._connection = None
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> PostgresSentLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _run(self, doing: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``work`` on a live connection: a lost one is reopened and the work retried once
        (a restarted server costs nothing), a deadlock or serialisation failure retried a
        few times; then one plain :class:`SentLogUnavailable` or :class:`BackscatterError`."""
        psycopg = _psycopg()
        with self._lock:
            reconnected = False
            for attempt in range(_RETRIES + 1):
                try:
                    if self._connection is None or self._connection.closed:
                        if self._down and time.monotonic() < self._retry_at:
                            raise SentLogUnavailable(self._last_error)
                        self._connection = self._open()
                        reconnected = True
                    result = work(self._connection)
                except SentLogUnavailable as exc:
                    self._outage(str(exc))
                    raise
                except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                    if attempt == _RETRIES:
                        raise BackscatterError(f"{doing} {self.name}: lock conflicts") from None
                    time.sleep(0.05 * (attempt + 1))
                    continue
                except psycopg.OperationalError as exc:
                    lost = self._connection is None or self._connection.broken
                    if self._connection is not None and lost:
                        self._connection.close()
                    if lost and not reconnected:
                        reconnected = True
                        self._connection = None
                        continue
                    message = f"{doing} {self.name}: {_said(exc, self.dsn)}"
                    if lost:
                        self._outage(message)
                        raise SentLogUnavailable(message) from None
                    raise BackscatterError(message) from None
                except psycopg.errors.ReadOnlySqlTransaction:
                    raise BackscatterError(
                        f"sent-log {self.name} is open read-only: cannot write to it"
                    ) from None
                except psycopg.Error as exc:
                    raise BackscatterError(f"{doing} {self.name}: {_said(exc, self.dsn)}") from None
                if self._down:
                    self._down = False
                    log.warning("sent-log %s is reachable again", self.name)
                return result
            raise BackscatterError(f"{doing} {self.name}: gave up")  # not reached

    def _outage(self, message: str) -> None:
        self._retry_at = time.monotonic() + self.RETRY_AFTER
        self._last_error = message
        if not self._down:
            self._down = True
            log.error("%s (said once until it is back)", message)

    # writing

    def add(self, rows: Iterable[SentRecipient]) -> tuple[int, int]:
        """Store rows; return (rows read, rows that were new). Each batch of
        :data:`_BATCH` rows is one transaction: an interrupted import keeps the batches
        already written and the next run adds only the rest.

        A large import writes each batch from a second thread while this one reads and
        normalises the next (psycopg waits for the server without the GIL), so reading
        the log and the server's inserting overlap; one batch at most is in flight.
        Meanwhile the GIL changes hands promptly (:data:`_HANDOVER`)."""
        read = added = 0
        batch: list[tuple[object, ...]] = []
        keys = RowKeys()
        writer: ThreadPoolExecutor | None = None
        pending: Future[int] | None = None
        handover = ExitStack()
        try:
            for row in rows:
                read += 1
                stored = _storable(keys.row(row))
                if stored is None:
                    continue
                batch.append(stored)
                if len(batch) >= _BATCH:
                    text = copy_text(batch)  # here, not in the writer: it needs the GIL
                    if pending is not None:
                        added += pending.result()
                    if writer is None:
                        from concurrent.futures import ThreadPoolExecutor

                        handover.enter_context(_HANDOVER)
                        writer = ThreadPoolExecutor(1, thread_name_prefix="sentlog-copy")
                    pending = writer.submit(self._write, batch, text)
                    batch = []
            if pending is not None:
                added += pending.result()
            if batch:
                added += self._write(batch)
        finally:
            if writer is not None:
                writer.shutdown(wait=True)  # never leave a batch half-sent behind us
            handover.close()
        return read, added

    def _write(self, batch: list[tuple[object, ...]], text: str | None = None) -> int:
        if len(batch) < _SMALL:
            return self._run("cannot write sent-log", lambda c: _insert_arrays(c, batch))
        payload = copy_text(batch) if text is None else text
        probe = (*_key(batch[0]), *_key(batch[-1]))
        return self._run("cannot write sent-log", lambda c: self._copy(c, payload, probe))

    def _copy(self, connection: psycopg.Connection[Any], text: str, probe: Sequence[object]) -> int:
        """One batch (``COPY`` text, :func:`copy_text`), inserted in one transaction.

        A batch whose first and last rows are not stored yet (the usual case: new log
        lines) goes in by a plain ``INSERT``, which costs the server about a quarter less
        than ``ON CONFLICT DO NOTHING`` (no speculative insertion: one index probe and one
        WAL record fewer per row). Should a row turn out to be there after all (another
        host importing the same lines, a line twice in one batch), the unique index refuses
        it, the transaction is rolled back whole, and the batch is sent again with
        ``ON CONFLICT DO NOTHING``; the server logs that refusal as an ERROR, once per such
        batch. A batch whose first or last row is stored (the same log imported again)
        goes straight to ``ON CONFLICT``."""
        if not self._staged:
            connection.execute(
                "CREATE TEMP TABLE IF NOT EXISTS sent_stage "
                "(LIKE sent INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            self._staged = True
        added = _copy_batch(connection, text, probe)
        if added is None:
            added = _copy_batch(connection, text, None)
        return added

    def prune(self, before: datetime) -> int:
        def work(connection: psycopg.Connection[Any]) -> int:
            cursor = connection.execute(
                "DELETE FROM sent WHERE sent_at < %s", (unix_seconds(before),)
            )
            return max(cursor.rowcount, 0)

        return self._run("cannot prune sent-log", work)

    # reading

    def by_message_id(self, message_id: str) -> list[SentRecipient]:
        return self.by_message_ids([message_id])

    def by_message_ids(
        self, message_ids: Sequence[str], recipients: Sequence[str] = ()
    ) -> list[SentRecipient]:
        """As :meth:`SqliteSentLog.by_message_ids`: rows to the given recipients when there
        are any, else at most 100 of the IDs' rows."""
        forms = id_forms(message_ids)
        if not forms:
            return []
        keys = address_keys(recipients)
        if keys:
            rows = self._select("message_id = ANY(%s) AND recipient = ANY(%s)", (forms, keys))
            if rows:
                return rows
        return self._select("message_id = ANY(%s) LIMIT 100", (forms,))

    def by_recipient(self, recipient: str, since: datetime, until: datetime) -> list[SentRecipient]:
        return self.by_recipients([recipient], since, until)

    def by_recipients(
        self, recipients: Sequence[str], since: datetime, until: datetime
    ) -> list[SentRecipient]:
        keys = address_keys(recipients)
        if not keys:
            return []
        return self._select(
            "recipient = ANY(%s) AND sent_at BETWEEN %s AND %s",
            (keys, unix_seconds(since), unix_seconds(until)),
        )

    def by_sender(self, sender: str, since: datetime, until: datetime) -> list[SentRecipient]:
        """The sender's most recent rows in the window, newest first (at most 100)."""
        return self._select(
            "sender = %s AND sent_at BETWEEN %s AND %s ORDER BY sent_at DESC LIMIT 100",
            (address_key(sender), unix_seconds(since), unix_seconds(until)),
        )

    def _select(self, where: str, args: tuple[object, ...]) -> list[SentRecipient]:
        query = f"SELECT {_COLUMNS} FROM sent WHERE {where}"
        return self._run(
            "cannot read sent-log",
            lambda c: [from_row(row) for row in c.execute(query, args).fetchall()],
        )

    def coverage(self) -> tuple[datetime, datetime] | None:
        """The first and last ``sent_at`` stored, or None when empty: one round trip of two
        index probes, not cached (other hosts write meanwhile)."""
        first, last = self._run(
            "cannot read sent-log",
            lambda c: c.execute("SELECT min(sent_at), max(sent_at) FROM sent").fetchone(),
        )
        return None if first is None else (from_unix(first), from_unix(last))

    def stats(self) -> dict[str, object]:
        """The same counts and span as :meth:`SqliteSentLog.stats`."""
        messages, recipients, id_only = self._run(
            "cannot read sent-log",
            lambda c: c.execute(
                "SELECT count(DISTINCT COALESCE(message_id, sender || sent_at)), "
                "count(*) FILTER (WHERE recipient != ''), "
                "count(*) FILTER (WHERE recipient = '') FROM sent"
            ).fetchone(),
        )
        span = self.coverage()
        return {
            "messages": messages,
            "recipients": recipients,
            "id_only": id_only,
            "first_sent": span[0].isoformat() if span else None,
            "last_sent": span[1].isoformat() if span else None,
            "span_days": round((span[1] - span[0]).total_seconds() / 86400, 1) if span else 0.0,
        }

    def check(self, full: bool = False) -> list[str]:
        """``["ok"]``, or what is wrong: the schema version, an index left invalid (a failed
        concurrent build); ``full`` also reads every row."""

        def work(connection: psycopg.Connection[Any]) -> list[str]:
            problems = []
            version = schema_version(connection)
            if version != LATEST:
                problems.append(f"schema version {version or 0}, expected {LATEST}")
            invalid = connection.execute(
                "SELECT indexrelid::regclass::text FROM pg_index "
                "WHERE indrelid = 'sent'::regclass AND NOT indisvalid"
            ).fetchall()
            problems.extend(f"index {name} is invalid" for (name,) in invalid)
            if full:
                connection.execute(
                    "SELECT sum(length(sender) + length(recipient) + length(message_id) "
                    "+ length(subject)) FROM sent"
                ).fetchone()
            return problems or ["ok"]

        try:
            return self._run("cannot check sent-log", work)
        except BackscatterError as exc:
            return [str(exc)]


#: Per import transaction (``set_config(..., true)``: the milter's small ones keep the
#: server's settings). ``synchronous_commit`` off: the commit does not wait for the WAL
#: flush, so a server crash can lose the last batches that reported success, which costs
#: nothing here, since an import is idempotent and the next run of the same log adds them
#: again. ``work_mem``: a batch's sort by key stays in memory (the 4 MB default spills it
#: to a temporary file).
_IMPORT_SETTINGS = (
    "SELECT set_config('synchronous_commit', 'off', true), set_config('work_mem', '64MB', true)"
)
_STORED = (
    "EXISTS (SELECT FROM sent WHERE recipient = %s AND sent_at = %s AND sender = %s "
    "AND COALESCE(message_id, '') = %s)"
)
_INSERT_STAGED = (
    f"INSERT INTO sent ({_COLUMNS}) SELECT {_COLUMNS} FROM sent_stage ORDER BY {_KEY_ORDER}"
)


def _copy_batch(
    connection: psycopg.Connection[Any], text: str, probe: Sequence[object] | None
) -> int | None:
    """Stage and insert one batch in one transaction: by a plain ``INSERT`` when ``probe``
    (the keys of two of its rows) finds neither stored, else ``ON CONFLICT DO NOTHING``.
    None when the plain ``INSERT`` met a stored row: nothing was written."""
    psycopg = _psycopg()
    with connection.transaction(), connection.cursor() as cursor:
        if probe is None:
            cursor.execute(_IMPORT_SETTINGS)
        else:
            cursor.execute(f"{_IMPORT_SETTINGS}, {_STORED} OR {_STORED}", probe)
            row = cursor.fetchone()
            if row is not None and row[-1]:
                probe = None
        with cursor.copy(f"COPY sent_stage ({_COLUMNS}) FROM STDIN") as copy:
            copy.write(text)
        if probe is None:
            cursor.execute(f"{_INSERT_STAGED} ON CONFLICT DO NOTHING")
            return max(cursor.rowcount, 0)
        try:
            cursor.execute(_INSERT_STAGED)
        except psycopg.errors.UniqueViolation:
            raise psycopg.Rollback from None
        return max(cursor.rowcount, 0)
    return None


def _key(row: tuple[object, ...]) -> tuple[object, ...]:
    """A staged row's unique key, as :data:`_STORED` takes it."""
    message_id, sent_at, sender, recipient, _subject = row
    return recipient, sent_at, sender, message_id or ""


class _SwitchInterval:
    """CPython's GIL switch interval lowered while at least one import runs in the process.

    During an import the writer thread waits for the server many times per batch (each
    128 KiB of ``COPY`` data, each statement), and after each wait it needs the GIL back
    from the thread reading the log, which CPython hands over only when the switch interval
    has passed (``sys.setswitchinterval``, 5 ms by default): a server left idle for up to
    5 ms, dozens of times a batch. Counted, so that concurrent imports restore it once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, self.seconds))
            self._users += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                sys.setswitchinterval(self._saved)


_HANDOVER = _SwitchInterval(0.0002)


def _insert_arrays(connection: psycopg.Connection[Any], batch: list[tuple[object, ...]]) -> int:
    """A few rows in one statement and one short transaction (the milter's path)."""
    columns = list(zip(*batch, strict=True))
    cursor = connection.execute(
        f"INSERT INTO sent ({_COLUMNS}) SELECT * FROM unnest("
        "%s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[]) "
        f"AS r({_COLUMNS}) ORDER BY {_KEY_ORDER} ON CONFLICT DO NOTHING",
        [list(column) for column in columns],
    )
    return max(cursor.rowcount, 0)


#: What COPY's text format escapes inside a field (PostgreSQL manual, "COPY", "Text Format").
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(batch: list[tuple[object, ...]]) -> str:
    """The rows in ``COPY ... FROM STDIN`` text format, one line each, None as ``\\N``.

    Built with one f-string per row; whether any field needed escaping is known from four
    counts over the whole text (each row adds exactly four tabs, one newline and, for each
    None, one backslash), so only a batch with a tab, newline, CR or backslash in a field
    is built again field by field. Faster than psycopg's ``write_row`` per row, and done
    while the previous batch is being inserted."""
    lines = []
    nulls = 0
    for message_id, sent_at, sender, recipient, subject in batch:
        if message_id is None:
            message_id = "\\N"
            nulls += 1
        if subject is None:
            subject = "\\N"
            nulls += 1
        lines.append(f"{message_id}\t{sent_at}\t{sender}\t{recipient}\t{subject}\n")
    text = "".join(lines)
    rows = len(batch)
    if (
        text.count("\\") == nulls
        and text.count("\t") == 4 * rows
        and text.count("\n") == rows
        and "\r" not in text
    ):
        return text
    return "".join(
        "\t".join("\\N" if v is None else str(v).translate(_COPY_ESCAPES) for v in row) + "\n"
        for row in batch
    )


def _storable(row: tuple[Any, ...]) -> tuple[object, ...] | None:
    """The row as PostgreSQL can hold it (no NUL), or None when its key cannot be indexed."""
    message_id, _sent_at, sender, recipient, subject = row
    size = len(message_id or "") + len(sender) + len(recipient)
    if size > 600 and len(f"{message_id or ''}{sender}{recipient}".encode()) > _MAX_KEY_BYTES:
        return None
    if "\x00" in f"{message_id}{sender}{recipient}{subject}":
        return tuple(v.replace("\x00", "\ufffd") if isinstance(v, str) else v for v in row)
    return row
