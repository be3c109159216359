"""The shared engine for bounce formats written as free text (Exim, qmail, Gmail, ...).

Such a report has three regions: a preamble, a section listing failed recipients with their
errors, and a copy of the returned message. A family module names the phrases that mark
where the recipient section starts and where the returned copy begins; this engine does the
rest, so adding a format is mostly naming its phrases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import Message
from functools import lru_cache

from backscatter.mail import status as status_codes
from backscatter.mail.addresses import addresses_in_text, header_addresses
from backscatter.mail.formats.base import MAX_RECIPIENTS, FoundRecipient, Report
from backscatter.mail.message import MessageView, contains_any, parse_headers

#: Lines that introduce the returned copy of the message, across MTAs (lower-case).
RETURNED_MARKERS: tuple[str, ...] = (
    "below this line is a copy of the message",
    "this is a copy of the message",
    "original message follows",
    "original message headers",
    "----- original message -----",
    "-----original message-----",
    "message headers follow",
    "unsent message follows",
    "returned message follows",
    "message header follows",
    "headers of the original message",
    "original message header",
    "copy of the original message",
    "the original message headers",
    "------ this is a copy",
    "original message is attached",
    "the header of the original message",
    "the message header is",
    "content of the original message",
    "your message reads (in part)",
    "--- the header of the original message is following. ---",
    "included below is the",
    "original message:",
    # Localised: Outlook/Exchange reply separators and "original message headers" lines
    # (Sisimai's Exchange2007 module reads the French and Italian ones), and the words
    # other mailers put in their own "----- Original message -----" rule.
    "ursprüngliche nachricht",
    "originalnachricht",
    "kopfzeilen der ursprünglichen nachricht",
    "message d'origine",
    "message original",
    "mensaje original",
    "encabezados del mensaje original",
    "messaggio originale",
    "intestazioni originali del messaggio",
    "mensagem original",
    "cabeçalhos da mensagem original",
    "oryginalna wiadomość",
    "wiadomość oryginalna",
    "oorspronkelijk bericht",
    "origineel bericht",
    "元のメッセージ",
    "元のメール",
    "原始邮件",
    "原始郵件",
    "原邮件",
    "исходное сообщение",
    "оригинальное сообщение",
)

_HEADER_START = (
    "received:",
    "return-path:",
    "message-id:",
    "from:",
    "date:",
    "subject:",
    "to:",
    "mime-version:",
    "dkim-signature:",
    "x-",
    "delivered-to:",
    "content-type:",
    "reply-to:",
    "authentication-results:",
    "arc-",
    "sender:",
    "cc:",
    "references:",
    "in-reply-to:",
)
_MAX_RECIPIENT_LINES = 25
#: Keeps a report's work linear in its size: a hostile line of 10,000 addresses must not cost
#: 10,000 copies of itself (issue 12).
_MAX_DIAGNOSTIC_CHARS = 2000
_IGNORED_LOCALS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "daemon"})
#: What stands around an address in a list (``<a@b>:``, ``* a@b``, ``(a@b)``).
LIST_PUNCTUATION = "<>:;,.*-•()[]\"' \t"


def lower_lines(text: str, limit: int | None = None) -> tuple[list[str], list[str]]:
    """The text's lines and their lower-cased copies (the first ``limit`` lines when given)."""
    lines = text.splitlines()[:limit]
    return lines, [line.lower() for line in lines]


def find_marker(lowered: Sequence[str], markers: Sequence[str], start: int = 0) -> int | None:
    """Index of the first line at or after ``start`` containing one of ``markers``.

    Searches the joined text once (in C) instead of testing every line against every
    marker. Several markers are looked for at once by :func:`_any_marker`: its earliest
    match is the earliest of the markers' first occurrences, where one str.find per marker
    (some sixty for every family that reads text) cost a call and a search setup each.
    """
    if start >= len(lowered):
        return None
    line = first_marker_line("\n".join(lowered[start:]), markers)
    return None if line is None else start + line


def first_marker_line(lowered: str, markers: Sequence[str]) -> int | None:
    """The line (counted from 0) of ``lowered``, a lower-cased text, where the first of
    ``markers`` occurs; what :func:`find_marker` gives for its lines, for a reader that
    has the text whole (one lower() of the whole text lowers each line the same)."""
    if not markers:
        return None
    if len(markers) == 1:
        first = lowered.find(markers[0])
    else:
        found = _any_marker(tuple(markers)).search(lowered)
        first = found.start() if found else -1
    return None if first == -1 else lowered.count("\n", 0, first)


