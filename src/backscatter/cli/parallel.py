"""Scoring on several cores: each worker loads the Detector once and scores whole batches.

At most two batches per worker are in flight and results come back in input order, so a
multi-gigabyte mailbox is neither read ahead into memory nor reordered.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from backscatter.detector import Detector, Verdict
from backscatter.mail import RawMessage

_worker: Detector | None = None


def _start(
    model: Path | None, sent_log: str | Path | None, config: Path | None, threshold: float
) -> None:
    global _worker
    _worker = Detector.load(model, sent_log, config, threshold)


def _score(batch: list[RawMessage]) -> list[Verdict]:
    assert _worker is not None, "worker not initialised"
    return _worker.score_many(batch)


def score_in_parallel(
    batches: Iterable[list[RawMessage]],
    jobs: int,
    model: Path | None,
    sent_log: str | Path | None,
    config: Path | None,
    threshold: float,
) -> Iterator[Verdict]:
    with ProcessPoolExecutor(
        jobs, initializer=_start, initargs=(model, sent_log, config, threshold)
    ) as pool:
        pending: deque[Future[list[Verdict]]] = deque()
        for batch in batches:
            pending.append(pool.submit(_score, batch))
            if len(pending) >= 2 * jobs:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
