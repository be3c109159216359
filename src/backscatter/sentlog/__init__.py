"""The sent-log: what we really sent, from the logs and folders senders already keep."""

from __future__ import annotations

import os

from backscatter.errors import BackscatterError
from backscatter.sentlog.batv import BatvCheck, recognise, sign, verify
from backscatter.sentlog.matching import SentMatch, match_bounce
from backscatter.sentlog.postgres import PostgresSentLog, SentLogUnavailable, is_dsn, mask_dsn
from backscatter.sentlog.records import ImportReport, SentRecipient
from backscatter.sentlog.store import SentLogStore, SqliteSentLog, default_path

#: Names the sent-log when a command's ``--sent-log``/``--db`` is not given (a path or DSN).
ENV_VAR = "BACKSCATTER_SENT_LOG"


def sent_log_spec(spec: str | os.PathLike[str] | None) -> str | os.PathLike[str]:
    """The sent-log a command uses: the one given, else ``$BACKSCATTER_SENT_LOG``, else the
    file in the user's data directory."""
    if spec is not None and str(spec).strip():
        return spec
    return os.environ.get(ENV_VAR, "").strip() or default_path()


def open_sent_log(spec: str | os.PathLike[str] | None, *, readonly: bool) -> SentLogStore:
    """The one way to open a sent-log: a ``postgresql://`` or ``postgres://`` DSN is the
    shared PostgreSQL store, anything else a SQLite file; None means
    :func:`sent_log_spec`'s default."""
    chosen = sent_log_spec(spec)
    if is_dsn(chosen):
        return PostgresSentLog(str(chosen), readonly=readonly)
    if "://" in str(chosen):  # a mistyped scheme must not become a file named after it
        raise BackscatterError(
            f"sent-log {mask_dsn(str(chosen))}: give a file path or a postgresql:// DSN"
        )
    return SqliteSentLog(chosen, readonly=readonly)


__all__ = [
    "ENV_VAR",
    "BatvCheck",
    "ImportReport",
    "PostgresSentLog",
    "SentLogStore",
    "SentLogUnavailable",
    "SentMatch",
    "SentRecipient",
    "SqliteSentLog",
    "default_path",
    "is_dsn",
    "mask_dsn",
    "match_bounce",
    "open_sent_log",
    "recognise",
    "sent_log_spec",
    "sign",
    "verify",
]
