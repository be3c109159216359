"""``train``, ``evaluate`` and ``suppressions`` end to end, on generated and fixture mail."""

from __future__ import annotations

import json

import pytest

from backscatter.synth import generate
from tests.conftest import DATA
from tests.test_cli import run


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated")
    generate(folder, genuine=60, backscatter=30, fake=30, seed=5)
    return folder


def test_train_then_evaluate_with_plots(generated, tmp_path):
    model = tmp_path / "mine.skops"
    trained = run(
        "train",
        "--genuine",
        str(generated / "genuine.mbox"),
        "--spoofed",
        str(generated / "spoofed.mbox"),
        "--out",
        str(model),
    )
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert report["roc_auc"] > 0.8 and len(report["confusion_matrix"]) == 2
    evaluated = run(
        "evaluate",
        "--genuine",
        str(generated / "genuine.mbox"),
        "--spoofed",
        str(generated / "spoofed.mbox"),
        "--model",
        str(model),
        "--plots",
        str(tmp_path / "plots"),
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert set(json.loads(evaluated.stdout)) >= {
        "roc_auc",
        "precision",
        "recall",
        "confusion_matrix",
    }
    for name in ("roc.png", "precision_recall.png", "calibration.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_needs_both_kinds(generated, tmp_path):
    result = run(
        "train", "--genuine", str(generated / "genuine.mbox"), "--out", str(tmp_path / "m.skops")
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == "backscatter: training needs at least two genuine and two spoofed messages\n"
    )


def test_train_from_a_labels_csv(generated, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        f"path,label\n{generated / 'genuine.mbox'},genuine\n{generated / 'spoofed.mbox'},spoofed\n"
    )
    result = run("train", "--labels", str(labels), "--out", str(tmp_path / "m.skops"))
    assert result.returncode == 0, result.stderr


def test_suppressions_list_only_hard_bounces_of_genuine_bounces():
    result = run(
        "suppressions",
        str(DATA / "formats" / "postfix_dsn_user_unknown.eml"),  # hard, genuine
        str(DATA / "formats" / "sendmail_dsn_delayed.eml"),  # soft: not suppressed
        str(DATA / "formats" / "fake_ndr_plain_release_link.eml"),  # spoofed: never
    )
    assert result.returncode == 0
    assert result.stdout == "nobody@receiver.example,user_unknown\n"
