"""Finding and normalising e-mail addresses in headers and in free report text.

Header values go through flanker's RFC 5322 address parser (display names, quoting, groups,
comments), which is far more faithful than anything hand-written. Free text is scanned by
anchoring on each ``@`` and reading a bounded span either side: linear in the text length,
so no input can make it backtrack.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from backscatter.mail.identifiers import normalise_address as normalise


@lru_cache(maxsize=1)
def _flanker_address() -> Any:
    """flanker's address module, imported on the first header that needs it: importing it
    builds ply parser tables (~0.25 s), which most headers (``a@b``, ``Name <a@b>``) and
    commands such as ``backscatter --help`` never need.

    flanker's ply lexer and parser log grammar warnings on import and a warning for every
    address they cannot read; neither is for the user's eyes, so they go nowhere."""
    flanker_log = logging.getLogger("flanker")
    flanker_log.addHandler(logging.NullHandler())
    flanker_log.propagate = False
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from flanker.addresslib import address

    return address


def preload() -> None:
    """Import now what scoring would import on its first unusual header (flanker's parser):
    a process that forks scoring workers calls this first, or each new worker pays ~0.5 s
    on some message's time, and budget."""
    _flanker_address()


_LOCAL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-"
)
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
_MAX_LOCAL = 64
_MAX_DOMAIN = 255


def _run_of(chars: frozenset[str]) -> re.Pattern[str]:
    """A run of ``chars`` (each escaped: a class of exactly these characters)."""
    return re.compile("[" + "".join(re.escape(char) for char in sorted(chars)) + "]*")


#: The runs either side of an "@", read in C instead of a Python step per character: the
#: local part is matched on the (reversed) characters before it, the domain after it.
_LOCAL_RUN = _run_of(_LOCAL_CHARS)
_DOMAIN_RUN = _run_of(_DOMAIN_CHARS)
_MAX_HEADER_CHARS = 4096

__all__ = [
    "addresses_in_text",
    "first_header_address",
    "header_addresses",
    "normalise",
    "preload",
]


def header_addresses(value: str) -> list[str]:
    """The addr-specs named in an address header such as From, To or Cc."""
    if not value:
        return []
    return list(_header_addresses(value[:_MAX_HEADER_CHARS]))


@lru_cache(maxsize=4096)
def _header_addresses(value: str) -> tuple[str, ...]:
    """Cached: a mailbox's bounces repeat the same few To and From values."""
    simple = _simple_mailboxes(value)
    if simple is not None:
        return simple
    try:
        parsed = _flanker_address().parse_list(value)
    except Exception:  # flanker's parser is strict and can fail on hostile input
        parsed = []
    found = [normalise(a.address) for a in parsed if getattr(a, "address", None)]
    return tuple(found or addresses_in_text(value))


#: Groups (``:``/``;``), quoted-pairs and domain literals: RFC 5322's subtle parts, for flanker.
_SUBTLE = frozenset(":;\\[]")


def _simple_mailboxes(value: str) -> tuple[str, ...] | None:
    """The mailboxes of a header in the forms mail really uses, or None for flanker.

    A comma-separated list of ``a@b``, ``Name <a@b>``, ``"Name, Quoted" <a@b>`` and
    ``a@b (Comment)`` (RFC 5322 section 3.4) is read here in one pass: about a third of
    bounces carry such a header (``"MAILER-DAEMON" <postmaster@...>``, ``MAILER-DAEMON@host
    (Mail Delivery System)``), and flanker's parser costs ~0.2 s to import, which a single
    ``backscatter parse one.eml`` would pay. Groups, escapes, nested or leading comments,
    domain literals and anything malformed go to flanker, as before.
    """
    if any(ch in _SUBTLE for ch in value):
        return None
    if "," not in value and '"' not in value and "(" not in value:  # most values: one pass less
        mailbox = _simple_mailbox(value)
        return None if mailbox is None else (mailbox,)
    found: list[str] = []
    start = 0
    in_quote = False
    depth = 0
    for position, ch in enumerate(value):
        if ch == '"' and not depth:
            in_quote = not in_quote
        elif in_quote:
            continue
        elif ch == "(":
            depth += 1
            if depth > 1:
                return None
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and not depth:
            mailbox = _simple_mailbox(value[start:position])
            if mailbox is None:
                return None
            found.append(mailbox)
            start = position + 1
    if in_quote or depth:
        return None
    mailbox = _simple_mailbox(value[start:])
    return None if mailbox is None else (*found, mailbox)


