"""The one interface every bounce-format recogniser implements, and what it returns.

A recogniser looks at a :class:`MessageView` and either declines (returns None) or returns a
:class:`Report`: the failed recipients it found and whatever it learnt about the returned
message. The parser then fills in status codes, reasons and the returned message's headers,
so each recogniser only knows its own MTA's wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from typing import Protocol

from backscatter.mail.message import MessageView

#: The most failed recipients a recogniser reports for one message. Real reports name a few;
#: a hostile one naming 50,000 must not cost 50,000 settlements (issue 12).
MAX_RECIPIENTS = 1000


@dataclass(slots=True)
class FoundRecipient:
    """A recipient as a recogniser found it, before status and reason are settled."""

    address: str
    diagnostic: str | None = None
    status: str | None = None
    action: str | None = None
    remote_mta: str | None = None


@dataclass(slots=True)
class Report:
    """What one recogniser read from a message."""

    format: str
    recipients: list[FoundRecipient] = field(default_factory=list)
    reporting_mta: str | None = None
    arrival_date: str | None = None
    returned: Message | None = None
    is_bounce: bool = True
    original_message_id: str | None = None
    #: More recipients were named than MAX_RECIPIENTS: the rest were not read.
    recipients_capped: bool = False


class Recogniser(Protocol):
    """A bounce format: ``name`` is reported as the record's ``format``."""

    name: str

    def recognise(self, view: MessageView) -> Report | None:
        """Return a Report when the message is in this format, else None."""
        ...
