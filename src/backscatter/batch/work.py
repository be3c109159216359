"""What runs on a Dask worker: one split in, its results (or its Parquet file) out.

The Detector is loaded once per worker process and kept in a module global keyed by the
run's options and the model and sent-log files' identity (inode, size, mtime): a long-lived
cluster serves run after run, and a sent-log replaced by a fresh copy is reopened rather
than read stale. One cached Detector at a time, so memory does not grow with runs.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backscatter.batch.splits import Split, read_split
from backscatter.mail.sources import RawMessage, SourceError, count_mbox_range

if TYPE_CHECKING:
    from backscatter.detector import Detector, Verdict
    from backscatter.features import Evidence, OurInfrastructure

#: Messages scored per ``score_many`` call, as ``backscatter score`` batches them.
SCORE_BATCH = 256


@dataclass(frozen=True, slots=True)
class DetectorOptions:
    """What ``Detector.load`` is given, as the worker must see it: file paths absolute (a
    worker's working folder is not the client's), a sent-log DSN as written."""

    model: str | None = None
    sent_log: str | None = None
    config: str | None = None
    threshold: float = 0.5

    @classmethod
    def of(
        cls,
        model: os.PathLike[str] | str | None,
        sent_log: os.PathLike[str] | str | None,
        config: os.PathLike[str] | str | None,
        threshold: float,
    ) -> DetectorOptions:
        return cls(_absolute(model), _sent_log_spec(sent_log), _absolute(config), threshold)


def _absolute(path: os.PathLike[str] | str | None) -> str | None:
    return None if path is None else os.path.abspath(path)


def _sent_log_spec(spec: os.PathLike[str] | str | None) -> str | None:
    """A SQLite path made absolute; a ``postgresql://`` DSN passed through untouched."""
    if spec is None:
        return None
    text = os.fspath(spec)
    return text if "://" in text else os.path.abspath(text)


_cached: tuple[tuple[object, ...], Any] | None = None


def _identity(path: str | None) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path) if path else None
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns) if info else None


def _cache(key: tuple[object, ...], load: Any) -> Any:
    """The worker's one cached object for ``key`` (the previous one is closed and dropped)."""
    global _cached
    if _cached is not None and _cached[0] == key:
        return _cached[1]
    if _cached is not None and hasattr(_cached[1], "close"):
        _cached[1].close()
    _cached = (key, load())
    return _cached[1]


def detector(options: DetectorOptions) -> Detector:
    """This worker's Detector for these options, loaded on its first task."""
    from backscatter.detector import Detector

    key = ("detector", options, _identity(options.model), _identity(options.sent_log))
    return _cache(
        key,
        lambda: Detector.load(options.model, options.sent_log, options.config, options.threshold),
    )


def count_task(split: Split) -> int:
    """How many messages start in an mbox range (numbers the ranges after it)."""
    where = os.path.join(split.base, split.mbox)
    return count_mbox_range(where, split.start, split.end, split.follow)


def score_task(split: Split, options: DetectorOptions) -> list[Verdict | SourceError]:
    """Every message of the split scored, in order, with the split's read errors in place."""
    scorer = detector(options)
    results: list[Verdict | SourceError] = []
    batch: list[RawMessage] = []
    for item in read_split(split):
        if isinstance(item, SourceError):
            results.extend(scorer.score_many(batch))
            batch = []
            results.append(item)
            continue
        batch.append(item)
        if len(batch) == SCORE_BATCH:
            results.extend(scorer.score_many(batch))
            batch = []
    results.extend(scorer.score_many(batch))
    return results


def parse_task(split: Split) -> list[dict[str, Any] | SourceError]:
    """Every message's parse record, in order, with the split's read errors in place."""
    from backscatter.mail.parser import parse

    return [
        item if isinstance(item, SourceError) else parse(item).to_record()
        for item in read_split(split)
    ]


@dataclass(frozen=True, slots=True)
class Written:
    """What a worker reports for a Parquet partition it wrote: the file and its counts."""

    path: str
    rows: int
    errors: tuple[SourceError, ...]
    verdicts: dict[str, int]
    not_mail: tuple[str, ...]


def score_parquet_task(split: Split, options: DetectorOptions, target: str) -> Written:
    """The split's records, as ``backscatter score`` writes them (mail only), in ``target``."""
    from collections import Counter

    from backscatter.batch.parquet import write_partition

    records, errors, not_mail, tally = [], [], [], Counter[str]()
    for item in score_task(split, options):
        if isinstance(item, SourceError):
            errors.append(item)
        elif not item.bounce.is_mail:
            not_mail.append(item.bounce.source)
        else:
            tally[item.verdict] += 1
            records.append(item.to_record())
    write_partition(records, target, verdicts=True)
    return Written(target, len(records), tuple(errors), dict(tally), tuple(not_mail))


def parse_parquet_task(split: Split, target: str) -> Written:
    """The split's parse records, as ``backscatter parse`` writes them, in ``target``."""
    from backscatter.batch.parquet import write_partition

    records, errors = [], []
    for item in parse_task(split):
        if isinstance(item, SourceError):
            errors.append(item)
        else:
            records.append(item)
    write_partition(records, target, verdicts=False)
    return Written(target, len(records), tuple(errors), {}, ())


@dataclass(frozen=True, slots=True)
class Read:
    """One message read for training: its source, digest, and evidence (None: not mail)."""

    source: str
    digest: str
    evidence: Evidence | None


def evidence_task(
    split: Split, sent_log: str | None, config: str | None
) -> list[Read | SourceError]:
    """Evidence for every message of a split, as ``read_examples`` gathers it (the client
    applies the labels, drops repeats and counts, in order, exactly as it does)."""
    from backscatter.features import collect
    from backscatter.mail.parser import analyse

    store, ours = _training_context(sent_log, config)
    found: list[Read | SourceError] = []
    for item in read_split(split):
        if isinstance(item, SourceError):
            found.append(item)
            continue
        digest = hashlib.blake2b(item.data, digest_size=12).hexdigest()
        bounce, view = analyse(item)
        evidence = collect(bounce, view, store, ours) if bounce.is_mail else None
        found.append(Read(item.source, digest, evidence))
    return found


def _training_context(sent_log: str | None, config: str | None) -> tuple[Any, OurInfrastructure]:
    key = ("training", sent_log, config, _identity(sent_log), _identity(config))
    return _cache(key, lambda: _TrainingContext(sent_log, config)).pair


class _TrainingContext:
    """The sent-log (read-only) and config a training worker reads evidence with."""

    def __init__(self, sent_log: str | None, config: str | None) -> None:
        from backscatter.features import load_config

        self.store = open_store(sent_log)
        self.pair = (self.store, load_config(config))

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def open_store(spec: str | None) -> Any:
    """The one place a worker opens a sent-log for training: read-only, a SQLite file (a
    shared file or a copy at the same path on each machine) or a ``postgresql://`` DSN
    (one connection per worker process). Scoring opens it through ``Detector.load``."""
    from backscatter.sentlog import open_sent_log

    return open_sent_log(spec, readonly=True) if spec is not None else None
