"""Training from labelled mail: evidence for every message, then the pipeline.

Each message is seen three ways (with the sent-log and config given, with only the config,
and with neither) so that one model scores well whichever of them a user has.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from backscatter.errors import BackscatterError
from backscatter.features import Evidence, OurInfrastructure, collect
from backscatter.mail import RawMessage, iter_messages
from backscatter.mail.parser import analyse
from backscatter.model.pipeline import new_pipeline
from backscatter.sentlog import SentLogStore

GENUINE, SPOOFED = 0, 1
LABEL_NAMES = {"genuine": GENUINE, "spoofed": SPOOFED, "genuine_bounce": GENUINE}


@dataclass(frozen=True)
class Labelled:
    evidence: Evidence
    label: int
    source: str


def read_labelled(
    sources: Iterable[tuple[str, int]],
    store: SentLogStore | None,
    ours: OurInfrastructure,
) -> list[Labelled]:
    """Evidence for every message under each (path, label); unreadable paths are an error."""
    found: list[Labelled] = []
    for path, label in sources:
        for item in iter_messages([path]):
            if not isinstance(item, RawMessage):
                raise BackscatterError(f"cannot read {item.source}: {item.message}")
            bounce, view = analyse(item)
            found.append(Labelled(collect(bounce, view, store, ours), label, item.source))
    return found


def label_value(label: str) -> int | None:
    """GENUINE or SPOOFED for a label name (``genuine``, ``spoofed``, or the corpus's
    ``genuine_bounce`` and ``spoofed_*``); None for anything else (``not_bounce/...``), which is
    not a bounce and so not something the model learns to score."""
    key = "spoofed" if label.startswith("spoofed") else label
    return LABEL_NAMES.get(key)


def labels_from_csv(path: str) -> list[tuple[str, int]]:
    """``path,label`` or ``source,label`` rows (label: genuine or spoofed, or the corpus's label
    names). ``path`` wins when both are there: the corpus's labels.csv uses ``source`` for where
    a message came from, not where it is."""
    rows: list[tuple[str, int]] = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            value = label_value(row.get("label", ""))
            if value is not None:
                rows.append((row.get("path") or row.get("source") or "", value))
    return rows


def augmented_groups(
    items: Sequence[Labelled],
) -> tuple[list[Evidence], np.ndarray, np.ndarray]:
    """Each message in every combination of sent-log and config a user may have, with its
    label and, for each view, the group of the message it is a view of.

    Views of one message (same ``source``) are near-copies: a split that puts one in training
    and another in the test fold measures memory, not generalisation, so cross-validation
    keeps each group whole.
    """
    evidence: list[Evidence] = []
    labels: list[int] = []
    groups: list[int] = []
    group_of: dict[str, int] = {}
    for item in items:
        e = item.evidence
        if not e.claims_bounce:
            continue
        variants = _views(e)
        if item.label == SPOOFED and e.bounce.is_bounce and not _contradicts_itself(e):
            # A well-formed report (real backscatter, or a careful forgery) cannot be told
            # from a genuine bounce without a sent-log or config; calling such reports spoofed
            # would cost trust in every genuine one, so they are learnt only with that evidence.
            variants = [v for v in variants if v.sentlog_given or v.config_given]
        evidence.extend(variants)
        labels.extend([item.label] * len(variants))
        groups.extend([group_of.setdefault(item.source, len(group_of))] * len(variants))
    return evidence, np.array(labels), np.array(groups)


def _views(e: Evidence) -> list[Evidence]:
    """The message as seen with and without the sent-log, and with and without the config:
    users have any combination, and the model must not lean on one to read the other."""
    without_log = replace(e, sentlog_given=False, sent=None)
    views = [e, without_log] if e.sentlog_given else [e]
    if e.config_given:
        views += [
            replace(
                view,
                config_given=False,
                our_relay_in_chain=False,
                our_dkim=False,
                original_from_ours=False,
                batv=None,
            )
            for view in list(views)
        ]
    return views


def _contradicts_itself(e: Evidence) -> bool:
    """A report whose status, action and diagnostic disagree: forged, whoever looks."""
    from backscatter.features.structure import status_consistency

    return status_consistency(e) < 0


def fit(items: Sequence[Labelled], seed: int = 0) -> Pipeline:
    """The pipeline fitted on every view of every message.

    Platt calibration is fitted out of fold; its folds keep each message's views together
    (as cross-validation does), or the sigmoid would be fitted on near-copies of what its
    classifier was trained on and come out overconfident."""
    evidence, labels, groups = augmented_groups(items)
    if len(set(labels.tolist())) < 2:
        raise BackscatterError("training needs both genuine and spoofed examples")
    model = new_pipeline(seed)
    model.set_params(classifier__cv=grouped_folds(labels, groups, 5, seed))
    model.fit(evidence, labels)
    return model.set_params(classifier__cv=5)  # the splits served the fit; the file keeps none


def cross_validated(items: Sequence[Labelled], seed: int = 0, folds: int = 5) -> dict[str, object]:
    """Out-of-fold metrics (messages, not their augmented copies, are split)."""
    evidence, labels, groups = augmented_groups(items)
    probabilities = cross_val_predict(
        new_pipeline(seed),
        evidence,
        labels,
        cv=grouped_folds(labels, groups, folds, seed),
        method="predict_proba",
        n_jobs=1,
    )[:, 1]
    return metrics(labels, probabilities)


def grouped_folds(
    labels: np.ndarray, groups: np.ndarray, folds: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified (train, test) index splits that never divide a group (one message's views).

    Fewer folds than asked when a class has fewer messages than folds; at least two.
    """
    per_class = [len(set(groups[labels == label].tolist())) for label in (GENUINE, SPOOFED)]
    folds = min(folds, *per_class)
    if folds < 2:
        raise BackscatterError("cross-validation needs two genuine and two spoofed messages")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels, groups))


def metrics(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5
) -> dict[str, object]:
    predicted = (probabilities >= threshold).astype(int)
    matrix = confusion_matrix(labels, predicted, labels=[GENUINE, SPOOFED])
    return {
        "examples": len(labels),
        "roc_auc": float(roc_auc_score(labels, probabilities))
        if len(set(labels.tolist())) > 1
        else None,
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "genuine_called_spoofed": float(matrix[0, 1] / max(1, matrix[0].sum())),
        "spoofed_caught": float(matrix[1, 1] / max(1, matrix[1].sum())),
        "confusion_matrix": matrix.tolist(),
    }


def source_pairs(genuine: Sequence[str], spoofed: Sequence[str]) -> list[tuple[str, int]]:
    return [(p, GENUINE) for p in genuine] + [(p, SPOOFED) for p in spoofed]
