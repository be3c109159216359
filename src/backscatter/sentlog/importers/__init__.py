"""Importers: one per place a sender keeps a record of what it sent.

Each reads its source as a stream and yields :class:`SentRecipient` rows; unreadable lines
are counted in a :class:`Tally`, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from backscatter.sentlog.importers.base import Progress, Tally
from backscatter.sentlog.importers.csv_rows import read_csv
from backscatter.sentlog.importers.exim import read_exim
from backscatter.sentlog.importers.mailbox import read_mailbox
from backscatter.sentlog.importers.postfix import read_postfix
from backscatter.sentlog.records import SentRecipient

Reader = Callable[[str, Tally, Progress | None], Iterator[SentRecipient]]

READERS: dict[str, Reader] = {
    "csv": read_csv,
    "postfix": read_postfix,
    "exim": read_exim,
    "mbox": read_mailbox,
    "maildir": read_mailbox,
}

__all__ = ["READERS", "Progress", "Tally"]
