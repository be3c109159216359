"""What the daemon does with a message, apart from HTTP: score it in the pool, and shape the
answer each endpoint sends (the verdict record, the header block, the filtered message)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backscatter import __version__
from backscatter.filters.headers import unscored_headers, verdict_headers
from backscatter.filters.pipe import insert_fields, split_for_scoring
from backscatter.filters.unscored import Unscored, claims_bounce

if TYPE_CHECKING:
    from backscatter.detector import Envelope, Verdict
    from backscatter.filters.looppool import LoopScoringPool


@dataclass
class Answer:
    """One scored message: what the log line and every endpoint need. Built in the scoring
    worker (:func:`for_headers`, :func:`for_record`): a few hundred bytes cross back to the
    daemon instead of a Verdict to unpickle, and the daemon's loop does only I/O."""

    verdict: str | None  # None: unscored
    score: float | None
    unscored: Unscored | None
    headers: list[tuple[str, str]]
    record: bytes | None = None  # the /score body, when asked for


def for_headers(verdict: Verdict) -> Answer:
    """In the worker: what /headers and /filter need."""
    return Answer(verdict.verdict, verdict.spoofed_probability, None, verdict_headers(verdict))


def for_record(verdict: Verdict) -> Answer:
    """In the worker: what /score needs, the JSON record included."""
    answer = for_headers(verdict)
    answer.record = to_json(verdict.to_record())
    return answer


class ScoringService:
    """Protocol-free: message bytes in, the verdict/headers/filtered message out."""

    def __init__(self, pool: LoopScoringPool, budget_s: float, max_bytes: int) -> None:
        self.pool = pool
        self.budget_s = budget_s
        self.max_bytes = max_bytes
        self.started = time.time()
        self.messages = 0

    async def answer(
        self, data: bytes, envelope: Envelope | None, budget_s: float, record: bool = False
    ) -> Answer:
        """The scored message; with ``record``, its JSON record too (for /score)."""
        shape = for_record if record else for_headers
        result = await self.pool.score_async(data, "-", envelope, budget_s, shape)
        self.messages += 1
        if isinstance(result, Unscored):
            sender = envelope.sender if envelope is not None else None
            added = unscored_headers(
                result.reason, claims_bounce(data, sender), self.pool.threshold
            )
            return Answer(None, None, result, added)
        return result  # type: ignore[no-any-return]

    async def filtered(
        self, head: bytes, envelope: Envelope | None, budget_s: float
    ) -> tuple[bytes, Answer]:
        """``head`` as the pipe filter writes it (the same functions), and the answer."""
        parts = split_for_scoring(head)
        if parts is None:
            return head, Answer(None, None, None, [])
        front, rest, tail = parts
        answer = await self.answer(front + rest + tail, envelope, budget_s)
        return insert_fields(front, answer.headers) + rest + tail, answer

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "model": self.pool.model,
            "workers": self.pool.pids,
            "spare": self.pool.spare_pid,
            "zygote": self.pool.zygote_pid,
            "idle": self.pool.idle,
            "killed": self.pool.killed,
            "died": self.pool.died,
            "messages": self.messages,
            "uptime_s": round(time.time() - self.started, 1),
        }


def record_of(answer: Answer) -> bytes:
    """The ``score -f jsonl`` record; for an unscored message, what could be said of it."""
    if answer.record is not None:
        return answer.record
    reason = answer.unscored.reason if answer.unscored is not None else "error"
    status = dict(answer.headers).get("X-Backscatter-Status", "")
    return to_json({"source": "-", "verdict": "unscored", "unscored": reason,
                    "claims_bounce": "BOUNCE_UNSCORED" in status})  # fmt: skip


def to_json(record: dict[str, Any]) -> bytes:
    """As ``score -f jsonl`` writes it; mail can carry lone surrogates, which UTF-8 cannot:
    then the ASCII-escaped form, still valid JSON."""
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record) + "\n").encode("ascii")


def summary(path: str, size: int, answer: Answer, started: float) -> str:
    """The one log line per message, like the milter's; ``ms=`` counts from ``started``."""
    verdict = answer.verdict
    parts = [
        f"path={path}",
        f"bytes={size}",
        f"verdict={verdict or ('unscored' if answer.unscored else '-')}",
        f"score={answer.score:.4f}" if answer.score is not None else "score=-",
        f"ms={(time.perf_counter() - started) * 1000:.1f}",
    ]
    if answer.unscored is not None:
        parts.append(f"unscored={answer.unscored.reason}")
    return " ".join(parts)