def precompile_markers() -> None:
    """Compile every family's marker pattern now: a process that forks scoring workers calls
    this first (a pattern takes up to ~3 ms to compile, and each new worker would otherwise
    pay that on some message's time, once per pattern)."""
    import backscatter.mail.formats  # noqa: F401  # every family, so every TextFormat
    from backscatter.mail.formats.exim import MOAN_MARKERS

    _any_marker(RETURNED_MARKERS)
    _any_marker(MOAN_MARKERS)
    for fmt in _DEFINED:
        if len(fmt.starts) > 1:
            _any_marker(fmt.starts)
        _any_marker(fmt.ends + RETURNED_MARKERS)


#: Every TextFormat made, in the families' modules (a few dozen, made at import).
_DEFINED: list[TextFormat] = []


@lru_cache(maxsize=256)
def _any_marker(markers: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern that matches where any of ``markers`` starts: the markers as a trie
    (``ab(?:c|d)``), so that at each position at most one branch goes past its first
    character and the work stays linear in the text. Keyed by the families' constant
    marker tuples (some sixty): nothing of a message is kept."""
    trie: dict[str, dict] = {}
    for marker in markers:
        node = trie
        for char in marker:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(_trie_pattern(trie))


def _trie_pattern(node: dict[str, dict]) -> str:
    branches = [re.escape(char) + _trie_pattern(child) for char, child in node.items() if char]
    if not branches:
        return ""
    pattern = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{pattern})?" if "" in node else pattern


def header_block_start(lines: Sequence[str], start: int) -> int | None:
    """The first line from ``start`` where an RFC 5322 header block (2+ fields) begins."""
    for index in range(start, len(lines)):
        if _is_header_line(lines[index]) and (
            index + 1 < len(lines)
            and (_is_header_line(lines[index + 1]) or lines[index + 1][:1] in (" ", "\t"))
        ):
            return index
    return None


def _is_header_line(line: str) -> bool:
    lowered = line.lstrip("> ").lower()
    if not lowered.startswith(_HEADER_START):
        return False
    name, colon, _ = lowered.partition(":")
    return bool(colon) and " " not in name


def returned_headers(lines: Sequence[str], start: int) -> Message | None:
    """Parse the returned message's headers found at or after line ``start``."""
    begin = header_block_start(lines, start)
    if begin is None or begin - start > 40:
        return None
    block: list[str] = []
    first = lines[begin]
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    for line in lines[begin : begin + 400]:
        if not line.strip():
            break
        if indent and line.startswith(indent):
            line = line[len(indent) :]  # an indented copy: its fields start at the indent
        block.append(line[2:] if line.startswith("> ") else line)
    return parse_headers("\n".join(block) + "\n\n") if block else None


def excluded_addresses(view: MessageView, returned: Message | None) -> set[str]:
    """Addresses that are never failed recipients: the bounce's own addressee and sender."""
    excluded: set[str] = set()
    for name in ("to", "from"):
        excluded.update(a.lower() for a in header_addresses(view.header(name)))
    if returned is not None:
        for name in ("from", "sender", "return-path", "reply-to"):
            excluded.update(a.lower() for a in header_addresses(str(returned.get(name, ""))))
    return excluded


def recipient_sections(
    lines: Sequence[str], start: int, end: int, excluded: set[str], named_on_start: bool = False
) -> list[FoundRecipient]:
    """Addresses between ``start`` and ``end``, each with the text that follows it.

    The diagnostic of a recipient is every line after its address up to the next recipient
    (or 25 lines), which is how Exim, qmail, Gmail and most free-text formats lay it out.
    With ``named_on_start``, an address on the start line itself ("error delivering your mail
    to <postmaster@x>") is a recipient whatever its local part.
    """
    positions: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index in range(start, end):
        if len(positions) >= MAX_RECIPIENTS:
            break
        if "@" not in lines[index]:
            continue  # (no address to find: most lines of a report, asked in C)
        core = len(lines[index].strip(LIST_PUNCTUATION))
        for address in addresses_in_text(lines[index]):
            key = address.lower()
            local = key.split("@", 1)[0]
            on_start = named_on_start and index == start
            alone = core <= len(address) and _listed_alone(lines[index], address)
            if not (on_start or alone) and (key in excluded or local in _IGNORED_LOCALS):
                continue
            if key not in seen and len(positions) < MAX_RECIPIENTS:
                seen.add(key)
                positions.append((index, address))
    found: list[FoundRecipient] = []
    for number, (index, address) in enumerate(positions):
        following = positions[number + 1][0] if number + 1 < len(positions) else end
        stop = min(following if following > index else end, index + _MAX_RECIPIENT_LINES, end)
        diagnostic = _joined(lines[index:stop])
        context = _joined(lines[max(0, start - 3, index - 6) : index])
        if diagnostic.strip(LIST_PUNCTUATION).lower() == address.lower() and context.strip():
            # Lotus Notes, KDDI and others state the reason above the address (and above
            # the list's heading), not below it.
            diagnostic = " ".join(f"{context} {diagnostic}".split())
        found.append(FoundRecipient(address=address, diagnostic=diagnostic or None))
    return found


def _joined(lines: Sequence[str]) -> str:
    """The non-blank lines on one line, at most _MAX_DIAGNOSTIC_CHARS of each."""
    parts = (line[:_MAX_DIAGNOSTIC_CHARS].strip() for line in lines)
    return " ".join(part for part in parts if part)[:_MAX_DIAGNOSTIC_CHARS]


def _listed_alone(line: str, address: str) -> bool:
    """A line holding just the address (``<a@b>:``, ``* a@b``) lists a failed recipient.

    Such a line names a recipient even when it is the bounce's own addressee (a message
    sent to oneself) or a postmaster address, which prose mentions are not.
    """
    return not line.lower().replace(address.lower(), "", 1).strip(LIST_PUNCTUATION)


Predicate = Callable[[MessageView], bool]

_DELAY_PHRASES = (
    "has been delayed",
    "this is a warning message only",
    "will be retried",
    "will keep trying",
    "still undelivered",
    "not yet been delivered",
    "delivery delayed",
    "message delayed",
    "has not been delivered yet",
)


def body_says(*phrases: str) -> Predicate:
    """A detector: the report text contains one of the phrases (case-insensitive)."""
    lowered = tuple(p.lower() for p in phrases)

    def detect(view: MessageView) -> bool:
        return contains_any(view.plain_text_head, lowered)

    return detect


def header_says(name: str, *phrases: str) -> Predicate:
    """A detector: a header contains one of the phrases (case-insensitive)."""
    lowered = tuple(p.lower() for p in phrases)

    def detect(view: MessageView) -> bool:
        return contains_any(view.header(name).lower(), lowered)

    return detect


def any_of(*detectors: Predicate) -> Predicate:
    def detect(view: MessageView) -> bool:
        for detector in detectors:  # noqa: SIM110 (a loop: any() over a generator costs twice)
            if detector(view):
                return True
        return False

    return detect


def all_of(*detectors: Predicate) -> Predicate:
    def detect(view: MessageView) -> bool:
        for detector in detectors:  # noqa: SIM110 (as in any_of)
            if not detector(view):
                return False
        return True

    return detect


def is_delay_warning(text: str) -> bool:
    """True when the whole report is a delay warning rather than a failure."""
    return contains_any(text[:8000].lower(), _DELAY_PHRASES)


@dataclass(frozen=True)
class TextFormat:
    """A free-text bounce format described by its phrases.

    ``detect`` decides cheaply whether a message is this family's; ``starts`` are phrases on
    the line before (or of) the recipient list; ``ends`` mark the returned copy (the shared
    list is always tried too).
    """

    name: str
    detect: Predicate
    starts: tuple[str, ...] = ()
    ends: tuple[str, ...] = ()
    skip_start_line: bool = False

    def __post_init__(self) -> None:
        _DEFINED.append(self)  # for precompile_markers: families keep some in constants

    def recognise(self, view: MessageView) -> Report | None:
        if view.text_is_html or not self.detect(view):
            return None
        return read_text_report(self, view)


def read_text_report(fmt: TextFormat, view: MessageView, text: str | None = None) -> Report | None:
    """Apply a TextFormat's phrases to the message's report text (``text`` when given)."""
    text = view.plain_text if text is None else text
    lines, lowered = lower_lines(text)
    start = 0
    if fmt.starts:
        found = find_marker(lowered, fmt.starts)
        if found is None:
            return None
        start = found + 1 if fmt.skip_start_line else found
    end = find_marker(lowered, fmt.ends + RETURNED_MARKERS, start + 1)
    returned = None
    if end is not None:
        returned = returned_headers(lines, end + 1)
    else:
        end = len(lines)
        block = header_block_start(lines, start + 1)
        if block is not None and _looks_like_returned(lowered, block):
            end = block
            returned = returned_headers(lines, block)
    excluded = excluded_addresses(view, returned)
    recipients = recipient_sections(lines, start, end, excluded, bool(fmt.starts))
    if not recipients:
        return None
    delay = is_delay_warning("\n".join(lines[:end]))
    for recipient in recipients:
        stated = status_codes.enhanced_status(recipient.diagnostic or "")
        # A report that is not a delay warning reports failures, whatever words it uses.
        recipient.action = "delayed" if delay and (not stated or stated[0] != "5") else "failed"
    capped = len(recipients) >= MAX_RECIPIENTS
    return Report(fmt.name, recipients=recipients, returned=returned, recipients_capped=capped)


def _looks_like_returned(lowered: Sequence[str], start: int) -> bool:
    block = lowered[start : start + 60]
    names = {line.split(":", 1)[0] for line in block if ":" in line}
    # A summary ("To: / Subject: / Sent:") is not the returned copy: that has a trace or an ID.
    if not names & {"received", "message-id", "return-path"}:
        return False
    return len(names & {"received", "message-id", "subject", "date", "from", "to"}) >= 2
