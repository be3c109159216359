"""Reading mail and parsing each message into a bounce anatomy.

The names are imported on first use: importing one small module of this package (the
identifiers the sent-log uses, say) must not load the parser and its format registry.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backscatter.mail.anatomy import Bounce, FailedRecipient
    from backscatter.mail.parser import parse
    from backscatter.mail.paths import parse_path
    from backscatter.mail.sources import RawMessage, SourceError, iter_messages

__all__ = [
    "Bounce",
    "FailedRecipient",
    "RawMessage",
    "SourceError",
    "iter_messages",
    "parse",
    "parse_path",
]

_HOME = {
    "Bounce": "backscatter.mail.anatomy",
    "FailedRecipient": "backscatter.mail.anatomy",
    "parse": "backscatter.mail.parser",
    "parse_path": "backscatter.mail.paths",
    "RawMessage": "backscatter.mail.sources",
    "SourceError": "backscatter.mail.sources",
    "iter_messages": "backscatter.mail.sources",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'backscatter.mail' has no attribute {name!r}")
