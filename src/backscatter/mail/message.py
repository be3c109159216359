"""One parsed message, with the views every recogniser needs computed once and cached.

MIME is parsed by the standard library's ``email`` package (compat32 policy): it never raises
on malformed mail, records defects instead, and parses real bounces about twice as fast as
flanker's MIME parser, which also rejected about 2% of the corpus outright. flanker is used
where it is strongest, in :mod:`backscatter.mail.addresses`.
"""

from __future__ import annotations

import codecs
import contextlib
import email.header
import html
import re
from collections.abc import Callable
from email.errors import MessageError
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from functools import lru_cache
from typing import Any, Generic, TypeVar, overload

from backscatter.mail.mimeparse import parse_bytes

#: Report text longer than this is cut before scanning: no MTA writes a longer report, and
#: scanning work per message stays bounded whatever the message holds.
MAX_TEXT_CHARS = 128 * 1024

_RETURNED_TYPES = frozenset(
    {
        "message/rfc822",
        "message/global",
        "message/partial",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "message/global-headers",
        "text/rfc822",
        "message/rfc822-header",
    }
)
_STATUS_TYPES = frozenset(
    {"message/delivery-status", "message/global-delivery-status", "text/delivery-status"}
)
_TAG = re.compile(r"<[^<>]{0,2000}>")
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/tr|/li|/h\d)\b[^<>]{0,200}>", re.IGNORECASE)
_SCRIPT = re.compile(r"<(script|style)\b[^<>]{0,200}>.{0,100000}?</\1\s*>", re.I | re.S)

_header_parser = HeaderParser(policy=compat32)


#: Characters of one header value read (RFC 5322 lines are 998; a long folded To list is a
#: few kilobytes). Every reader of headers goes through header_text, so a 3 MB Received
#: header costs what 16 KiB costs (issue 12: 2.4 s in the Received-chain feature).
MAX_HEADER_TEXT = 16 * 1024


def contains_any(text: str, phrases: tuple[str, ...]) -> bool:
    """``any(p in text for p in phrases)`` as a plain loop: the recognisers and not-a-bounce
    checks ask this some hundred times per message, and a generator costs twice the loop."""
    for phrase in phrases:  # noqa: SIM110 (the generator is what this saves)
        if phrase in text:
            return True
    return False


def header_text(value: object) -> str:
    """A header value as readable text: RFC 2047 words decoded, 8-bit garbage made visible;
    at most MAX_HEADER_TEXT characters of it."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        # compat32 keeps raw 8-bit header bytes (Japanese, Chinese, Russian MTAs write
        # UTF-8 subjects unencoded) as 'unknown-8bit', which str() turns into U+FFFD.
        return " ".join(_eight_bit_header(value)[:MAX_HEADER_TEXT].split())
    text = str(value)[:MAX_HEADER_TEXT]
    if "=?" in text:
        with contextlib.suppress(ValueError, LookupError, UnicodeError, MessageError):
            text = str(email.header.make_header(email.header.decode_header(text)))
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # undecodable header bytes arrive as lone surrogates
            try:
                text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            except UnicodeEncodeError:  # and UTF-7 encoded words decode to others (+2L8-)
                text = without_surrogates(text)
    return " ".join(text.split())


def payload_of(part: Message) -> str | list[Message]:
    """``part.get_payload()`` that never raises: for an 8-bit body compat32 decodes with the
    declared charset, and a hostile one (``idna``, a NUL in the name) raises there."""
    try:
        payload = part.get_payload()
    except Exception:
        payload = part._payload  # the undecoded text compat32 keeps (surrogate-escaped)
    return payload if isinstance(payload, str | list) else ""


def _eight_bit_header(value: email.header.Header) -> str:
    """A header the parser kept as a Header object, decoded (UTF-8 where the charset is
    unknown, which is what unencoded 8-bit headers are in practice)."""
    parts: list[str] = []
    with contextlib.suppress(ValueError, LookupError, UnicodeError, MessageError):
        for chunk, charset in email.header.decode_header(value):
            if isinstance(chunk, str):
                parts.append(chunk)
                continue
            if not charset or charset == "unknown-8bit":
                parts.append(chunk.decode("utf-8", "replace"))  # garbage stays visible
                continue
            parts.append(decode_bytes(chunk, charset))
        return "".join(parts)
    return str(value)


def decode_payload(part: Message) -> str:
    """A leaf part's body as text, whatever its transfer encoding or (mis)declared charset.

    Kept on the part once decoded, as content_type is: the report text, the plain text, the
    link reader and rfc3464 ask for the same parts, and each would repeat the transfer
    decoding and the charset lookup. A part lives as long as its MessageView."""
    cached = part.__dict__.get(_DECODED)
    if cached is None:
        cached = part.__dict__[_DECODED] = _decoded_payload(part)
    return cached


_DECODED = "_backscatter_decoded"


def _decoded_payload(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # compat32 can trip over broken encodings; keep the raw text instead
        payload = None
    if payload is None:
        raw = payload_of(part)
        return raw if isinstance(raw, str) else ""
    return decode_bytes(payload, _declared_charset(part))


def decode_bytes(payload: bytes, charset: str) -> str:
    """Bytes in a declared charset, falling back to UTF-8 for anything that is not a text
    codec: hostile mail declares ``idna``, ``rot13``, names with NUL bytes or 8-bit names."""
    try:
        codec = codecs.lookup(charset)
        if codec._is_text_encoding and "escape" not in codec.name:
            # (the test bytes.decode makes; Python's escape codecs read backslashes as code)
            return without_surrogates(payload.decode(codec.name, "replace"))
    except (LookupError, UnicodeError, ValueError, TypeError):
        pass
    return payload.decode("utf-8", "replace")


def without_surrogates(text: str) -> str:
    """Text that can be written as UTF-8: UTF-7 and UTF-16 bodies can decode to lone
    surrogates (``+2L8-``), which no output stream accepts. Checked in C, cheap."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _declared_charset(part: Message) -> str:
    value = part.get("content-type")
    if isinstance(value, str) and len(value) <= _MAX_REMEMBERED_FIELD:
        return _charset_of_field(value)
    return _charset_of(part)  # (a Header object: 8-bit bytes in the field)


