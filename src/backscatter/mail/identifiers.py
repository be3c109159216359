"""The one home for how Message-IDs and addresses are normalised and compared.

The parser, the sent-log importers, the store, the matching and the mail filter all meet on
these forms; if any of them wrote its own, a Message-ID stored by one would miss when looked
up by another.

Message-ID (RFC 5322 section 3.6.4): ``msg-id = [CFWS] "<" id-left "@" id-right ">" [CFWS]``;
the angle brackets are not part of the ID. :func:`normalise_message_id` keeps what is between
the first ``<`` and the ``>`` after it (comments and whitespace outside fall away; a bare
``id@host`` loses only its comments and whitespace) and changes no case: that is the form
records and people see. :func:`message_id_key` is how the sent-log stores and compares one:
``id-left`` keeps its case, ``id-right`` (in practice the generating host's name; host names
are case-insensitive, RFC 4343) is lower-cased, so ``<Abc.1@Mail.Example>`` and
``Abc.1@mail.example`` are one ID and ``<abc.1@...>`` is another. Rows stored before this
rule kept the domain's case, so :func:`message_id_forms` gives a lookup the form as written
too, and existing stores answer exactly as before.

Address: :func:`normalise_address` keeps the local part's case (RFC 5321 section 2.4 lets it
matter) and lower-cases the domain; :func:`address_key` lower-cases all of it, which is how
the sent-log stores and compares recipients and senders (mailboxes differing only in the
local part's case are one mailbox at every provider we know).
"""

from __future__ import annotations

#: Longest Message-ID we accept (RFC 5322 lines are at most 998 characters).
MAX_ID_LENGTH = 250
#: Most Message-IDs read from one text: a References chain is rarely longer than 20-30.
MAX_IDS = 100
#: Characters of text scanned for Message-ID fields (a bounce's text part is far smaller).
MAX_TEXT = 1_000_000
#: Header fields whose values name messages: the returned original's own ID, and the
#: messages it answers (RFC 5322 section 3.6.4), quoted by many reports in their text.
ID_FIELDS = ("message-id:", "in-reply-to:", "references:", "original-message-id:")
_MAX_FOLDED_LINES = 40
_MAX_PREFIX = 40
_MAX_FIELDS = 50
_MAX_LINE = 4096
_NOT_IN_ID = "<> \t\r\n"


def normalise_message_id(value: str | None) -> str | None:
    """A Message-ID without brackets, blanks or comments, case kept; None if empty.

    Every imported row passes through here (in the importer, then the store): the common
    ``<id@host>`` costs a handful of string calls.
    """
    if not value:
        return None
    text = _strip_comments(value) if "(" in value else value
    opening = text.find("<")
    if opening != -1:
        closing = text.find(">", opening + 1)
        text = text[opening + 1 : closing] if closing != -1 else text[opening + 1 :]
    words = text.strip(_NOT_IN_ID).split(None, 1)
    if not words or len(words[0]) > MAX_ID_LENGTH:
        return None
    return words[0]


def message_id_key(value: str | None) -> str | None:
    """A Message-ID as the sent-log stores and compares it: normalised, ``id-right``
    lower-cased (see the module docstring)."""
    return _lower_right(normalise_message_id(value))


def _lower_right(identifier: str | None) -> str | None:
    """A normalised Message-ID with its ``id-right`` lower-cased."""
    at = identifier.rfind("@") if identifier else -1
    if identifier is None or at <= 0:
        return identifier
    right = identifier[at + 1 :]
    lowered = right.lower()
    return identifier if lowered == right else identifier[: at + 1] + lowered


def message_id_forms(value: str | None) -> tuple[str, ...]:
    """The key and, when it differs, the ID as written (normalised, case kept): the forms
    a lookup must try to find rows stored before domains were lower-cased."""
    written = normalise_message_id(value)  # normalised once, for both forms
    key = _lower_right(written)
    if key is None or written is None:
        return ()
    return (key, written) if written != key else (key,)


def normalise_address(address: str) -> str:
    """An address as compared everywhere: no brackets or mailto:, domain lower-cased.

    The local part keeps its case (RFC 5321 says it may matter); comparisons that want to
    ignore case use :func:`address_key`.
    """
    address = address.strip().strip("<>").strip()
    if len(address) > 1 and address[0] == address[-1] and address[0] in "\"'":
        address = address[1:-1].strip()  # the whole address quoted, not a quoted local part
    if address[:7].lower() == "mailto:":
        address = address[7:]
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local}@{domain.rstrip('.').lower()}"


def address_key(address: str | None) -> str:
    """The case-insensitive form the sent-log stores and looks up ('' for no address).

    Equal to ``normalise_address(address).lower()``; the plain case (an importer's bare or
    bracketed address) skips the rest, since every imported row goes through here.
    """
    if not address:
        return ""
    value = address.strip().strip("<>").strip().lower()
    if not value or (value[0] not in "\"'m" and value[-1] != "."):
        return value
    return normalise_address(value)  # quoted, mailto: or a trailing dot (or just m...)


