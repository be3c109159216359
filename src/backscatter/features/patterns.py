"""Address patterns from the config (``never_send``): fnmatch-style, matched without regex.

A pattern is the whole address, case-insensitive: ``*`` is any run of characters (none
too), ``?`` exactly one; everything else is literal (no ``[...]`` classes, so an address
with brackets in it needs no escaping). Patterns are split into their literal pieces once,
when the config is read; matching is a left-to-right scan of one address with ``str.find``
(each piece is placed at its leftmost fit, which is optimal for ``*`` globs), so a pattern
such as ``*a*a*a*b`` cannot backtrack on a long hostile address the way a regex can.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Longer than any address RFC 5321 allows (64 + 1 + 255); longer input never matches.
_MAX_ADDRESS = 512


@dataclass(frozen=True)
class _Pattern:
    text: str
    pieces: tuple[str, ...]  # the literal runs between stars (may contain "?")
    anchored_start: bool  # no leading star: the first piece must start the address
    anchored_end: bool  # no trailing star: the last piece must end it

    @classmethod
    def parse(cls, text: str) -> _Pattern:
        lowered = text.strip().lower()
        pieces = tuple(p for p in lowered.split("*") if p)
        return cls(text, pieces, not lowered.startswith("*"), not lowered.endswith("*"))

    def matches(self, address: str) -> bool:
        if not self.pieces:  # "*" alone (or "**"): anything; "" nothing
            return bool(self.text.strip()) and "*" in self.text
        if len(self.pieces) == 1 and self.anchored_start and self.anchored_end:
            return len(address) == len(self.pieces[0]) and _fits(address, 0, self.pieces[0])
        start, end = 0, len(address)
        pieces = list(self.pieces)
        if self.anchored_start:
            first = pieces.pop(0)
            if not _fits(address, 0, first):
                return False
            start = len(first)
        if self.anchored_end and pieces:
            last = pieces.pop()
            end -= len(last)
            if end < start or not _fits(address, end, last):
                return False
        for piece in pieces:
            found = _find(address, piece, start, end)
            if found < 0:
                return False
            start = found + len(piece)
        return True


def _fits(text: str, at: int, piece: str) -> bool:
    """Whether ``piece`` (with ``?`` for any one character) matches ``text`` at ``at``."""
    if at + len(piece) > len(text):
        return False
    if "?" not in piece:
        return text.startswith(piece, at)
    return all(p == "?" or p == c for p, c in zip(piece, text[at:], strict=False))


def _find(text: str, piece: str, start: int, end: int) -> int:
    """The leftmost place in ``text[start:end]`` where ``piece`` fits, or -1."""
    if "?" not in piece:
        return text.find(piece, start, end)
    for at in range(start, end - len(piece) + 1):  # bounded: addresses are short
        if _fits(text, at, piece):
            return at
    return -1


@dataclass(frozen=True)
class AddressPatterns:
    """A list of address patterns, compiled once; ``match`` returns the first that fits."""

    patterns: tuple[_Pattern, ...] = ()

    @classmethod
    def of(cls, texts: list[str] | tuple[str, ...]) -> AddressPatterns:
        return cls(tuple(_Pattern.parse(t) for t in texts if t.strip()))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def match(self, address: str | None) -> str | None:
        """The pattern (as written in the config) that ``address`` matches, or None."""
        if not address or not self.patterns or len(address) > _MAX_ADDRESS:
            return None
        lowered = address.strip().strip("<>").lower()
        for pattern in self.patterns:
            if pattern.matches(lowered):
                return pattern.text
        return None
