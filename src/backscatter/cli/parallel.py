"""Scoring on several cores with joblib's loky pool: each worker loads the Detector once
and scores whole batches.

joblib (already a dependency for the model stack) is the maintained pool the design names:
loky reuses its workers across calls, survives a worker crash with a clear error instead of
a hung pool, and ``pre_dispatch`` bounds how far the input is read ahead. Results come back
in input order (``return_as="generator"``), so a multi-gigabyte mailbox is neither read
ahead into memory nor reordered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from joblib import Parallel, delayed

from backscatter.detector import Detector, Verdict
from backscatter.mail import RawMessage

_Options = tuple[Path | None, str | Path | None, Path | None, float]
_workers: dict[_Options, Detector] = {}


def _score(batch: list[RawMessage], options: _Options) -> list[Verdict]:
    """Runs in a worker: the Detector is loaded on the worker's first batch and kept."""
    detector = _workers.get(options)
    if detector is None:
        detector = _workers[options] = Detector.load(*options)
    return detector.score_many(batch)


def score_in_parallel(
    batches: Iterable[list[RawMessage]],
    jobs: int,
    model: Path | None,
    sent_log: str | Path | None,
    config: Path | None,
    threshold: float,
) -> Iterator[Verdict]:
    options: _Options = (model, sent_log, config, threshold)
    parallel = Parallel(
        n_jobs=jobs, backend="loky", return_as="generator", pre_dispatch=f"{2 * jobs}"
    )
    for verdicts in parallel(delayed(_score)(batch, options) for batch in batches):
        yield from verdicts
