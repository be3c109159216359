"""``backscatter learn`` end to end: corrections filed in folders, the store kept across runs,
the before/after tables, and the refusal to write a model that is worse than the shipped one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backscatter.sentlog import SqliteSentLog
from backscatter.sentlog.importers import Tally
from backscatter.sentlog.importers.csv_rows import read_csv
from backscatter.synth import generate
from tests.conftest import DATA
from tests.test_cli import run

GENUINE_FIXTURE = DATA / "formats" / "postfix_dsn_user_unknown.eml"
SMALL = ("--generated", "60")  # a small base set: the same code, seconds instead of a minute


def corrections(folder: Path, seed: int, genuine: int, spoofed: int) -> Path:
    """Generated mail (the shipped model misjudges a few of these) with its sent-log and
    config, as a user's folders of corrections."""
    generate(folder, genuine=genuine, backscatter=spoofed, fake=spoofed, seed=seed)
    with SqliteSentLog(folder / "sent.db") as store:
        store.add(read_csv(str(folder / "sentlog.csv"), Tally()))
    return folder


def context(folder: Path) -> tuple[str, ...]:
    return ("--sent-log", str(folder / "sent.db"), "--config", str(folder / "config.toml"))


def stored(model: Path) -> list[dict]:
    lines = model.with_name(model.stem + ".corrections.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def filed(tmp_path_factory) -> Path:
    folder = corrections(tmp_path_factory.mktemp("filed"), seed=7, genuine=20, spoofed=10)
    (folder / "genuine").mkdir()
    shutil.copy(folder / "genuine.mbox", folder / "genuine" / "generated.mbox")
    shutil.copy(GENUINE_FIXTURE, folder / "genuine" / "fixture.eml")
    return folder


def test_learn_prints_before_and_after_and_keeps_its_corrections_across_runs(filed, tmp_path):
    model = tmp_path / "site.skops"
    first = run(
        "learn", "--genuine", str(filed / "genuine"), "--spoofed", str(filed / "spoofed.mbox"),
        "--model", str(model), *context(filed), *SMALL,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    for heading in ("On the corrections", "On the held-back", "On the shipped evaluation set"):
        assert heading in first.stdout
    assert "Wrong: shipped " in first.stdout  # the model being replaced, then the new one
    assert "ROC AUC" in first.stdout and "Genuine called spoofed" in first.stdout
    assert model.is_file()
    after_first = {line["digest"]: line for line in stored(model)}
    assert len(after_first) == 41  # 20 + 1 genuine, 10 + 10 spoofed
    assert all(line["first"] and "text" not in line for line in after_first.values())

    # The fixture filed again, now as spoofed; nothing else given this time.
    second = run(
        "learn", "--spoofed", str(GENUINE_FIXTURE), "--model", str(model), *SMALL,
        "-f", "json",
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    record = json.loads(second.stdout)
    assert record["counts"]["this_run"] == 1 and record["counts"]["stored"] == 41
    assert list(record["sections"]["corrections"]["evaluations"]) == ["current", "new"]
    after_second = {line["digest"]: line for line in stored(model)}
    assert after_second.keys() == after_first.keys()  # kept, and counted once
    relabelled = [d for d in after_first if after_first[d]["label"] != after_second[d]["label"]]
    assert len(relabelled) == 1 and after_second[relabelled[0]]["label"] == 1  # latest wins


def test_a_poisoning_set_is_refused_without_force_and_written_with_it(tmp_path):
    """Generated mail filed under the opposite labels: a model that learnt it would call
    genuine bounces spoofed, which the shipped evaluation set shows."""
    folder = corrections(tmp_path / "poison", seed=13, genuine=60, spoofed=30)
    model = tmp_path / "site.skops"
    swapped = (
        "--genuine", str(folder / "spoofed.mbox"), "--spoofed", str(folder / "genuine.mbox"),
        "--model", str(model), *context(folder), *SMALL,
    )  # fmt: skip
    refused = run("learn", *swapped)
    assert refused.returncode == 2
    assert "not written: the new model is worse on the shipped evaluation set" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "On the shipped evaluation set" in refused.stdout  # the figures that say why
    assert not model.exists()
    assert not model.with_name("site.corrections.jsonl").exists()

    forced = run("learn", *swapped, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "written despite" in forced.stderr
    assert model.is_file() and len(stored(model)) == 120


def test_learn_without_corrections_is_a_plain_error(tmp_path):
    result = run("learn", "--model", str(tmp_path / "m.skops"))
    assert result.returncode == 2
    assert "give --genuine and/or --spoofed" in result.stderr
