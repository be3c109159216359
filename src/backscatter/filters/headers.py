"""The X-Backscatter-* headers: what the verdict looks like to mail clients and Sieve rules.

Modelled on SpamAssassin's ``X-Spam-Status`` (and Rspamd's symbols), which mail hosts
already grep, graph and re-weight::

    X-Backscatter-Verdict: spoofed
    X-Backscatter-Status: Yes, score=0.97 required=0.50 tests=NOT_IN_SENTLOG,LINK_WITH_LURE
    \tversion=0.1.0
    X-Backscatter-Evidence: the sent-log covers the time but never sent <...>

``tests=`` lists the stable rule names (``Feature.rule``) that fired, strongest first, or
``NONE``. Long values are folded per RFC 5322 2.2.3 (lines of at most 78 characters, a line
break and a TAB before the white space they replace; a ``tests=`` list longer than a line
breaks after a comma, as SpamAssassin does). Folds are a bare ``\\n``: libmilter wants
exactly that (``smfi_addheader(3)``: "a line feed ... followed by at least one whitespace
character ... should NOT be preceded by a carriage return; the MTA adds this"), and the
pipe filter rewrites it to the message's own line ending.

Anything named X-Backscatter-* that arrives from outside is removed first: a forger who sets
``X-Backscatter-Verdict: genuine`` must not steer a user's filter rules.
"""

from __future__ import annotations

from backscatter import __version__
from backscatter.detector import NOT_BOUNCE, SPOOFED, Verdict

PREFIX = "x-backscatter-"
VERDICT = "X-Backscatter-Verdict"
STATUS = "X-Backscatter-Status"
EVIDENCE = "X-Backscatter-Evidence"
FOLD = "\n\t"
LINE_LIMIT = 78  # RFC 5322 2.1.1: SHOULD be no more than 78 characters, CRLF excluded
_EVIDENCE_LIMIT = 400  # the evidence is a summary; the full record is `backscatter score`'s
_TOKEN_LIMIT = 60  # a longer word (a hostile Message-ID) is shortened so every line fits


def field_name(field: str) -> str | None:
    """The name of one header field (with its continuation lines) as an MTA reads it, or
    None when it has no colon and so is no field.

    The rules of the header parsers in front of us: the name runs up to the first colon and
    whitespace before the colon is allowed (RFC 5322 4.5.3 obsolete syntax; Postfix
    ``is_header.c``; Sendmail ``isheader()`` skips any white space, line breaks included, so
    a fold between the name and the colon still makes ``X-Backscatter-Verdict`` + fold +
    `` : genuine`` a field named ``X-Backscatter-Verdict``). Unfolding (RFC 5322 2.2.3)
    removes the CR and LF; what remains around the name is white space.
    """
    name, colon, _ = field.partition(":")
    if not colon:
        return None
    return name.replace("\r", "").replace("\n", "").strip(" \t")


def is_ours(name: str) -> bool:
    """True for a header this tool writes (so one arriving from outside is a forgery).

    ``name`` is a field name as the MTA passed it; surrounding white space and line breaks
    are not part of it (see :func:`field_name`)."""
    return name.strip().lower().startswith(PREFIX)


def verdict_headers(verdict: Verdict) -> list[tuple[str, str]]:
    """The headers to add for a verdict; none for mail that is not a bounce at all."""
    if verdict.verdict == NOT_BOUNCE:
        return []
    answer = "Yes" if verdict.verdict == SPOOFED else "No"
    score = _score(verdict.spoofed_probability, verdict.threshold)
    status = (
        f"{answer}, score={score} required={verdict.threshold:.2f} "
        f"tests={','.join(verdict.rules) or 'NONE'} version={__version__}"
    )
    headers = [(VERDICT, verdict.verdict), (STATUS, fold(STATUS, status))]
    if verdict.evidence:
        headers.append((EVIDENCE, fold(EVIDENCE, sanitise("; ".join(verdict.evidence)))))
    return headers


def unscored_headers(reason: str, claims_bounce: bool, required: float) -> list[tuple[str, str]]:
    """Headers for a message that could not be scored (reason: 'budget', 'error', 'size'):
    visible, so a site can act on it; BOUNCE_UNSCORED when the message claims to be a bounce."""
    tests = "BOUNCE_UNSCORED" if claims_bounce else "NONE"
    status = (
        f"No, score=? required={required:.2f} tests={tests} unscored={reason} version={__version__}"
    )
    return [(VERDICT, "unscored"), (STATUS, fold(STATUS, status))]


def _score(probability: float, required: float) -> str:
    """Two decimals, as in SpamAssassin's ``score=``; four when two would round across the
    threshold (an ``unknown`` is capped just under it: 0.4990 must not read as 0.50 = No)."""
    short = f"{probability:.2f}"
    if (float(short) >= required) != (probability >= required):
        return f"{probability:.4f}"
    return short


def sanitise(text: str) -> str:
    """Printable ASCII on one logical line, capped: evidence quotes addresses and Message-IDs
    from the message itself, which may carry 8-bit bytes, line breaks or very long words."""
    clean = "".join(c if 32 <= ord(c) < 127 else " " for c in text)
    words = [_shorten(word) for word in clean.split()]
    clean = " ".join(words)
    return clean if len(clean) <= _EVIDENCE_LIMIT else clean[: _EVIDENCE_LIMIT - 3] + "..."


def _shorten(word: str) -> str:
    if len(word) <= _TOKEN_LIMIT:
        return word
    keep = (_TOKEN_LIMIT - 3) // 2
    return f"{word[:keep]}...{word[-keep:]}"


def fold(name: str, value: str) -> str:
    """``value`` folded so that ``name: value`` has no line over :data:`LINE_LIMIT`.

    Breaks replace a space with :data:`FOLD`. A word longer than a whole line (a long
    ``tests=`` list) is broken after its commas instead. A word with no comma that is still
    too long is left whole (values built here never hold one: :func:`sanitise` shortens
    them). Linear in the value."""
    lines: list[str] = []
    line, used = "", len(name) + 2  # "Name: "; a continuation line starts with its TAB
    for word in value.split(" "):
        gap = 1 if line else 0
        if used + gap + len(word) <= LINE_LIMIT:
            line, used = line + " " * gap + word, used + gap + len(word)
        elif len(word) < LINE_LIMIT or "," not in word:  # a line of its own holds it
            if line:
                lines.append(line)
                line, used = word, 1 + len(word)
            else:
                line, used = word, used + len(word)
        else:  # longer than any line: cut after commas, filling this line first
            line, used = line + " " * gap, used + gap
            for piece in _after_commas(word):
                if line.strip() and used + len(piece) > LINE_LIMIT:
                    lines.append(line.rstrip(" "))
                    line, used = "", 1
                line, used = line + piece, used + len(piece)
    lines.append(line)
    return FOLD.join(lines)


def _after_commas(word: str) -> list[str]:
    """``word`` cut after each comma (``tests=A,`` and ``B``), as SpamAssassin folds its
    ``tests=`` list."""
    parts = word.split(",")
    return [part + "," for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
