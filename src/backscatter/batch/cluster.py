"""Connecting to a Dask cluster, and running splits on it with results back in order.

Dask (``pip install 'backscatter[dask]'``) is imported here, on first use, never at import
time of the command line. Without ``--scheduler`` a ``LocalCluster`` is started with one
single-threaded worker process per job (the parser and model hold the GIL: threads would
not add throughput), and stopped when the run ends.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backscatter.batch.splits import CHUNK_BYTES, Split
from backscatter.batch.work import count_task
from backscatter.errors import BackscatterError

if TYPE_CHECKING:
    from dask.distributed import Client, Future

INSTALL_HINT = "pip install 'backscatter[dask]'"
#: Count tasks run before any scoring: they are short and every range after them waits.
_COUNT_PRIORITY = 10


@dataclass(frozen=True)
class Engine:
    """Where batch work runs: ``scheduler`` (``tcp://host:8786``) or a local cluster of
    ``workers`` processes; inputs cut every ``chunk`` bytes."""

    scheduler: str | None = None
    workers: int = 2
    chunk: int = CHUNK_BYTES


def require(module: str = "dask.distributed") -> None:
    """A plain error naming the extra when Dask (or pyarrow, for Parquet) is missing."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise BackscatterError(
            f"--engine dask needs {module.split('.')[0]}: {INSTALL_HINT}"
        ) from None


@contextmanager
def connect(engine: Engine) -> Iterator[Client]:
    require()
    from dask.distributed import Client, LocalCluster

    if engine.scheduler:
        try:
            client = Client(engine.scheduler, timeout="15s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise BackscatterError(
                f"cannot reach the Dask scheduler at {engine.scheduler}: {exc}"
            ) from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=max(1, engine.workers),
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",  # no fixed port: 8787 may be taken
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def run_in_order(
    client: Client,
    splits: Iterable[Split],
    submit: Callable[[Client, Split, int], Future],
) -> Iterator[Any]:
    """Each split's result, in split order, with at most two tasks per worker in flight:
    the client holds a bounded number of results whatever the input's size.

    Mbox ranges after a file's first get their starting number from the count tasks of the
    ranges before them (submitted as the plan is read, ahead of the work)."""
    window = 2 * max(1, sum(client.nthreads().values()))
    numbered = _numbered(client, splits, lookahead=4 * window)
    pending: deque[Future] = deque()
    for index, split in enumerate(numbered):
        pending.append(submit(client, split, index))
        if len(pending) >= window:
            yield _result(pending.popleft())
    while pending:
        yield _result(pending.popleft())


def _numbered(client: Client, splits: Iterable[Split], lookahead: int) -> Iterator[Split]:
    from dataclasses import replace

    source = iter(splits)
    ahead: deque[tuple[Split, Future | None]] = deque()
    next_first: dict[tuple[str, bool], int] = {}
    while True:
        while len(ahead) < lookahead and (split := next(source, None)) is not None:
            count = (
                client.submit(count_task, split, priority=_COUNT_PRIORITY, pure=False)
                if split.mbox
                else None
            )
            ahead.append((split, count))
        if not ahead:
            return
        split, count = ahead.popleft()
        if count is None:
            yield split
            continue
        key = (split.mbox, split.follow)
        first = 1 if split.start == 0 else next_first[key]
        next_first[key] = first + _result(count)
        yield replace(split, first=first)


def _result(future: Future) -> Any:
    """A task's result; a task that failed is one plain error, not a remote traceback."""
    try:
        return future.result()
    except BackscatterError:
        raise
    except Exception as exc:
        raise BackscatterError(f"a Dask task failed: {type(exc).__name__}: {exc}") from None