def _charset_of(part: Message) -> str:
    try:
        return part.get_content_charset() or "utf-8"
    except Exception:  # RFC 2231 parameters in an unknown charset, and worse
        return "utf-8"


#: Longest Content-Type field whose charset is remembered (real ones are under 100).
_MAX_REMEMBERED_FIELD = 256


@lru_cache(maxsize=512)
def _charset_of_field(value: str) -> str:
    """The charset of a part whose first Content-Type field is ``value``, as _charset_of
    reads it: text parts repeat a few fields (``text/plain; charset="utf-8"``) in every
    message, and get_content_charset parses every parameter again on each call. Keyed by
    that short string alone: nothing else of a message is remembered."""
    probe = Message(policy=compat32)
    probe["Content-Type"] = value
    return _charset_of(probe)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body, good enough to read a report; never renders anything."""
    markup = _SCRIPT.sub(" ", markup)
    markup = _BLOCK_TAG.sub("\n", markup)
    return html.unescape(_TAG.sub(" ", markup))


def content_type(part: Message) -> str:
    """The part's MIME type, tolerating a missing ``;`` before parameters (seen in the wild).

    Kept on the part once read: every recogniser walks the same parts, and the standard
    library re-reads and re-parses the Content-Type field on each call."""
    cached = part.__dict__.get(_CTYPE)
    if cached is not None:
        return cached
    ctype = part.get_content_type()
    if " " in ctype or "\n" in ctype or "\t" in ctype:
        ctype = ctype.split(None, 1)[0]
    part.__dict__[_CTYPE] = ctype
    return ctype


_CTYPE = "_backscatter_content_type"


def parse_headers(text: str) -> Message:
    """Parse a block of header lines (a returned message's headers) into a Message."""
    return _header_parser.parsestr(text, headersonly=True)


#: MIME containers (multipart/*, message/*) the parser is given at most. The standard
#: library's parser recurses once per nesting level: 5,000 nested parts hit the recursion
#: limit after 0.4 s and leave no anatomy at all (issue 12). A real report nests five deep.
MAX_CONTAINERS = 64
_CONTAINER_TYPES = (b"multipart/", b"message/")


#: Lines the MIME parser is given at most. The standard library's parser costs about half a
#: microsecond a line, and more than ten per blank-line group of a delivery-status part
#: (each becomes a Message): 4 MiB of short lines or groups took 1 to 5 s (issue 12). A
#: bounce's evidence is at its start; a 3.8 MB base64 attachment is 50,000 lines.
MAX_LINES = 50_000


def _bounded_lines(data: bytes) -> tuple[bytes, bool]:
    """The message cut after its MAX_LINES-th line (CRLF, LF or a lone CR, as the parser
    splits them), when it has more. Counted in C; the walk runs only on the long ones."""
    if len(data) <= MAX_LINES or data.count(b"\n") + data.count(b"\r") <= MAX_LINES:
        return data, False  # (an upper bound on the lines: most mail stops here)
    if data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n") <= MAX_LINES:
        return data, False
    next_lf, next_cr = data.find(b"\n"), data.find(b"\r")
    position = 0
    for _ in range(MAX_LINES):
        if -1 < next_lf < position:
            next_lf = data.find(b"\n", position)
        if -1 < next_cr < position:
            next_cr = data.find(b"\r", position)
        end = min(e for e in (next_lf, next_cr, len(data)) if e != -1)
        position = end + (2 if data[end : end + 2] == b"\r\n" else 1)
    return data[:position], position < len(data)


#: Longest Content-Type or Content-Disposition field the parser is given. The standard
#: library compiles a regex of the boundary (3 MB: 8 s) and splits parameters with a scan
#: that is quadratic in quoted semicolons (1.5 MB: 2.3 s). RFC 2046 caps a boundary at 70
#: characters; real fields are well under a kilobyte.
MAX_PARAMETER_FIELD = 8192
_PARAMETER_FIELDS = (b"content-type:", b"content-disposition:")
_FIELD_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?![ \t])")


