"""The parser against the real-mail corpus in ../shared/corpus, when it is there.

The floors are what the parser measured when this test was written, so a change that makes
it worse fails; the issue's targets are printed by scripts/bench_parse.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import CORPUS

pytestmark = pytest.mark.corpus

FLOORS = {
    "recall": 0.97,
    "specificity": 0.98,
    "recipients": 0.95,
    "status": 0.94,
    "message_id": 0.96,
}


@pytest.fixture(scope="module")
def measured():
    if not (CORPUS / "labels.csv").is_file():
        pytest.skip("the shared corpus is not beside this checkout")
    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_parse.py"
    spec = importlib.util.spec_from_file_location("bench_parse", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.measure(CORPUS)


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_corpus_metric_floor(measured, metric):
    assert measured[metric]["rate"] >= FLOORS[metric], measured["misses"].get(metric, [])[:20]


def test_every_corpus_file_yields_a_record_without_parse_error(measured):
    assert measured["errors"] == 0
