"""Shared checks for the fixture tables of tests/mail (one row per fixture)."""

from __future__ import annotations

import importlib

from backscatter import Bounce
from backscatter.mail.formats import FAMILIES

#: Parameter names of a bounce table row: fixture, format, [(address, status, reason, hard)],
#: original Message-ID.
ANATOMY = ("name", "family", "recipients", "message_id")


def check_anatomy(bounce: Bounce, family: str, recipients: list, message_id: str | None) -> None:
    """A bounce read as its table row says: format, recipients and the original's Message-ID."""
    assert bounce.is_bounce
    assert bounce.format == family
    found = [(r.address, r.status, r.reason, r.hard) for r in bounce.recipients]
    assert found == recipients
    assert bounce.original_message_id == message_id
    assert bounce.error is None


def check_not_a_bounce(bounce: Bounce, kind: str | None) -> None:
    """A look-alike: not a bounce, the kind it was taken for, and no recipients."""
    assert not bounce.is_bounce
    assert bounce.format == kind
    assert bounce.recipients == ()


def check_added_modules(added: tuple[str, ...], table: list) -> None:
    """Each family module a piece of work added is registered, has a recogniser, comes before
    the generic reader, and is proven by a fixture in that work's table."""
    for module in added:
        assert module in FAMILIES
        assert FAMILIES.index(module) < FAMILIES.index("generic")
        assert importlib.import_module(f"backscatter.mail.formats.{module}").RECOGNISER
    assert set(added) <= {row[1] for row in table}
