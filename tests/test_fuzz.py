"""A short fixed-seed run of scripts/fuzz.py: mutated fixtures through parse, score and the
CLI, no exception, every input a record (issue 12). Deselect with ``-m "not fuzz"``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz.py"


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("backscatter_fuzz", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("backscatter_fuzz", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.fuzz
def test_a_short_fuzz_run_raises_nothing_and_loses_no_record():
    fuzz = _fuzz_module()
    summary = fuzz.fuzz(2000, seed=12, corpus=None, cli_batch=1000, heavy=0.3, filter_every=10)
    assert summary["messages"] == 2000
    assert summary["filter_checked"] == 200
    assert summary["exceptions"] == 0, summary["examples"]
    cli = summary["cli"]
    assert cli["failures"] == [] and cli["runs"] == 2
    assert cli["records"] + cli["skipped_not_mail"] >= 2000  # an mbox file: several
    assert summary["ms_per_message"]["both"]["max"] < 5000, summary["slowest"]


def test_the_same_seed_rebuilds_the_same_message():
    fuzz = _fuzz_module()
    seeds = fuzz.load_seeds(None)
    assert fuzz.make_message(seeds, 12, 345) == fuzz.make_message(seeds, 12, 345)
    assert fuzz.make_message(seeds, 12, 345) != fuzz.make_message(seeds, 13, 345)
