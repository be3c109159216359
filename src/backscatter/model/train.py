"""Training from labelled mail: evidence for every message, then the pipeline.

Each message is seen three ways (with the sent-log and config given, with only the config,
and with neither) so that one model scores well whichever of them a user has.

What is read is accounted for: every example that is not scored (unreadable, not mail, a
duplicate, a row labelled not-a-bounce) is counted in :class:`Dropped` with its reason, so
``backscatter train`` and ``evaluate`` can say what their figures are made of.
"""

from __future__ import annotations

import csv
import hashlib
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from backscatter.errors import BackscatterError
from backscatter.features import Evidence, OurInfrastructure, collect
from backscatter.mail import RawMessage, iter_messages
from backscatter.mail.parser import analyse
from backscatter.model.pipeline import new_pipeline
from backscatter.sentlog import SentLogStore

if TYPE_CHECKING:
    from backscatter.detector import Verdict

GENUINE, SPOOFED = 0, 1
CLASS_NAMES = {GENUINE: "genuine", SPOOFED: "spoofed"}

#: Label names a labels file may use (case, ``-`` and spaces aside), as the corpus README
#: defines them plus the short forms a user would type: the class, and the kind reported.
LABELS: dict[str, tuple[int, str]] = {
    "genuine": (GENUINE, "genuine"),
    "genuine_bounce": (GENUINE, "genuine"),
    "spoofed": (SPOOFED, "spoofed"),
    "backscatter": (SPOOFED, "backscatter"),
    "spoofed_backscatter": (SPOOFED, "backscatter"),
    "fake": (SPOOFED, "fake_ndr"),
    "fake_ndr": (SPOOFED, "fake_ndr"),
    "spoofed_fake_ndr": (SPOOFED, "fake_ndr"),
}
NOT_BOUNCE_LABEL = "not_bounce"

#: Why an example was not scored; the keys are stable (JSON), the text is for people.
DROP_REASONS = {
    "labelled_not_bounce": "labelled not a bounce (not_bounce...): nothing to score",
    "unlabelled_row": "labels row with no label or no path",
    "unreadable": "file missing or unreadable",
    "not_mail": "not an e-mail message (no header fields)",
    "duplicate": "the same message again (identical bytes): scored once",
    "duplicate_conflicting": "the same message again with the other label: first label kept",
}


@dataclass(frozen=True)
class Labelled:
    evidence: Evidence
    label: int
    source: str
    kind: str = ""  # genuine, spoofed, backscatter, fake_ndr: for per-kind counts
    group: str = ""  # cross-validation group (a labels file's ``group`` column); "" = itself
    digest: str = ""  # of the message bytes: finds duplicates and a model's training mail


@dataclass(frozen=True)
class LabelSource:
    """A path (file, mailbox, Maildir, folder) and what every message under it is."""

    path: str
    label: int
    kind: str
    group: str = ""


@dataclass
class Dropped:
    """Examples not scored, by reason (keys of :data:`DROP_REASONS`), with a few sources each
    and, for labelled not-a-bounce rows, the label they carried."""

    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)

    def add(self, reason: str, source: str) -> None:
        self.counts[reason] += 1
        listed = self.samples.setdefault(reason, [])
        if len(listed) < 3:
            listed.append(source)

    def total(self) -> int:
        return sum(self.counts.values())

    def to_record(self) -> dict[str, object]:
        return {
            reason: {
                "count": count,
                "why": DROP_REASONS[reason],
                "examples": self.samples.get(reason, []),
                **(
                    {"labels": dict(sorted(self.kinds.items()))}
                    if reason == "labelled_not_bounce"
                    else {}
                ),
            }
            for reason, count in sorted(self.counts.items())
        }


@dataclass(frozen=True)
class Examples:
    items: list[Labelled]
    dropped: Dropped


def read_examples(
    sources: Iterable[LabelSource],
    store: SentLogStore | None,
    ours: OurInfrastructure,
    dropped: Dropped | None = None,
) -> Examples:
    """Evidence for every message under each source; what cannot be scored is counted in
    ``dropped`` (unreadable paths, files that are not mail, repeats of a message already read)
    rather than stopping the run: one bad row in a labels file of thousands is a count."""
    dropped = dropped or Dropped()
    found: list[Labelled] = []
    seen: dict[str, int] = {}
    for source in sources:
        for item in iter_messages([source.path]):
            if not isinstance(item, RawMessage):
                dropped.add("unreadable", f"{item.source}: {item.message}")
                continue
            digest = hashlib.blake2b(item.data, digest_size=12).hexdigest()
            if digest in seen:
                same = seen[digest] == source.label
                dropped.add("duplicate" if same else "duplicate_conflicting", item.source)
                continue
            seen[digest] = source.label
            bounce, view = analyse(item)
            if not bounce.is_mail:
                dropped.add("not_mail", item.source)
                continue
            evidence = collect(bounce, view, store, ours)
            found.append(
                Labelled(evidence, source.label, item.source, source.kind, source.group, digest)
            )
    return Examples(found, dropped)


