"""The parsed anatomy of one message: what every later layer reads instead of raw MIME.

Field names follow the project's public record format (and Sisimai's vocabulary where it has
one), so a record written as JSON reads the same as the dataclass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FailedRecipient:
    """One recipient that a report says could not be delivered (or is delayed)."""

    address: str
    status: str | None = None
    action: str | None = None
    diagnostic_code: str | None = None
    remote_mta: str | None = None
    reason: str = "other"
    hard: bool = False


@dataclass(frozen=True, slots=True)
class Bounce:
    """Everything the parser could read from one message, bounce or not.

    `is_bounce` is true only for a failure or delay report written by a mail system;
    the remaining fields are filled as far as the message allows and are None when absent.
    """

    source: str
    is_bounce: bool
    format: str | None = None
    recipients: tuple[FailedRecipient, ...] = ()
    reporting_mta: str | None = None
    arrival_date: str | None = None
    original_message_id: str | None = None
    original_from: str | None = None
    original_to: str | None = None
    original_subject: str | None = None
    original_date: str | None = None
    original_received: tuple[str, ...] = ()
    message_id: str | None = None
    from_: str | None = None
    subject: str | None = None
    date: str | None = None
    return_path: str | None = None
    size: int = 0
    mime_defects: tuple[str, ...] = ()
    error: str | None = None
    is_mail: bool = True  # False for a file with no header fields (a README in a Maildir)

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready record: `from_` is written as `from`, tuples as lists."""
        record = asdict(self)
        record["from"] = record.pop("from_")
        record["recipients"] = [dict(r) for r in record["recipients"]]
        record["original_received"] = list(record["original_received"])
        record["mime_defects"] = list(record["mime_defects"])
        return record
