"""Cross-validation in model/train.py keeps every view of one message in one fold."""

from __future__ import annotations

import numpy as np
import pytest

from backscatter.features import load_config
from backscatter.model.train import (
    GENUINE,
    SPOOFED,
    augmented_groups,
    cross_validated,
    grouped_folds,
    labels_from_csv,
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


def test_grouped_cross_validation_reports_every_view(items):
    report = cross_validated(items, folds=3)
    assert report["examples"] == len(augmented_groups(items)[0])
    assert report["roc_auc"] > 0.8


def test_labels_csv_maps_corpus_labels_and_prefers_the_path(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "path,label,source\n"
        "a/1.eml,genuine_bounce,an archive\n"
        "a/2.eml,spoofed_fake_ndr,an archive\n"
        "a/3.eml,not_bounce/auto_reply,an archive\n"
    )
    assert labels_from_csv(str(labels)) == [("a/1.eml", GENUINE), ("a/2.eml", SPOOFED)]