def read_labelled(
    sources: Iterable[tuple[str, int]],
    store: SentLogStore | None,
    ours: OurInfrastructure,
) -> list[Labelled]:
    """Evidence for every message under each (path, label); unreadable paths are an error
    (for scripts that read a known corpus; the commands use :func:`read_examples`)."""
    found: list[Labelled] = []
    for path, label in sources:
        for item in iter_messages([path]):
            if not isinstance(item, RawMessage):
                raise BackscatterError(f"cannot read {item.source}: {item.message}")
            bounce, view = analyse(item)
            found.append(Labelled(collect(bounce, view, store, ours), label, item.source))
    return found


def _label_key(label: str) -> str:
    return label.strip().lower().replace("-", "_").replace(" ", "_")


def parse_label(label: str) -> tuple[int, str] | None:
    """(class, kind) for a label name; None for ``not_bounce`` and ``not_bounce/<kind>``;
    BackscatterError for anything else (the caller names the line)."""
    key = _label_key(label)
    if key in LABELS:
        return LABELS[key]
    if key == NOT_BOUNCE_LABEL or key.startswith(NOT_BOUNCE_LABEL + "/"):
        return None
    if key.startswith("spoofed_") and key != "spoofed_":
        return SPOOFED, key.removeprefix("spoofed_")
    known = "genuine, spoofed, backscatter, fake_ndr (or the corpus's genuine_bounce, "
    raise BackscatterError(f"unknown label {label.strip()!r}; use {known}spoofed_*, not_bounce/*)")


def label_value(label: str) -> int | None:
    """GENUINE or SPOOFED for a label name (``genuine``, ``spoofed``, or the corpus's
    ``genuine_bounce`` and ``spoofed_*``); None for anything else (``not_bounce/...``), which is
    not a bounce and so not something the model learns to score."""
    try:
        parsed = parse_label(label)
    except BackscatterError:
        return None
    return None if parsed is None else parsed[0]


@dataclass(frozen=True)
class LabelFile:
    sources: list[LabelSource]
    dropped: Dropped
    grouped: bool  # the file has a ``group`` column