def _bounded_fields(data: bytes, lowered: bytes) -> tuple[bytes, bool]:
    """The message with every Content-Type/-Disposition field (folded lines included) cut to
    MAX_PARAMETER_FIELD bytes. Linear: each field's end is found once, by a regex in C.
    ``lowered`` is ``data.lower()`` (or a longer text that ``data`` is the start of)."""
    if len(data) <= MAX_PARAMETER_FIELD:
        return data, False
    cuts: list[tuple[int, int]] = []
    for name in _PARAMETER_FIELDS:
        position = lowered.find(name, 0, len(data))
        while position != -1:
            found = _FIELD_END.search(data, position)
            end = found.start() if found else len(data)
            if end - position > MAX_PARAMETER_FIELD:
                cuts.append((position + MAX_PARAMETER_FIELD, end))
            position = lowered.find(name, max(end, position + 1), len(data))
    if not cuts:
        return data, False
    kept, last = [], 0
    for start, end in sorted(cuts):
        if start >= last:
            kept.append(data[last:start])
            last = end
    kept.append(data[last:])
    return b"".join(kept), True


def _bounded_nesting(data: bytes, lowered: bytes) -> tuple[bytes, bool]:
    """The message cut before its 65th container's Content-Type line, when it has that many.

    Each container has a Content-Type field of its own, so mail with no more of those than
    the cap (nearly all) costs one count; only the rest is walked. ``lowered`` as above."""
    if lowered.count(b"content-type:") <= MAX_CONTAINERS:
        return data, False
    seen = 0
    position = lowered.find(b"content-type:")
    while position != -1:
        if lowered[position + 13 : position + 300].lstrip().startswith(_CONTAINER_TYPES):
            seen += 1
            if seen > MAX_CONTAINERS:
                return data[: lowered.rfind(b"\n", 0, position) + 1], True
        position = lowered.find(b"content-type:", position + 13)
    return data, False


_T = TypeVar("_T")


