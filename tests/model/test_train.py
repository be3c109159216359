"""model/train.py: cross-validation keeps every view of one message in one fold and scores
each message once; labels files are read by their header; metrics name spoofed positive."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from backscatter.errors import BackscatterError
from backscatter.features import load_config
from backscatter.model.train import (
    GENUINE,
    SPOOFED,
    augmented_groups,
    cross_validated,
    grouped_folds,
    label_value,
    labels_from_csv,
    metrics,
    not_trained_reason,
    out_of_fold,
    parse_label,
    read_label_file,
    read_labelled,
    source_pairs,
)
from backscatter.sentlog import SqliteSentLog
from backscatter.sentlog.importers import Tally
from backscatter.sentlog.importers.csv_rows import read_csv
from backscatter.synth import generate


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    """Generated mail read with a sent-log and a config: up to four views per message."""
    folder = tmp_path_factory.mktemp("generated")
    generate(folder, genuine=40, backscatter=20, fake=20, seed=3)
    with SqliteSentLog(folder / "sent.db") as store:
        store.add(read_csv(str(folder / "sentlog.csv"), Tally()))
        return read_labelled(
            source_pairs([str(folder / "genuine.mbox")], [str(folder / "spoofed.mbox")]),
            store,
            load_config(folder / "config.toml"),
        )


def test_each_message_is_one_group_of_its_views(items):
    evidence, labels, groups = augmented_groups(items)
    assert len(evidence) == len(labels) == len(groups)
    counts = np.bincount(groups)
    assert counts.max() == 4  # sent-log given and config given: four views of one message
    assert len(counts) == sum(1 for item in items if item.evidence.claims_bounce)
    for group in range(len(counts)):
        assert len(set(labels[groups == group].tolist())) == 1


def test_no_message_is_split_across_folds(items):
    _, labels, groups = augmented_groups(items)
    splits = grouped_folds(labels, groups, folds=5, seed=0)
    assert len(splits) == 5
    tested = np.concatenate([test for _, test in splits])
    assert sorted(tested.tolist()) == list(range(len(labels)))  # each view tested once
    for train, test in splits:
        assert not set(groups[train].tolist()) & set(groups[test].tolist())
        assert {GENUINE, SPOOFED} <= set(labels[test].tolist())


def test_folds_shrink_to_the_smaller_class():
    labels = np.array([GENUINE] * 6 + [SPOOFED] * 3)
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 4, 5])
    assert len(grouped_folds(labels, groups, folds=5)) == 3


def test_cross_validation_scores_each_message_once_out_of_fold(items):
    verdicts, folds = out_of_fold(items, folds=3)
    assert folds == 3 and len(verdicts) == len(items)
    assert [v.bounce.source for v in verdicts] == [item.source for item in items]
    report = cross_validated(items, folds=3)
    assert report["examples"] == len(items)  # messages, not their augmented views
    assert report["roc_auc"] > 0.8


def test_labels_csv_reads_path_and_label_whatever_else_is_there(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1.eml").write_text("From: x@example.com\n\nhi\n")
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "\ufeffsource,Label,path,group\n"
        "an archive,genuine_bounce,a/1.eml,g1\n"
        "an archive,Spoofed-Fake-NDR,/elsewhere/2.eml,g2\n"
        "an archive,backscatter,/elsewhere/3.eml,\n"
        "an archive,not_bounce/auto_reply,a/4.eml,\n"
        "an archive,,a/5.eml,\n"
        "an archive,genuine,a/1.eml,g1\n"
    )
    read = read_label_file(str(labels))
    assert read.grouped
    assert [(s.path, s.label, s.kind, s.group) for s in read.sources] == [
        (str(tmp_path / "a" / "1.eml"), GENUINE, "genuine", "g1"),  # beside the CSV
        ("/elsewhere/2.eml", SPOOFED, "fake_ndr", "g2"),
        ("/elsewhere/3.eml", SPOOFED, "backscatter", ""),
    ]
    assert dict(read.dropped.counts) == {
        "labelled_not_bounce": 1,
        "unlabelled_row": 1,
        "duplicate": 1,
    }
    assert labels_from_csv(str(labels))[1] == ("/elsewhere/2.eml", SPOOFED)


def test_a_labels_file_without_a_header_is_path_then_label(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("/m/1.eml,spoofed\n/m/2.eml,genuine\n")
    assert labels_from_csv(str(labels)) == [("/m/1.eml", SPOOFED), ("/m/2.eml", GENUINE)]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("path,label\n/m/1.eml,ham\n", "line 2: unknown label 'ham'"),
        ("path,label\n/m/1.eml,genuine\n/m/1.eml,spoofed\n", "line 3 labels /m/1.eml spoofed"),
        ("file,kind\n/m/1.eml,genuine\n", "line 1 must name the columns"),
        ("", "empty labels file"),
    ],
)
def test_bad_labels_files_are_refused_naming_the_line(tmp_path, text, error):
    labels = tmp_path / "labels.csv"
    labels.write_text(text)
    with pytest.raises(BackscatterError, match=error):
        read_label_file(str(labels))


def test_label_names_map_to_a_class_and_a_kind():
    assert parse_label("genuine_bounce") == (GENUINE, "genuine")
    assert parse_label(" Fake ") == (SPOOFED, "fake_ndr")
    assert parse_label("spoofed_forged_dsn") == (SPOOFED, "forged_dsn")
    assert parse_label("not_bounce/success_dsn") is None
    assert label_value("whatever") is None  # scripts' lenient form


def test_well_formed_spoofed_reports_are_learnt_only_with_evidence(items):
    """Backscatter without a sent-log or config is scored but not learnt (see train.py)."""
    bare = [
        replace(
            item,
            evidence=replace(item.evidence, sentlog_given=False, sent=None, config_given=False),
        )
        for item in items
    ]
    reasons = {not_trained_reason(item) for item in bare if item.label == SPOOFED}
    assert "spoofed_without_evidence" in reasons
    assert all(not_trained_reason(item) is None for item in items if item.label == SPOOFED)


def test_metrics_name_spoofed_as_the_positive_class():
    report = metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), threshold=0.5)
    assert report["confusion_matrix"] == [[1, 1], [1, 1]]
    assert report["precision"] == report["recall"] == report["f1"] == 0.5
    assert report["genuine_called_spoofed"] == 0.5
    assert report["roc_auc"] == 0.75
    assert report["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
