"""The X-Backscatter-* headers: what the verdict looks like to mail clients and Sieve rules.

Anything named X-Backscatter-* that arrives from outside is removed first: a forger who sets
``X-Backscatter-Verdict: genuine`` must not steer a user's filter rules.
"""

from __future__ import annotations

from backscatter.detector import NOT_BOUNCE, Verdict

PREFIX = "x-backscatter-"
VERDICT = "X-Backscatter-Verdict"
SCORE = "X-Backscatter-Score"
EVIDENCE = "X-Backscatter-Evidence"
_EVIDENCE_LIMIT = 300


def is_ours(name: str) -> bool:
    """True for a header this tool writes (so one arriving from outside is a forgery)."""
    return name.strip().lower().startswith(PREFIX)


def verdict_headers(verdict: Verdict) -> list[tuple[str, str]]:
    """The headers to add for a verdict; none for mail that is not a bounce at all."""
    if verdict.verdict == NOT_BOUNCE:
        return []
    headers = [(VERDICT, verdict.verdict), (SCORE, f"{verdict.spoofed_probability:.4f}")]
    if verdict.evidence:
        headers.append((EVIDENCE, _one_line("; ".join(verdict.evidence))))
    return headers


def _one_line(text: str) -> str:
    """ASCII on one line: evidence quotes addresses and Message-IDs from the message itself."""
    clean = "".join(c if 32 <= ord(c) < 127 else " " for c in text)
    clean = " ".join(clean.split())
    return clean if len(clean) <= _EVIDENCE_LIMIT else clean[: _EVIDENCE_LIMIT - 3] + "..."
