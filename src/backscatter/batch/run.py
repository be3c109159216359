"""What ``score``, ``parse`` and ``train`` call for ``--engine dask``.

Streaming runs yield in input order what the single-process run yields (verdicts, records),
so the command's own writer, summary and exit status apply unchanged; Parquet runs have the
workers write the files and return only counts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backscatter.batch import work
from backscatter.batch.cluster import Engine, connect, require, run_in_order
from backscatter.batch.splits import Split, plan
from backscatter.errors import BackscatterError
from backscatter.mail.sources import SourceError

if TYPE_CHECKING:
    from backscatter.detector import Verdict
    from backscatter.model.train import Dropped, Examples, LabelSource

OnError = Callable[[SourceError], None]


def score(
    paths: list[str], options: work.DetectorOptions, engine: Engine, on_error: OnError
) -> Iterator[Verdict]:
    """Every message's verdict, in the order ``iter_messages`` reads them."""
    splits = plan(paths, engine.chunk)

    def submit(client: Any, split: Split, _: int) -> Any:
        return client.submit(work.score_task, split, options, pure=False)

    with connect(engine) as client:
        for results in run_in_order(client, splits, submit):
            yield from _reporting(results, on_error)


def parse(paths: list[str], engine: Engine, on_error: OnError) -> Iterator[dict[str, Any]]:
    """Every message's parse record, in the order ``iter_messages`` reads them."""
    splits = plan(paths, engine.chunk)

    def submit(client: Any, split: Split, _: int) -> Any:
        return client.submit(work.parse_task, split, pure=False)

    with connect(engine) as client:
        for results in run_in_order(client, splits, submit):
            yield from _reporting(results, on_error)


def _reporting(results: list[Any], on_error: OnError) -> Iterator[Any]:
    for item in results:
        if isinstance(item, SourceError):
            on_error(item)
        else:
            yield item


@dataclass
class ParquetRun:
    """What the workers wrote: files, rows, and (for score) the verdicts counted."""

    folder: Path
    files: int = 0
    rows: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    not_mail: list[str] = field(default_factory=list)


def to_parquet(
    paths: list[str],
    output: Path | None,
    engine: Engine,
    on_error: OnError,
    options: work.DetectorOptions | None = None,
) -> ParquetRun:
    """Score (with ``options``) or parse every message into a Parquet dataset in ``output``,
    one file per task, written by the workers (the folder must be on shared storage)."""
    require("pyarrow")
    folder = _dataset_folder(output)
    from backscatter.batch.parquet import partition_name

    splits = plan(paths, engine.chunk)
    where = str(folder.absolute())

    def submit(client: Any, split: Split, index: int) -> Any:
        target = os.path.join(where, partition_name(index))
        if options is None:
            return client.submit(work.parse_parquet_task, split, target, pure=False)
        return client.submit(work.score_parquet_task, split, options, target, pure=False)

    run = ParquetRun(folder)
    with connect(engine) as client:
        for written in run_in_order(client, splits, submit):
            run.files += 1
            run.rows += written.rows
            run.verdicts.update(written.verdicts)
            run.not_mail.extend(written.not_mail)
            for error in written.errors:
                on_error(error)
    return run


def _dataset_folder(output: Path | None) -> Path:
    """The dataset's folder: new or empty, so no file of an earlier run is read as ours."""
    if output is None:
        raise BackscatterError("--format parquet writes a folder: give --output DIR")
    if output.exists() and not output.is_dir():
        raise BackscatterError(f"--output {output}: not a folder (Parquet writes a folder)")
    if output.is_dir() and any(output.iterdir()):
        raise BackscatterError(f"--output {output}: the folder is not empty")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackscatterError(f"cannot write {output}: {exc.strerror or exc}") from None
    return output


def examples(
    sources: Iterable[LabelSource],
    sent_log: os.PathLike[str] | str | None,
    config: os.PathLike[str] | str | None,
    dropped: Dropped,
    engine: Engine,
) -> Examples:
    """``read_examples`` with the evidence gathered on the cluster: each label source is
    planned into splits, the workers parse and collect, and the client applies labels,
    repeats and counts in read order, so the examples (and the model fitted on them) are
    the local run's."""
    from backscatter.model.train import Examples, Labelled

    options = work.DetectorOptions.of(None, sent_log, config, 0.5)
    tagged: list[tuple[Split, LabelSource]] = []
    for source in sources:
        tagged.extend((split, source) for split in plan([source.path], engine.chunk))
    labels = iter(source for _, source in tagged)

    def submit(client: Any, split: Split, _: int) -> Any:
        return client.submit(
            work.evidence_task, split, options.sent_log, options.config, pure=False
        )

    found: list[Labelled] = []
    seen: dict[str, int] = {}
    with connect(engine) as client:
        for results in run_in_order(client, (split for split, _ in tagged), submit):
            source = next(labels)
            for item in results:
                if isinstance(item, SourceError):
                    dropped.add("unreadable", f"{item.source}: {item.message}")
                    continue
                if item.digest in seen:
                    same = seen[item.digest] == source.label
                    dropped.add("duplicate" if same else "duplicate_conflicting", item.source)
                    continue
                seen[item.digest] = source.label
                if item.evidence is None:
                    dropped.add("not_mail", item.source)
                    continue
                found.append(
                    Labelled(
                        item.evidence,
                        source.label,
                        item.source,
                        source.kind,
                        source.group,
                        item.digest,
                    )
                )
    return Examples(found, dropped)
