"""Shared helpers: where the fixtures live and how to parse one."""

from __future__ import annotations

from pathlib import Path

import pytest

from backscatter import Bounce, parse

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def parse_fixture(relative: str) -> Bounce:
    path = DATA / relative
    return parse(path.read_bytes(), str(path.name))


@pytest.fixture
def data_dir() -> Path:
    return DATA
