"""The X-Backscatter-* headers: what the verdict looks like to mail clients and Sieve rules.

Anything named X-Backscatter-* that arrives from outside is removed first: a forger who sets
``X-Backscatter-Verdict: genuine`` must not steer a user's filter rules.
"""

from __future__ import annotations

from backscatter import __version__
from backscatter.detector import NOT_BOUNCE, Verdict

PREFIX = "x-backscatter-"
VERDICT = "X-Backscatter-Verdict"
SCORE = "X-Backscatter-Score"
EVIDENCE = "X-Backscatter-Evidence"
STATUS = "X-Backscatter-Status"
_EVIDENCE_LIMIT = 300


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
    headers = [(VERDICT, verdict.verdict), (SCORE, f"{verdict.spoofed_probability:.4f}")]
    if verdict.evidence:
        headers.append((EVIDENCE, _one_line("; ".join(verdict.evidence))))
    return headers


def unscored_headers(reason: str, claims_bounce: bool, required: float) -> list[tuple[str, str]]:
    """Headers for a message that could not be scored (reason: 'budget', 'error', 'size'):
    visible, so a site can act on it; BOUNCE_UNSCORED when the message claims to be a bounce."""
    tests = "BOUNCE_UNSCORED" if claims_bounce else "NONE"
    status = f"No, score=? required={required:.2f} tests={tests} unscored={reason} version={__version__}"  # noqa: E501
    return [(VERDICT, "unscored"), (STATUS, status)]


def _one_line(text: str) -> str:
    """ASCII on one line: evidence quotes addresses and Message-IDs from the message itself."""
    clean = "".join(c if 32 <= ord(c) < 127 else " " for c in text)
    clean = " ".join(clean.split())
    return clean if len(clean) <= _EVIDENCE_LIMIT else clean[: _EVIDENCE_LIMIT - 3] + "..."
