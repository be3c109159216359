"""The registry of bounce formats, most specific first.

Each family lives in its own module and exposes ``RECOGNISER``. The parser asks them in
this order and takes the first answer, so a family's own module wins over the RFC 3464
backbone only where it knows better, and the generic reader speaks only when none did.
"""

from __future__ import annotations

from importlib import import_module

from backscatter.mail.formats.base import FoundRecipient, Recogniser, Report

#: Module names under this package, in the order they are tried.
FAMILIES: tuple[str, ...] = (
    "rfc3464",
    "amazonses",
    "sendgrid",
    "mailgun",
    "postmark",
    "sparkpost",
    "exim",
    "qmail",
    "yahoo",
    "googlegroups",
    "gmail",
    "fml",
    "mdaemon",
    "messagingserver",
    "mailmarshal",
    "imail",
    "hmailserver",
    "exchange",
    "dragonfly",
    "opensmtpd",
    "sendmail",
    "postfix",
    "kddi",
    "verizon",
    "notes",
    "apachejames",
    "generic",
)


#: Families that read a JSON document (an ESP event), which may arrive without any header.
JSON_FAMILIES: frozenset[str] = frozenset(
    {"amazonses", "sendgrid", "mailgun", "postmark", "sparkpost"}
)


def _load() -> tuple[Recogniser, ...]:
    recognisers: list[Recogniser] = []
    for name in FAMILIES:
        module = import_module(f"{__name__}.{name}")
        recognisers.append(module.RECOGNISER)
    return tuple(recognisers)


RECOGNISERS: tuple[Recogniser, ...] = _load()

__all__ = ["FAMILIES", "JSON_FAMILIES", "RECOGNISERS", "FoundRecipient", "Recogniser", "Report"]
