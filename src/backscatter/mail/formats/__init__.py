"""The registry of bounce formats, most specific first.

Each family lives in its own module and exposes ``RECOGNISER``. The parser asks them in
this order and takes the first answer, so a family's own module wins over the RFC 3464
backbone only where it knows better, and the generic reader speaks only when none did.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    "netease",
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


def registry(
    only: Iterable[str] | None = None, without: Iterable[str] = ()
) -> tuple[Recogniser, ...]:
    """The registry narrowed to some families, in the same order.

    Measuring what the format-free reader carries alone (``only={"rfc3464", "generic"}``)
    needs the family modules switched off for one run without editing the tuple above.
    """
    keep = set(FAMILIES) if only is None else set(only)
    unknown = (keep | set(without)) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown families: {', '.join(sorted(unknown))}")
    keep -= set(without)
    return tuple(r for name, r in zip(FAMILIES, RECOGNISERS, strict=True) if name in keep)


__all__ = [
    "FAMILIES",
    "JSON_FAMILIES",
    "RECOGNISERS",
    "FoundRecipient",
    "Recogniser",
    "Report",
    "registry",
]
