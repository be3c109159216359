"""backscatter: tell a genuine bounce from backscatter and fake non-delivery reports.

    from backscatter import Detector, parse_path
    bounces = parse_path("bounces.mbox")        # .is_bounce, .recipients, .original_message_id
    detector = Detector.load()                  # the shipped model, no sent-log
    verdict = detector.score(raw_bytes)         # .verdict, .spoofed_probability, .evidence

Every name is imported on first use: ``backscatter.parse`` users do not pay for scikit-learn,
and ``backscatter --help`` (which imports this package first) pays for nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backscatter.detector import Detector, Envelope, Verdict
    from backscatter.mail import Bounce, FailedRecipient, iter_messages, parse, parse_path
    from backscatter.sentlog import SqliteSentLog as SentLog

__version__ = "0.1.0"
__all__ = [
    "Bounce",
    "Detector",
    "Envelope",
    "FailedRecipient",
    "SentLog",
    "Verdict",
    "__version__",
    "iter_messages",
    "parse",
    "parse_path",
]

_LAZY = {
    "Bounce": ("backscatter.mail", "Bounce"),
    "FailedRecipient": ("backscatter.mail", "FailedRecipient"),
    "iter_messages": ("backscatter.mail", "iter_messages"),
    "parse": ("backscatter.mail", "parse"),
    "parse_path": ("backscatter.mail", "parse_path"),
    "Detector": ("backscatter.detector", "Detector"),
    "Envelope": ("backscatter.detector", "Envelope"),
    "Verdict": ("backscatter.detector", "Verdict"),
    "SentLog": ("backscatter.sentlog", "SqliteSentLog"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'backscatter' has no attribute {name!r}")
