"""The standard library's MIME parser, without a regex compile per multipart boundary.

``email.feedparser.FeedParser._parsegen`` compiles a regular expression of each multipart's
boundary (``'(?P<sep>' + re.escape('--' + boundary) + ')(?P<end>--)?...$'``). Boundaries
are unique per message, so ``re``'s cache never hits: on the corpus that compile was a tenth
of the CPU spent scoring a message (about 0.4 ms per boundary, most of it in the regex
parser). The pattern is a literal followed by a fixed tail, so the same answer comes from
``str.startswith`` and one tail regex compiled once, matched from the end of the literal.

The parser itself is the standard library's own ``_parsegen`` code, run with one different
global (``re``): nothing is copied, and anything but the boundary pattern (checked to the
character) still goes to :func:`re.compile`. Nothing is cached across messages.

Its parts are :class:`TypedMessage`: the parser alone asks each part for its content type
four times or more, and ``Message.get_content_type`` lower-cases every field name each time.
"""

from __future__ import annotations

import email.feedparser
import re
import types
from email.message import Message
from email.policy import compat32
from io import StringIO
from typing import Any

#: The boundary pattern's parts as ``_parsegen`` writes them (checked at import: should a
#: Python write another pattern, the standard library's own ``_parsegen`` runs unchanged).
_HEAD = "(?P<sep>"
_TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_TAIL_RE = re.compile(_TAIL[1:])
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)  # re.escape puts one backslash before a char


class _BoundaryLine:
    """Matches what ``re.compile(_HEAD + re.escape(separator) + _TAIL)`` matches, with the
    same groups (``end``, ``ws``, ``linesep``) that the parser reads."""

    __slots__ = ("length", "separator")

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self.length = len(separator)

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self.separator):
            return None
        return _TAIL_RE.match(line, self.length)


class _BoundaryRe:
    """The ``re`` that the parser's code sees: ``compile`` of a boundary pattern answers
    with a :class:`_BoundaryLine`, everything else is the real module's.

    ``escape`` remembers its last (escaped, text) pair, which ``compile`` of the pattern made
    from it just after reads back instead of undoing the escapes; a pair that does not match
    (another thread's, in between) is undone with :data:`_ESCAPED`, so either way the text
    is the one that was escaped. The pair is replaced at each boundary, never accumulated."""

    _last: tuple[str, str] = ("", "")

    @classmethod
    def escape(cls, text: str) -> str:
        escaped = re.escape(text)
        cls._last = (escaped, text)
        return escaped

    @classmethod
    def compile(cls, pattern: str) -> _BoundaryLine | re.Pattern[str]:
        if pattern.startswith(_HEAD) and pattern.endswith(_TAIL):
            escaped, text = cls._last
            middle = pattern[len(_HEAD) : -len(_TAIL)]
            return _BoundaryLine(text if middle == escaped else _ESCAPED.sub(r"\1", middle))
        return re.compile(pattern)


def _uses_the_known_pattern(code: types.CodeType) -> bool:
    """The stdlib's ``_parsegen`` still builds its boundary regex from these two strings."""
    return _HEAD in code.co_consts and _TAIL in code.co_consts and "re" in code.co_names


_STDLIB_PARSEGEN = email.feedparser.FeedParser._parsegen


class _FeedParser(email.feedparser.FeedParser):
    """``FeedParser`` whose ``_parsegen`` reads boundaries with :class:`_BoundaryRe`."""


if _uses_the_known_pattern(_STDLIB_PARSEGEN.__code__):
    _FeedParser._parsegen = types.FunctionType(  # type: ignore[method-assign]
        _STDLIB_PARSEGEN.__code__,
        {**vars(email.feedparser), "re": _BoundaryRe},
        _STDLIB_PARSEGEN.__name__,
        _STDLIB_PARSEGEN.__defaults__,
        _STDLIB_PARSEGEN.__closure__,
    )


class TypedMessage(Message):
    """A compat32 ``Message`` that keeps the answer of ``get_content_type`` while its fields
    and default type are those it was read from.

    Kept with the field list it was read from and that list's length: the parser only
    appends fields (``set_raw``), ``__delitem__`` and ``set_boundary`` put a new list, and
    ``replace_header``, the one change in place, drops it. The part's own, never shared."""

    _typed: tuple[list[tuple[str, Any]], int, str, str] | None = None

    def get_content_type(self) -> str:
        typed, headers = self._typed, self._headers
        if (
            typed is not None
            and typed[0] is headers
            and typed[1] == len(headers)
            and typed[2] == self._default_type
        ):
            return typed[3]
        ctype = super().get_content_type()
        self._typed = (headers, len(headers), self._default_type, ctype)
        return ctype

    def replace_header(self, _name: str, _value: Any) -> None:
        super().replace_header(_name, _value)
        self._typed = None


def parse_bytes(data: bytes) -> Message:
    """What ``BytesParser(policy=compat32).parsebytes(data)`` returns, step for step (its
    parts :class:`TypedMessage`)."""
    text = data.decode("ASCII", errors="surrogateescape")
    parser = _FeedParser(_factory=TypedMessage, policy=compat32)
    source = StringIO(text)
    while chunk := source.read(8192):
        parser.feed(chunk)
    return parser.close()