def read_label_file(path: str) -> LabelFile:
    """A labels CSV: the header names the columns, and only ``path``, ``label`` and (optional)
    ``group`` are read, whatever else is there (the corpus's ``source`` column is provenance,
    not a path). A file whose first line is a path and a known label has no header and is
    read as ``path,label``. Relative paths are relative to the CSV's folder (or, failing that,
    to the current one). Unknown labels and a path labelled both ways are errors naming the
    line; rows labelled ``not_bounce...``, empty rows and repeated rows are counted."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [(n, row) for n, row in enumerate(csv.reader(handle), start=1) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BackscatterError(f"cannot read labels file {path}: {exc}") from None
    if not rows:
        raise BackscatterError(f"{path}: empty labels file (want a header line: path,label)")
    header = [_label_key(cell) for cell in rows[0][1]]
    if "label" in header:
        if "path" not in header:
            hint = (
                "; 'source' is provenance, not where the message is" if "source" in header else ""
            )
            raise BackscatterError(
                f"{path}: line 1 names no 'path' column (columns: {', '.join(header)}){hint}"
            )
        columns = {
            name: header.index(name) for name in ("path", "label", "group") if name in header
        }
        body = rows[1:]
    elif len(header) == 2 and _is_label(rows[0][1][1]):
        columns, body = {"path": 0, "label": 1}, rows
    else:
        raise BackscatterError(f"{path}: line 1 must name the columns, e.g. path,label")
    base = os.path.dirname(os.path.abspath(path))
    dropped = Dropped()
    sources: list[LabelSource] = []
    first_line: dict[str, tuple[int, int]] = {}
    for line, row in body:
        cells = {name: row[i].strip() if i < len(row) else "" for name, i in columns.items()}
        if not cells["path"] or not cells["label"]:
            dropped.add("unlabelled_row", f"{path}:{line}")
            continue
        try:
            parsed = parse_label(cells["label"])
        except BackscatterError as exc:
            raise BackscatterError(f"{path}: line {line}: {exc}") from None
        if parsed is None:
            dropped.add("labelled_not_bounce", cells["path"])
            dropped.kinds[_label_key(cells["label"])] += 1
            continue
        where = _resolve(cells["path"], base)
        if where in first_line:
            earlier, label = first_line[where]
            if label != parsed[0]:
                raise BackscatterError(
                    f"{path}: line {line} labels {cells['path']} {CLASS_NAMES[parsed[0]]}, "
                    f"line {earlier} {CLASS_NAMES[label]}"
                )
            dropped.add("duplicate", f"{path}:{line}")
            continue
        first_line[where] = (line, parsed[0])
        sources.append(LabelSource(where, parsed[0], parsed[1], cells.get("group", "")))
    return LabelFile(sources, dropped, "group" in columns)


def _is_label(text: str) -> bool:
    try:
        parse_label(text)
    except BackscatterError:
        return False
    return True


def _resolve(path: str, base: str) -> str:
    if os.path.isabs(path):
        return path
    beside = os.path.join(base, path)
    return beside if os.path.lexists(beside) or not os.path.lexists(path) else path


def labels_from_csv(path: str) -> list[tuple[str, int]]:
    """``(path, class)`` for every row of a labels file that names a bounce (see
    :func:`read_label_file`)."""
    return [(s.path, s.label) for s in read_label_file(path).sources]


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
        variants = training_views(item)
        if not variants:
            continue
        evidence.extend(variants)
        labels.extend([item.label] * len(variants))
        groups.extend([group_of.setdefault(item.source, len(group_of))] * len(variants))
    return evidence, np.array(labels), np.array(groups)


def training_views(item: Labelled) -> list[Evidence]:
    """The views of one message the model learns from; none for the two kinds it cannot
    learn (see :func:`not_trained_reason`)."""
    if not_trained_reason(item) is not None:
        return []
    e = item.evidence
    variants = _views(e)
    if item.label == SPOOFED and e.bounce.is_bounce and not _contradicts_itself(e):
        variants = [v for v in variants if v.sentlog_given or v.config_given]
    return variants


#: Why a scored message is not learnt from; keys are stable (JSON), the text for people.
NOT_TRAINED_REASONS = {
    "not_a_bounce_as_read": "read as not a bounce (no bounce claim, or a kind the parser "
    "names: auto-reply, feedback report, success DSN): scored as not_bounce, never learnt",
    "spoofed_without_evidence": "spoofed, but a well-formed report and no sent-log or config: "
    "backscatter is a real server's bounce, and without --sent-log (or --config) nothing "
    "tells it from a genuine one; learning it as spoofed would teach the model to distrust "
    "genuine bounces. Scored (and counted as missed), not learnt",
}


def not_trained_reason(item: Labelled) -> str | None:
    """A key of :data:`NOT_TRAINED_REASONS`, or None when the message is learnt from.

    A well-formed report (real backscatter, or a careful forgery) cannot be told from a
    genuine bounce without a sent-log or config; calling such reports spoofed would cost
    trust in every genuine one, so they are learnt only with that evidence."""
    e = item.evidence
    if not e.claims_bounce:
        return "not_a_bounce_as_read"
    if (
        item.label == SPOOFED
        and e.bounce.is_bounce
        and not (e.sentlog_given or e.config_given)
        and not _contradicts_itself(e)
    ):
        return "spoofed_without_evidence"
    return None


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


def learnable_counts(items: Sequence[Labelled]) -> dict[int, int]:
    """Messages per class the model can learn from (see :func:`not_trained_reason`)."""
    counts = {GENUINE: 0, SPOOFED: 0}
    for item in items:
        if not_trained_reason(item) is None:
            counts[item.label] += 1
    return counts


def out_of_fold(
    items: Sequence[Labelled], seed: int = 0, folds: int = 5, threshold: float = 0.5
) -> tuple[list[Verdict], int]:
    """Every message's verdict from a model trained without it (grouped k-fold), exactly as
    ``backscatter evaluate`` would give it: the Detector's verdict on the message as read
    (with the sent-log and config given, if any), one per message, not per training view.

    Folds split groups (a labels file's ``group`` column, else the message), stratified by
    class and by whether the message can be learnt from, so every training fold has both
    classes to learn. Returns the verdicts and the number of folds used."""
    from backscatter.detector import Detector

    learnable = [not_trained_reason(item) is None for item in items]
    strata = np.array([2 * item.label + int(ok) for item, ok in zip(items, learnable, strict=True)])
    ids: dict[str, int] = {}
    groups = np.array([ids.setdefault(item.group or item.source, len(ids)) for item in items])
    per_class = [
        len({groups[i] for i, item in enumerate(items) if item.label == label and learnable[i]})
        for label in (GENUINE, SPOOFED)
    ]
    folds = min(folds, *per_class)
    if folds < 2:
        raise BackscatterError(
            "cross-validation needs two genuine and two spoofed messages (or groups) to learn from"
        )
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    verdicts: list[Verdict | None] = [None] * len(items)

    with warnings.catch_warnings():  # a stratum smaller than the folds is expected here
        warnings.simplefilter("ignore", UserWarning)
        splits = list(splitter.split(np.zeros(len(items)), strata, groups))
    for train, test in splits:
        training = [items[i] for i in train]
        if min(learnable_counts(training).values()) == 0:
            raise BackscatterError(
                "a cross-validation fold has nothing of one class to learn from; "
                "label more messages (or use fewer, larger groups)"
            )
        detector = Detector(fit(training, seed), threshold=threshold)
        judged = detector.judge_many([items[i].evidence for i in test])
        for index, verdict in zip(test, judged, strict=True):
            verdicts[index] = verdict
    return [v for v in verdicts if v is not None], folds


def cross_validated(
    items: Sequence[Labelled], seed: int = 0, folds: int = 5, threshold: float = 0.5
) -> dict[str, object]:
    """Out-of-fold metrics, one row per message (see :func:`out_of_fold`)."""
    verdicts, _ = out_of_fold(items, seed, folds, threshold)
    return verdict_metrics(items, verdicts, threshold)


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


def scored_probability(verdict: Verdict) -> float:
    """The probability a verdict puts on spoofed; 0 for not_bounce (never called spoofed)."""
    return verdict.spoofed_probability if verdict.verdict != "not_bounce" else 0.0


def verdict_metrics(
    items: Sequence[Labelled], verdicts: Sequence[Verdict], threshold: float = 0.5
) -> dict[str, object]:
    """:func:`metrics` over the Detector's verdicts, plus what a user asks next: how many of
    each kind were caught, what the verdicts were, and how many were read as not a bounce."""
    truth = np.array([item.label for item in items], dtype=int)
    probability = np.array([scored_probability(v) for v in verdicts], dtype=float)
    report = metrics(truth, probability, threshold)
    caught: dict[str, list[int]] = {}
    for item, verdict in zip(items, verdicts, strict=True):
        if item.label == SPOOFED:
            row = caught.setdefault(item.kind or "spoofed", [0, 0])
            row[0] += verdict.verdict == "spoofed"
            row[1] += 1
    report["caught_by_kind"] = {
        kind: {"caught": c, "of": n} for kind, (c, n) in sorted(caught.items())
    }
    report["verdicts"] = {
        CLASS_NAMES[label]: dict(
            sorted(
                Counter(
                    v.verdict for i, v in zip(items, verdicts, strict=True) if i.label == label
                ).items()
            )
        )
        for label in (GENUINE, SPOOFED)
    }
    return report


def metrics(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5
) -> dict[str, object]:
    """Spoofed is the positive class. AUCs need both classes (None otherwise); rates are
    shares of their class (0 of 0 is 0)."""
    labels = np.asarray(labels, dtype=int)
    predicted = (probabilities >= threshold).astype(int)
    matrix = confusion_matrix(labels, predicted, labels=[GENUINE, SPOOFED])
    both = len(set(labels.tolist())) > 1
    precision = float(precision_score(labels, predicted, zero_division=0))
    recall = float(recall_score(labels, predicted, zero_division=0))
    return {
        "examples": len(labels),
        "genuine": int(matrix[0].sum()),
        "spoofed": int(matrix[1].sum()),
        "threshold": threshold,
        "roc_auc": float(roc_auc_score(labels, probabilities)) if both else None,
        "pr_auc": float(average_precision_score(labels, probabilities)) if both else None,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "genuine_called_spoofed": float(matrix[0, 1] / max(1, matrix[0].sum())),
        "spoofed_caught": float(matrix[1, 1] / max(1, matrix[1].sum())),
        "brier": float(brier_score_loss(labels, probabilities)) if len(labels) else None,
        "confusion_matrix": matrix.tolist(),
    }


def source_pairs(genuine: Sequence[str], spoofed: Sequence[str]) -> list[tuple[str, int]]:
    return [(p, GENUINE) for p in genuine] + [(p, SPOOFED) for p in spoofed]


def mailbox_sources(genuine: Sequence[str], spoofed: Sequence[str]) -> list[LabelSource]:
    """``--genuine`` and ``--spoofed`` paths as label sources (kind: the class)."""
    return [LabelSource(p, GENUINE, "genuine") for p in genuine] + [
        LabelSource(p, SPOOFED, "spoofed") for p in spoofed
    ]
