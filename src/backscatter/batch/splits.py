"""Cutting the inputs of a batch run into tasks, and reading one task's messages.

A task is a :class:`Split`: a list of files (a Maildir or folder, cut every ``chunk`` bytes
or :data:`MAX_FILES` files), or one byte range ``[start, end)`` of an mbox larger than
``chunk``. The files are listed by :func:`backscatter.mail.sources.directory_files`, the walk
``iter_messages`` itself uses, and a range is read by ``iter_mbox_range``, the same mbox
reader: a worker reading its splits yields exactly the messages, sources (``path#N``) and
errors the single-process run yields, in the same order.

An mbox message is numbered by its place in the whole file, which a range does not know: the
``first`` number of each range after the first is the count of separators before it
(``count_mbox_range``), a fast scan done on the workers before the ranges are read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from backscatter.errors import BackscatterError
from backscatter.mail.sources import (
    RawMessage,
    SourceError,
    directory_files,
    is_mbox,
    iter_mbox_range,
    read_files,
)

#: The default size of a task: large enough that per-task overhead (scheduling, loading the
#: Detector once per worker, a result message) is noise, small enough to balance.
CHUNK_BYTES = 64 * 1024 * 1024
#: The most files in one task (a Maildir message is a file; per-file work dominates).
MAX_FILES = 4096


@dataclass(frozen=True, slots=True)
class Split:
    """One task's input. ``files``: paths read whole, in order; or ``mbox``: one file's
    byte range, its messages numbered from ``first`` (0: not yet known, see the module doc).
    ``base`` is the client's working folder, for relative paths on a worker started elsewhere;
    ``follow``: a path named by the user (links followed) rather than found in a scan."""

    base: str
    follow: bool
    files: tuple[str, ...] = ()
    mbox: str = ""
    start: int = 0
    end: int = 0
    first: int = 1


def plan(paths: list[str], chunk: int = CHUNK_BYTES) -> Iterator[Split]:
    """The splits of every path, in the order ``iter_messages`` reads them (listed as they
    are needed; the arguments are checked now, before a cluster is started)."""
    if chunk < 1:
        raise BackscatterError("--chunk-mb must be positive")
    if "-" in paths:
        raise BackscatterError("--engine dask reads files on shared storage, not stdin")
    return _plan(paths, chunk, os.getcwd())


def _plan(paths: list[str], chunk: int, base: str) -> Iterator[Split]:
    for path in paths:
        if os.path.isdir(path):
            yield from _plan_directory(path, base, chunk)
        else:
            yield from _plan_file(path, base, chunk, follow=True)


def _plan_file(path: str, base: str, chunk: int, follow: bool) -> Iterator[Split]:
    """A large regular mbox in ranges; anything else (small, not an mbox, missing, a link
    inside a scan, a FIFO) as one file the worker reads, and reports, as the local run does."""
    size = _regular_size(path, follow)
    if size is None or size <= chunk or not is_mbox(path, follow):
        yield Split(base, follow, files=(path,))
        return
    for start in range(0, size, chunk):
        end = min(start + chunk, size)
        yield Split(base, follow, mbox=path, start=start, end=end, first=0 if start else 1)


def _plan_directory(root: str, base: str, chunk: int) -> Iterator[Split]:
    batch: list[str] = []
    weight = 0
    for path in directory_files(root):
        size = _regular_size(path, follow=False)
        if size is not None and size > chunk and is_mbox(path, follow=False):
            if batch:
                yield Split(base, False, files=tuple(batch))
                batch, weight = [], 0
            yield from _plan_file(path, base, chunk, follow=False)
            continue
        batch.append(path)
        weight += size or 0
        if weight >= chunk or len(batch) >= MAX_FILES:
            yield Split(base, False, files=tuple(batch))
            batch, weight = [], 0
    if batch:
        yield Split(base, False, files=tuple(batch))


def _regular_size(path: str, follow: bool) -> int | None:
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def read_split(split: Split) -> Iterator[RawMessage | SourceError]:
    """The messages of one split, on whichever machine runs it."""
    if split.mbox:
        where = os.path.join(split.base, split.mbox)
        yield from iter_mbox_range(
            where, split.start, split.end, split.first, split.mbox, split.follow
        )
    else:
        yield from read_files(split.files, split.base, split.follow)