def _simple_mailbox(value: str) -> str | None:
    """One mailbox (no top-level comma, quotes balanced): ``a@b``, ``[display name] <a@b>``
    or ``a@b (comment)``; None for anything else."""
    value = value.strip()
    if value.endswith(")"):  # a trailing comment, holding no quote or parenthesis
        opened = value.rfind("(")
        if opened <= 0 or '"' in value[opened:]:
            return None
        value = value[:opened].rstrip()
    unquoted = "".join(value.split('"')[::2])  # what lies outside the quoted strings
    if "(" in unquoted or ")" in unquoted:
        return None
    open_at = value.find("<", value.rfind('"') + 1)
    if open_at == -1:
        if '"' in value:
            return None
        spec = value
    elif value.endswith(">") and value.find(">", open_at) == len(value) - 1:
        display = "".join(value[:open_at].split('"')[::2])
        if any(ch in "<>@" for ch in display):
            return None
        spec = value[open_at + 1 : -1].strip()
    else:
        return None
    if spec.count("@") != 1 or any(ch.isspace() or ch in '<>"' for ch in spec):
        return None
    local, _, domain = spec.partition("@")
    if not local or not _plausible_domain(domain):
        return None
    return normalise(spec)


def first_header_address(value: str) -> str | None:
    found = header_addresses(value)
    return found[0] if found else None


#: Free text scanned for addresses at most (report text is already cut at 128 KiB): each
#: "@" costs a step in Python, and a 3 MB header of "@" took 3.5 s (issue 12).
MAX_SCAN_CHARS = 256 * 1024


def addresses_in_text(text: str) -> Iterator[str]:
    """Every plausible address in free text, in order of appearance (duplicates included);
    only the first MAX_SCAN_CHARS characters are read."""
    text = text[:MAX_SCAN_CHARS]
    position = text.find("@")
    while position != -1:
        before = text[max(0, position - _MAX_LOCAL) : position][::-1]
        start = position - _LOCAL_RUN.match(before).end()
        limit = min(len(text), position + 1 + _MAX_DOMAIN)
        end = _DOMAIN_RUN.match(text, position + 1, limit).end()
        local = text[start:position].strip(".")
        if "/" in local or "|" in local:  # a file or pipe delivery path, not a mailbox
            local = ""
        domain = text[position + 1 : end].strip(".-_")
        if local and _plausible_domain(domain) and not _inside_url(text, start, position):
            yield f"{local}@{domain.lower()}"
        position = text.find("@", end if end > position + 1 else position + 1)


def _inside_url(text: str, start: int, at: int) -> bool:
    """True when the address is part of a URL (``https://x/?u=a@b``): not a mailbox named."""
    window = max(0, start - 512)  # bounded: a 3 MB line of addresses must stay linear
    token_start = max(text.rfind(" ", window, start), text.rfind("\n", window, start), window - 1)
    token = text[token_start + 1 : at]
    return "://" in token or token.lower().startswith("www.")


def _plausible_domain(domain: str) -> bool:
    if "." not in domain and domain.lower() not in ("localhost",):
        return False
    labels = domain.split(".")
    return (all(labels) and labels[-1].isalnum() and not labels[-1].isdigit()) or _is_ip(domain)


def _is_ip(domain: str) -> bool:
    parts = domain.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)