class view_property(Generic[_T]):
    """``functools.cached_property`` without its lock: on Python 3.11 every first read of
    one takes a lock shared by all instances (3.12 dropped it), and a scored message reads
    about fifteen. A MessageView belongs to the one thread that parses and scores it; were
    two to race, each would compute the same value from the same message."""

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> view_property[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...
    def __get__(self, instance: object, owner: type | None = None) -> _T | view_property[_T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value


class MessageView:
    """A parsed message plus the lazily computed views that bounce recognisers read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        parsed, self.lines_cut = _bounded_lines(data)
        lowered = parsed.lower()  # once, for both searches (a cut below keeps a prefix)
        parsed, self.nesting_cut = _bounded_nesting(parsed, lowered)
        parsed, self.fields_cut = _bounded_fields(parsed, lowered)
        self.message: Message = parse_bytes(parsed)
        self._decoded: dict[str, str] = {}

    def header(self, name: str) -> str:
        """The first header of that name, decoded; empty string when absent.

        Decoded once per name: every recogniser and not-a-bounce check asks for From and
        Subject again."""
        key = name.lower()
        value = self._decoded.get(key)
        if value is None:
            value = self._decoded[key] = header_text(self.get(key))
        return value

    def get(self, name: str) -> object:
        """``self.message.get(name)``: the first field of that name, as the policy fetches
        it; None when absent. Found in a dict instead of a scan of every field: recognisers
        and checks ask for some thirty names per message, most of them absent, and each
        ``Message.get`` lower-cases every field name to answer."""
        found = self._first_fields.get(name.lower())
        return None if found is None else self.message.policy.header_fetch_parse(*found)

    @view_property
    def _first_fields(self) -> dict[str, tuple[str, str]]:
        """Each field name (lower-cased) with the first field of that name, raw."""
        fields: dict[str, tuple[str, str]] = {}
        for name, value in self.message.raw_items():
            fields.setdefault(name.lower(), (name, value))
        return fields

    def headers(self, name: str) -> list[str]:
        return [header_text(v) for v in self.message.get_all(name) or ()]

    @view_property
    def content_type(self) -> str:
        return self.message.get_content_type()

    @view_property
    def report_type(self) -> str:
        # get_param parses every parameter (~40 us); most mail names no report-type at all.
        if "report-type" not in str(self.get("content-type") or "").lower():
            return ""
        return str(self.message.get_param("report-type") or "").lower()

    @view_property
    def parts(self) -> list[Message]:
        """Every part of the report itself, without descending into returned messages."""
        found: list[Message] = []
        stack = [self.message]
        while stack and len(found) < 2000:
            part = stack.pop()
            found.append(part)
            ctype = content_type(part)
            if part.is_multipart() and ctype not in _RETURNED_TYPES:
                payload = payload_of(part)
                if isinstance(payload, list):
                    stack.extend(reversed(payload))
        return found

    @view_property
    def status_parts(self) -> list[Message]:
        """Parts that carry RFC 3464 delivery-status fields."""
        return [p for p in self.parts if content_type(p) in _STATUS_TYPES]

    @view_property
    def returned_part(self) -> Message | None:
        """The attached original (or its headers), when the report attaches it as a part."""
        for part in self.parts:
            if content_type(part) in _RETURNED_TYPES:
                return part
        for part in self.parts[1:]:
            # Some MTAs attach the original with no MIME headers of its own, so the parser
            # reads the original's headers as the part's: a trace and an ID give it away.
            if not part.is_multipart() and part.get("message-id") and part.get("received"):
                return part
        return None

    @view_property
    def attached_original(self) -> Message | None:
        """The headers of the attached original as a Message, however it was attached."""
        part = self.returned_part
        if part is None:
            return None
        if content_type(part) not in _RETURNED_TYPES:
            return part
        payload = payload_of(part)
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            inner = payload[0]
            if inner.keys():
                return inner
            # A blank line before the headers makes the parser see an empty header block.
            payload = payload_of(inner)
        if isinstance(payload, str) and payload.strip():
            return parse_headers(payload.lstrip())
        return None

    @view_property
    def text(self) -> str:
        """The human-readable report: the first text part outside any returned message."""
        html_part = None
        for part in self.parts:
            if part.is_multipart():
                continue
            ctype = content_type(part)
            if ctype == "text/plain" or (ctype == "text/html" and html_part is None):
                if ctype == "text/html":
                    html_part = part
                    continue
                body = decode_payload(part)
                if body.strip():
                    return body[:MAX_TEXT_CHARS]
        if html_part is not None:
            return html_to_text(decode_payload(html_part)[: MAX_TEXT_CHARS * 4])[:MAX_TEXT_CHARS]
        return self.unparsed_body

    @view_property
    def unparsed_body(self) -> str:
        """The body of a multipart whose boundaries could not be found, as plain text.

        Some MTAs declare multipart/report and then write no (or a misspelt) boundary; the
        report is still readable as text.
        """
        for part in self.parts:
            if content_type(part).startswith("multipart/") and isinstance(payload_of(part), str):
                return decode_payload(part)[:MAX_TEXT_CHARS]
        return ""

    @view_property
    def text_is_html(self) -> bool:
        """True when the only readable report is HTML: no MTA writes its report that way."""
        return bool(self.text) and not self.plain_text

    @view_property
    def plain_text(self) -> str:
        """Every text/plain part of the report joined: some MTAs split the report over parts.

        HTML is left out on purpose: delivery-status fields or SMTP errors inside HTML are
        decoration (phishing imitates them), never a mail system's report.
        """
        chunks: list[str] = []
        total = 0
        for part in self.parts:
            if part.is_multipart() or content_type(part) != "text/plain":
                continue
            body = decode_payload(part)
            chunks.append(body)
            total += len(body)
            if total > MAX_TEXT_CHARS:
                break
        if not chunks:
            return self.unparsed_body
        return "\n".join(chunks)[:MAX_TEXT_CHARS]

    @view_property
    def text_head(self) -> str:
        """The start of the readable text, HTML included, lower-cased once (list notices and
        challenges are often HTML)."""
        return self.text[:8000].lower()

    @view_property
    def plain_text_head(self) -> str:
        """The start of the plain report text, lower-cased once for every family's detector."""
        return self.plain_text[:20000].lower()

    @view_property
    def defects(self) -> tuple[str, ...]:
        """What the MIME parser found wrong (missing boundaries, bad base64, ...), by name."""
        names = [
            name
            for name, cut in (
                ("MimeLinesCutDefect", self.lines_cut),
                ("MimeNestingCutDefect", self.nesting_cut),
                ("MimeFieldCutDefect", self.fields_cut),
            )
            if cut
        ]
        for part in self.parts[:200]:
            names.extend(type(d).__name__ for d in getattr(part, "defects", ()))
        return tuple(dict.fromkeys(names))