def message_ids_in_value(value: str) -> list[str]:
    """Every ``<id-left@id-right>`` in one field value (a References chain), in order,
    without repeats, at most :data:`MAX_IDS`; normalised with case kept (compare them
    through :func:`message_id_key`, as :func:`~backscatter.sentlog.match_bounce` does).

    Anchored on each ``@``: the ``<`` is looked for back to the previous ``@`` and the ``>``
    forward to the next one, so every stretch of text is read at most twice whatever it
    holds (no regex, no backtracking); at most ``4 * MAX_IDS`` ``@`` are looked at.
    """
    found: dict[str, None] = {}
    previous = 0
    at = value.find("@")
    for _ in range(MAX_IDS * 4):
        if at == -1 or len(found) >= MAX_IDS:
            break
        following = value.find("@", at + 1)
        stop = len(value) if following == -1 else following
        opening = value.rfind("<", max(previous, at - MAX_ID_LENGTH), at)
        closing = value.find(">", at + 1, min(stop, at + MAX_ID_LENGTH))
        if opening != -1 and closing != -1:
            inner = value[opening + 1 : closing]
            plain = inner[0] != "@" and inner[-1] != "@" and not any(c in inner for c in _NOT_IN_ID)
            identifier = normalise_message_id(inner) if plain else None
            if identifier:
                found[identifier] = None
        previous, at = at + 1, following
    return list(found)


def message_ids_in_text(text: str) -> list[str]:
    """The Message-IDs named in ``Message-ID:``, ``In-Reply-To:``, ``References:`` (and
    ``Original-Message-ID:``) lines anywhere in a text: at a line's start, or quoted (``>``)
    or indented, with their folded continuation lines. In order, without repeats.

    Only those fields count: a report's text is full of ``<user@domain>`` addresses, which
    must not pass for Message-IDs. A ``Message-ID:`` value without brackets is taken whole.
    """
    text = text[:MAX_TEXT]
    lowered = text.lower()
    if len(lowered) != len(text):  # "İ".lower() is two characters: keep offsets aligned
        lowered = text.encode("ascii", "replace").decode("ascii").lower()
    found: dict[str, None] = {}
    for name, start in sorted(_field_starts(lowered), key=lambda field: field[1]):
        value = _field_value(text, start)
        ids = message_ids_in_value(value)
        if not ids and name == "message-id:":
            bare = normalise_message_id(value)
            ids = [bare] if bare and "@" in bare else []
        found.update(dict.fromkeys(ids))
        if len(found) >= MAX_IDS:
            break
    return list(found)[:MAX_IDS]


def _field_starts(lowered: str) -> list[tuple[str, int]]:
    """Each ID field (its name, where its value begins) whose name has only ``>`` and blanks
    before it on its line, so ``Resent-Message-ID:`` or prose naming a field do not count.
    At most :data:`_MAX_FIELDS` occurrences of each name are looked at."""
    starts: list[tuple[str, int]] = []
    for name in ID_FIELDS:
        position = lowered.find(name)
        for _ in range(_MAX_FIELDS):
            if position == -1:
                break
            line_start = lowered.rfind("\n", max(0, position - _MAX_PREFIX), position) + 1
            near = line_start or position <= _MAX_PREFIX
            if near and not lowered[line_start:position].strip("> \t"):
                starts.append((name, position + len(name)))
            position = lowered.find(name, position + len(name))
    return starts


def _field_value(text: str, start: int) -> str:
    """The rest of the field's line and its folded continuations: lines that repeat the
    field's quoting or indentation and then begin with a blank, and do not start a field.
    Every line read is bounded, so a text without line breaks costs no more than one."""
    line_start = text.rfind("\n", max(0, start - _MAX_PREFIX - 30), start) + 1
    indent = text[line_start:start].partition(":")[0]
    indent = indent[: len(indent) - len(indent.lstrip("> \t"))]
    end = _line_end(text, start)
    parts = [text[start:end]]
    for _ in range(_MAX_FOLDED_LINES):
        if end >= len(text):
            break
        following = _line_end(text, end + 1)
        line = text[end + 1 : following]
        body = line[len(indent) :] if line.startswith(indent) else line.lstrip(">")
        if not body[:1].isspace() or not body.strip() or _starts_field(body):
            break
        parts.append(body)
        end = following
    return " ".join(parts)


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start, start + _MAX_LINE)
    return end if end != -1 else min(len(text), start + _MAX_LINE)


def _starts_field(line: str) -> bool:
    name, colon, _ = line.strip().partition(":")
    return bool(colon) and bool(name) and not any(ch in name for ch in " \t<>@")


def _strip_comments(text: str) -> str:
    """RFC 5322 comments (``(...)``, nesting allowed) taken out, outside angle brackets."""
    if "(" not in text:
        return text
    kept: list[str] = []
    depth = 0
    bracketed = False
    for ch in text[: MAX_ID_LENGTH * 4]:
        if ch == "<" and not depth:
            bracketed = True
        elif ch == ">" and not depth:
            bracketed = False
        if not bracketed and ch == "(":
            depth += 1
        elif depth and ch == ")":
            depth -= 1
        elif not depth:
            kept.append(ch)
    return "".join(kept)
