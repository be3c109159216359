"""The sent-log: what we really sent, from the logs and folders senders already keep."""

from backscatter.sentlog.batv import BatvCheck, recognise, sign, verify
from backscatter.sentlog.matching import SentMatch, match_bounce
from backscatter.sentlog.records import ImportReport, SentRecipient
from backscatter.sentlog.store import SentLogStore, SqliteSentLog, default_path

__all__ = [
    "BatvCheck",
    "ImportReport",
    "SentLogStore",
    "SentMatch",
    "SentRecipient",
    "SqliteSentLog",
    "default_path",
    "match_bounce",
    "recognise",
    "sign",
    "verify",
]
