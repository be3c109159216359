"""``--engine``, ``--scheduler`` and ``--chunk-mb``: the options that send ``score``,
``parse`` and ``train`` to a Dask cluster (the work itself is in :mod:`backscatter.batch`,
imported only when asked for, so ``backscatter --help`` stays fast)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from backscatter.batch.cluster import Engine
    from backscatter.cli.batch import Inputs
    from backscatter.detector import Verdict


class EngineName(StrEnum):
    local = "local"
    dask = "dask"


EngineOption = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="local: this process (and --jobs); dask: split the inputs by file and mbox byte "
        "range over a Dask cluster (needs pip install 'backscatter[dask]').",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="--engine dask: the scheduler, e.g. tcp://host:8786 (inputs, model, sent-log and "
        "--output on storage every worker sees); default: a local cluster of --jobs workers.",
    ),
]
DaskJobsOption = Annotated[
    int, typer.Option("--jobs", "-j", help="--engine dask: local workers; 0: one per core.")
]
ChunkOption = Annotated[
    float,
    typer.Option(
        "--chunk-mb",
        min=0.001,
        help="--engine dask: split mboxes and folders every this many MB (a fraction is fine).",
    ),
]


def dask_engine(
    engine: EngineName, scheduler: str | None, jobs: int, chunk_mb: float, output_format: str
) -> Engine | None:
    """The Dask settings for ``--engine dask``; None for a local run (``--scheduler`` alone,
    or Parquet without Dask, is a mistake worth one line rather than a silent local run)."""
    import os

    from backscatter.errors import BackscatterError

    if engine is EngineName.local:
        if scheduler:
            raise BackscatterError("--scheduler needs --engine dask")
        if output_format == "parquet":
            raise BackscatterError("--format parquet is written by Dask workers: --engine dask")
        return None
    from backscatter.batch.cluster import Engine

    workers = jobs if jobs > 0 else (os.cpu_count() or 1)
    return Engine(scheduler or None, workers, max(1, int(chunk_mb * 1024 * 1024)))


def score_dask(
    paths: list[str],
    engine: Engine,
    inputs: Inputs,
    model: Path | None,
    sent_log: str | Path | None,
    config: Path | None,
    threshold: float,
) -> Iterator[Verdict]:
    """``score --engine dask``: the verdicts in input order, for the command's own writer;
    read errors go to ``inputs`` as the local run's do."""
    from backscatter.batch import run
    from backscatter.batch.work import DetectorOptions

    options = DetectorOptions.of(model, sent_log, config, threshold)
    return run.score(paths, options, engine, inputs.read_error)


def parse_dask(paths: list[str], engine: Engine, inputs: Inputs) -> Iterator[dict[str, Any]]:
    """``parse --engine dask``: the records in input order, for the command's own writer."""
    from backscatter.batch import run

    return run.parse(paths, engine, inputs.read_error)


def score_parquet(
    paths: list[str],
    engine: Engine,
    output: Path | None,
    inputs: Inputs,
    model: Path | None,
    sent_log: str | Path | None,
    config: Path | None,
    threshold: float,
) -> int:
    """``score --format parquet``: the workers write the dataset; a summary line here.
    Returns the exit status (1 when a named input could not be read)."""
    from backscatter.batch.work import DetectorOptions

    options = DetectorOptions.of(model, sent_log, config, threshold)
    return _parquet(paths, engine, output, inputs, options)


def parse_parquet(paths: list[str], engine: Engine, output: Path | None, inputs: Inputs) -> int:
    """``parse --format parquet``: as :func:`score_parquet`, with parse records."""
    return _parquet(paths, engine, output, inputs, None)


def _parquet(
    paths: list[str], engine: Engine, output: Path | None, inputs: Inputs, options: Any
) -> int:
    from backscatter.batch import run

    written = run.to_parquet(paths, output, engine, inputs.read_error, options)
    for source in written.not_mail:
        inputs.not_mail(source)
    counts = ", ".join(f"{n} {v}" for v, n in sorted(written.verdicts.items()))
    inputs.say(
        f"{written.rows} messages in {written.files} Parquet file(s) under {written.folder}"
        + (f": {counts}" if counts else "")
    )
    skipped = inputs.skipped_line()
    if skipped:
        inputs.say(f"warning: {skipped}")
    return inputs.exit_status
