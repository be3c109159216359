"""``train``, ``evaluate`` and ``suppressions`` end to end, on generated and fixture mail."""

from __future__ import annotations

import json

import pytest

from backscatter.sentlog import SqliteSentLog
from backscatter.sentlog.importers import Tally
from backscatter.sentlog.importers.csv_rows import read_csv
from backscatter.synth import generate
from tests.conftest import DATA
from tests.test_cli import run

METRICS = {
    "roc_auc",
    "pr_auc",
    "precision",
    "recall",
    "f1",
    "genuine_called_spoofed",
    "spoofed_caught",
    "brier",
    "confusion_matrix",
    "caught_by_kind",
    "verdicts",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Generated mail, its sent-log, and a labels file the way people write them: extra
    columns (a ``source`` that is not a path), relative paths, and rows that are not used."""
    folder = tmp_path_factory.mktemp("generated")
    generate(folder, genuine=60, backscatter=30, fake=30, seed=5)
    with SqliteSentLog(folder / "sent.db") as store:
        store.add(read_csv(str(folder / "sentlog.csv"), Tally()))
    (folder / "notes.txt").write_text("not a message, no header fields\n")
    auto_reply = DATA / "formats" / "not_bounce_auto_reply.eml"
    (folder / "labels.csv").write_text(
        "label,path,source,comment\n"
        "genuine,genuine.mbox,an archive somewhere,ours\n"
        "Spoofed,spoofed.mbox,another archive,\n"
        f"not_bounce/auto_reply,{auto_reply},a fixture,\n"
        ",unlabelled.eml,nobody labelled it,\n"
        "genuine,genuine.mbox,listed twice,\n"
        "spoofed,missing.mbox,gone,\n"
        "genuine,notes.txt,not mail,\n"
    )
    return folder


def _with(folder, *args):
    return (
        "--labels",
        str(folder / "labels.csv"),
        "--sent-log",
        str(folder / "sent.db"),
        "--config",
        str(folder / "config.toml"),
        *args,
    )


@pytest.fixture(scope="module")
def trained(generated):
    model = generated / "mine.skops"
    result = run("train", *_with(generated, "--out", str(model), "--format", "json"))
    assert result.returncode == 0, result.stderr
    return model, json.loads(result.stdout)


EXPECTED_DROPPED = {
    "labelled_not_bounce": 1,
    "unlabelled_row": 1,
    "duplicate": 1,
    "unreadable": 1,
    "not_mail": 1,
}


def test_train_reports_cross_validated_beside_in_sample(trained):
    model, report = trained
    assert report["model"] == "mine" and report["positive_class"] == "spoofed"
    cross, inside = report["evaluations"]["cross_validated"], report["evaluations"]["in_sample"]
    assert cross["method"].startswith("5-fold cross-validated, grouped by message")
    assert "optimistic" in inside["method"]
    assert set(cross["metrics"]) >= METRICS and set(inside["metrics"]) >= METRICS
    assert cross["metrics"]["roc_auc"] > 0.9
    assert cross["metrics"]["genuine"] == 60 and cross["metrics"]["spoofed"] == 60
    # With a sent-log, backscatter is learnt: nothing scored goes untrained.
    assert report["examples"]["trained_on"] == {"genuine": 60, "spoofed": 60}
    assert report["examples"]["not_trained_on"] == {}
    assert {k: v["count"] for k, v in report["dropped"].items()} == EXPECTED_DROPPED
    assert report["dropped"]["labelled_not_bounce"]["labels"] == {"not_bounce/auto_reply": 1}
    assert report["dropped"]["unreadable"]["examples"][0].endswith(
        "missing.mbox: no such file or directory"
    )
    assert model.is_file()
    learnt = json.loads(model.with_suffix(".training.json").read_text())["messages"]
    assert len(learnt) == 120


def test_evaluate_on_the_training_mail_says_in_sample_and_agrees_with_train(generated, trained):
    model, report = trained
    result = run("evaluate", *_with(generated, "--model", str(model), "--format", "json"))
    assert result.returncode == 0, result.stderr
    evaluated = json.loads(result.stdout)
    [(key, measured)] = evaluated["evaluations"].items()
    assert key == "in_sample"
    assert "all of them trained it" in measured["method"]
    expected = report["evaluations"]["in_sample"]["metrics"]
    assert measured["metrics"]["confusion_matrix"] == expected["confusion_matrix"]
    assert measured["metrics"]["roc_auc"] == pytest.approx(expected["roc_auc"])
    assert measured["metrics"]["brier"] == pytest.approx(expected["brier"])
    assert evaluated["dropped"] == report["dropped"]


def test_evaluate_prints_a_table_by_default_and_labelled_plots(generated, trained, tmp_path):
    model, _ = trained
    plots = tmp_path / "plots"
    result = run("evaluate", *_with(generated, "--model", str(model), "--plots", str(plots)))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Model: mine    threshold: spoofed at p >= 0.50")
    for row in (
        "ROC AUC",
        "PR AUC (average precision, spoofed)",
        "Recall: spoofed caught",
        "Genuine called spoofed (FP rate)",
        "Brier score (calibration, 0 = best)",
        "Confusion: spoofed -> genuine/spoofed",
    ):
        assert f"\n{row}  " in out
    assert "\nin-sample: the model scored on these 120 messages as given" in out
    assert "\nNot scored: 5 (counted here, in no figure above)\n" in out
    assert "not an e-mail message (no header fields)" in out
    for name in ("roc.png", "precision_recall.png", "calibration.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_without_a_sent_log_scores_backscatter_and_says_why_it_is_not_learnt(
    generated, tmp_path
):
    result = run(
        "train",
        "--genuine",
        str(generated / "genuine.mbox"),
        "--spoofed",
        str(generated / "spoofed.mbox"),
        "--out",
        str(tmp_path / "m.skops"),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\nMetric                                 cross-validated" in out
    assert "in-sample" in out.splitlines()[2]
    # Every spoofed message is scored (and the backscatter among them counted as missed) ...
    assert "\nMessages scored (genuine / spoofed)    60 / 60" in out
    # ... but well-formed ones are not learnt without a sent-log, and the table says so.
    assert "\n  not trained on: " in out
    assert "Give --sent-log." in out


def test_evaluate_the_shipped_model_on_fixtures_says_what_it_learnt_from(tmp_path):
    formats = DATA / "formats"
    labels = tmp_path / "labels.csv"
    labels.write_text(
        f"{formats / 'postfix_dsn_user_unknown.eml'},genuine\n"
        f"{formats / 'exim_mailbox_full.eml'},genuine_bounce\n"
        f"{formats / 'fake_ndr_plain_release_link.eml'},fake\n"
        f"{formats / 'fake_ndr_html_quarantine.eml'},spoofed_fake_ndr\n"
    )  # no header: path,label
    result = run("evaluate", "--labels", str(labels), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "backscatter-default"
    [(key, measured)] = report["evaluations"].items()
    assert key == "shipped_model" and "MODEL_CARD.md" in measured["method"]
    assert measured["metrics"]["caught_by_kind"] == {"fake_ndr": {"caught": 2, "of": 2}}
    assert measured["metrics"]["confusion_matrix"] == [[2, 0], [0, 2]]
    assert report["dropped"] == {}


def test_unknown_label_is_refused_naming_the_line(generated, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(f"path,label\n{generated / 'genuine.mbox'},genuine\nx.eml,maybe spam\n")
    result = run("evaluate", "--labels", str(labels))
    assert result.returncode == 2
    assert result.stderr.startswith(f"backscatter: {labels}: line 3: unknown label 'maybe spam'")
    assert "Traceback" not in result.stderr


def test_a_labels_file_without_a_path_column_is_refused(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("source,label\nan archive,genuine\n")
    result = run("train", "--labels", str(labels), "--out", str(tmp_path / "m.skops"))
    assert result.returncode == 2
    assert result.stderr == (
        f"backscatter: {labels}: line 1 names no 'path' column (columns: source, label); "
        "'source' is provenance, not where the message is\n"
    )


def test_train_needs_both_kinds(generated, tmp_path):
    result = run(
        "train", "--genuine", str(generated / "genuine.mbox"), "--out", str(tmp_path / "m.skops")
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "backscatter: training needs at least two genuine and two spoofed messages it can "
        "learn from (found 60 genuine, 0 spoofed;"
    )


def test_suppressions_list_only_hard_bounces_of_genuine_bounces():
    result = run(
        "suppressions",
        str(DATA / "formats" / "postfix_dsn_user_unknown.eml"),  # hard, genuine
        str(DATA / "formats" / "sendmail_dsn_delayed.eml"),  # soft: not suppressed
        str(DATA / "formats" / "fake_ndr_plain_release_link.eml"),  # spoofed: never
    )
    assert result.returncode == 0
    assert result.stdout == "nobody@receiver.example\n"  # --format plain: one per line
