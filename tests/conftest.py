"""Shared helpers: where the fixtures live and how to parse one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backscatter import Bounce, parse
from backscatter.sentlog import SqliteSentLog

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def parse_fixture(relative: str) -> Bounce:
    path = DATA / relative
    return parse(path.read_bytes(), str(path.name))


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteSentLog]:
    """An empty SQLite sent-log in a real file, closed after the test."""
    with SqliteSentLog(tmp_path / "sent.db") as opened:
        yield opened
