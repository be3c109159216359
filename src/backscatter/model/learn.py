"""Learning from a site's corrections (``backscatter learn``), as ``sa-learn`` does for
SpamAssassin and ``rspamc learn`` for rspamd: the user files the messages the model got
wrong into a genuine and a spoofed folder, and the site model is refitted from the shipped
model's generated training data plus those corrections.

- **What is kept.** A corrections store beside the model (``site-model.corrections.jsonl``):
  one JSON line per corrected message with its fingerprint (BLAKE2b of its bytes), label,
  kind, where it was read, when, and its feature vectors (the message as read, and each
  training view, see :func:`backscatter.model.train.training_views`). No mail text is kept:
  the vectors are all a refit needs. A message corrected twice is one line (latest label
  wins). Vectors of another version's feature catalogue are not used (counted, re-file them).
- **The base.** The shipped model learnt from ``backscatter.synth`` mail (seed 1, the counts
  of scripts/train_default.py) and the development corpus; the corpus is not on a user's
  machine, so the base here is the generated part, regenerated deterministically.
- **Weights.** Each correction row weighs ``CORRECTION_SHARE`` of the base's rows divided
  among the correction rows (at least 1, at most ``MAX_WEIGHT``): 30 corrections against
  11,000 generated rows then count for a fifth of the data instead of 0.3 % of it, and a
  single correction cannot outweigh a whole layout of generated mail.
- **Figures.** Before/after on the corrections themselves (the model being replaced vs the
  new one), on a fixed held-back quarter of them (chosen by fingerprint, so a message stays
  on its side across runs: the shipped model vs a model trained without them), and on the
  shipped evaluation set (generated with ``EVAL_SEED``, which no model trains on).
- **Refusal.** A new model worse than the shipped one on the evaluation set (ROC AUC lower,
  or more genuine called spoofed, beyond ``AUC_TOLERANCE`` / ``FP_TOLERANCE``) is not
  written unless forced: the shipped model is the floor a site model must not go below.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from backscatter.errors import BackscatterError
from backscatter.features import CATALOG, BounceFeatures, load_config
from backscatter.model.train import (
    GENUINE,
    SPOOFED,
    Dropped,
    Labelled,
    augmented_groups,
    fit_rows,
    metrics,
    not_trained_reason,
    read_labelled,
    source_pairs,
    training_views,
    verdict_metrics,
)

SITE_MODEL_NAME = "site-model.skops"
STORE_SUFFIX = ".corrections.jsonl"
BASE_SEED = 1  # scripts/train_default.py's seed: the shipped model's generated mail
EVAL_SEED = 101  # the shipped evaluation set: a seed no model is trained on
BASE_GENUINE = 1500  # scripts/train_default.py's counts (spoofed: 800 + 800)
CORRECTION_SHARE = 0.2
MAX_WEIGHT = 50.0
EVAL_GENUINE = 300  # the evaluation set's genuine bounces (and 160 + 160 spoofed)
AUC_TOLERANCE = 0.005  # a new model may lose this much ROC AUC on the evaluation set
FP_TOLERANCE = 0.01  # and call this much more of its genuine bounces spoofed (3 of 300)
HELD_BACK = 4  # one correction in this many (by fingerprint) is held back


def site_model_path() -> Path:
    """Where ``learn`` writes, and ``serve --model`` may read, the site's model."""
    import platformdirs

    return platformdirs.user_data_path("backscatter") / SITE_MODEL_NAME


def store_path(model: Path) -> Path:
    """``site-model.skops`` -> ``site-model.corrections.jsonl`` (beside it)."""
    return model.with_name(model.stem + STORE_SUFFIX)


def features_key() -> str:
    """The feature catalogue a vector was computed with (names, in order)."""
    names = ",".join(feature.name for feature in CATALOG)
    return hashlib.blake2b(names.encode(), digest_size=6).hexdigest()


@dataclass(frozen=True)
class Correction:
    """One corrected message as the store keeps it: no text, only what refitting needs."""

    digest: str
    label: int
    kind: str
    source: str
    when: str
    not_trained: str | None  # a key of NOT_TRAINED_REASONS, or None when learnt from
    scored: bool  # the Detector scores it (it claims to be a bounce)
    first: list[float]  # the vector of the message as read
    rows: list[list[float]]  # the vectors of its training views (none if not learnt)
    features: str = field(default_factory=features_key)

    @property
    def held_back(self) -> bool:
        return int(self.digest[:8], 16) % HELD_BACK == 0


def correction_of(item: Labelled, when: str) -> Correction:
    transformer = BounceFeatures().fit([])
    views = training_views(item)
    return Correction(
        digest=item.digest,
        label=item.label,
        kind=item.kind,
        source=item.source,
        when=when,
        not_trained=not_trained_reason(item),
        scored=_scored(item),
        first=transformer.transform([item.evidence])[0].tolist(),
        rows=transformer.transform(views).tolist() if views else [],
    )


def _scored(item: Labelled) -> bool:
    """The Detector scores it (see detector._not_a_failure): it claims to be a bounce, is
    mail, and is not a kind the parser names as no failure (auto-reply, success DSN...)."""
    bounce = item.evidence.bounce
    named_not_failure = not bounce.is_bounce and bounce.format is not None
    return bool(item.evidence.claims_bounce and bounce.is_mail and not named_not_failure)


class CorrectionsStore:
    """The JSON-lines file of corrections, rewritten whole (it is small) and atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> tuple[dict[str, Correction], int]:
        """Corrections by fingerprint (a later line wins), and how many were skipped
        (another feature catalogue, or a line that is not a correction)."""
        found: dict[str, Correction] = {}
        skipped = 0
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return found, 0
        except (OSError, UnicodeDecodeError) as exc:
            raise BackscatterError(
                f"cannot read the corrections store {self.path}: {exc}"
            ) from None
        key = features_key()
        for line in lines:
            try:
                correction = Correction(**json.loads(line))
            except (ValueError, TypeError):
                skipped += 1
                continue
            if correction.features != key:
                skipped += 1
                continue
            found.pop(correction.digest, None)
            found[correction.digest] = correction
        return found, skipped

    def write(self, corrections: Sequence[Correction]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".corrections-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                for correction in corrections:
                    out.write(json.dumps(asdict(correction)) + "\n")
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def merge(old: dict[str, Correction], new: Sequence[Correction]) -> dict[str, Correction]:
    """The store after this run: a message corrected again keeps only its latest label."""
    merged = dict(old)
    for correction in new:
        merged.pop(correction.digest, None)
        merged[correction.digest] = correction
    return merged


@dataclass(frozen=True)
class Rows:
    """Training rows: vectors, labels, cross-validation groups, weights."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    weight: np.ndarray

    def __add__(self, other: Rows) -> Rows:
        offset = int(self.groups.max()) + 1 if len(self.groups) else 0
        return Rows(
            np.vstack([self.x, other.x]),
            np.concatenate([self.y, other.y]),
            np.concatenate([self.groups, other.groups + offset]),
            np.concatenate([self.weight, other.weight]),
        )


def generated_items(folder: Path, genuine: int, seed: int) -> list[Labelled]:
    """Generated mail read with its sent-log and config, as scripts/train_default.py reads
    it; spoofed in the shipped proportion (800 backscatter and 800 fake NDRs per 1500)."""
    from backscatter.sentlog import SqliteSentLog
    from backscatter.sentlog.importers import Tally
    from backscatter.sentlog.importers.csv_rows import read_csv
    from backscatter.synth import generate

    spoofed = max(1, genuine * 8 // 15)
    generate(folder, genuine=genuine, backscatter=spoofed, fake=spoofed, seed=seed)
    with SqliteSentLog(folder / "sent.db") as store:
        store.add(read_csv(str(folder / "sentlog.csv"), Tally()))
        return read_labelled(
            source_pairs([str(folder / "genuine.mbox")], [str(folder / "spoofed.mbox")]),
            store,
            load_config(folder / "config.toml"),
        )


def base_rows(genuine: int = BASE_GENUINE, seed: int = BASE_SEED) -> Rows:
    with tempfile.TemporaryDirectory(prefix="backscatter-learn-") as folder:
        items = generated_items(Path(folder), genuine, seed)
    evidence, labels, groups = augmented_groups(items)
    x = BounceFeatures().fit([]).transform(evidence)
    return Rows(x, labels, groups, np.ones(len(labels)))


def correction_rows(corrections: Sequence[Correction], base_count: int) -> Rows:
    learnt = [c for c in corrections if c.rows]
    vectors = [row for c in learnt for row in c.rows]
    weight = correction_weight(base_count, len(vectors))
    return Rows(
        np.array(vectors, dtype=np.float64).reshape(len(vectors), len(CATALOG)),
        np.array([c.label for c in learnt for _ in c.rows], dtype=int),
        np.array([i for i, c in enumerate(learnt) for _ in c.rows], dtype=int),
        np.full(len(vectors), weight),
    )


def correction_weight(base_count: int, correction_count: int) -> float:
    """Per correction row: together they weigh CORRECTION_SHARE of the base (see above)."""
    if correction_count == 0:
        return 1.0
    return float(min(MAX_WEIGHT, max(1.0, CORRECTION_SHARE * base_count / correction_count)))


def probabilities(model: Pipeline, vectors: Sequence[Sequence[float]]) -> np.ndarray:
    """P(spoofed) for feature vectors (the pipeline after its stateless feature step)."""
    if not vectors:
        return np.zeros(0)
    return np.asarray(model[1:].predict_proba(np.array(vectors, dtype=np.float64))[:, 1])


@dataclass
class Outcome:
    """What a learn run found: the three comparisons, the verdict on the new model."""

    corrections: dict[str, Any]
    held_back: dict[str, Any]
    evaluation: dict[str, Any]
    model: Pipeline
    store: list[Correction]
    refused: str | None
    counts: dict[str, Any]


def learn(
    items: Sequence[Labelled],
    store: CorrectionsStore,
    current: Pipeline,
    current_name: str,
    shipped: Pipeline,
    generated: int = BASE_GENUINE,
    threshold: float = 0.5,
) -> Outcome:
    """Merge this run's corrections into the store, refit, and measure (nothing written)."""
    from backscatter.detector import Detector

    when = datetime.now(UTC).isoformat(timespec="seconds")
    old, stale = store.read()
    merged = list(merge(old, [correction_of(item, when) for item in items]).values())
    learnt = [c for c in merged if c.rows]
    if not learnt:
        raise BackscatterError(
            "nothing to learn from: no correction is a bounce the model can learn "
            "(well-formed spoofed reports need --sent-log or --config)"
        )
    base = base_rows(generated)
    base_count = len(base.y)
    model = fit_rows_of(base + correction_rows(learnt, base_count))

    scored = [c for c in merged if c.scored]
    corrections = _comparison(
        scored,
        {current_name: probabilities(current, [c.first for c in scored])},
        probabilities(model, [c.first for c in scored]),
        threshold,
    )
    held = [c for c in scored if c.held_back]
    trial_rows = correction_rows([c for c in learnt if not c.held_back], base_count)
    trial = fit_rows_of(base + trial_rows) if len(held) else None
    held_back = _comparison(
        held,
        {"shipped": probabilities(shipped, [c.first for c in held])},
        probabilities(trial, [c.first for c in held]) if trial is not None else np.zeros(0),
        threshold,
        "without_them",
    )

    with tempfile.TemporaryDirectory(prefix="backscatter-eval-") as folder:
        evaluation_set = generated_items(Path(folder), EVAL_GENUINE, EVAL_SEED)
    evidence = [item.evidence for item in evaluation_set]
    evaluation = {
        name: verdict_metrics(
            evaluation_set, Detector(m, threshold=threshold).judge_many(evidence), threshold
        )
        for name, m in (("shipped", shipped), ("new", model))
    }
    counts = {
        "this_run": len(items),
        "stored": len(merged),
        "learnt_from": len(learnt),
        "not_learnt": dict(Counter(c.not_trained for c in merged if c.not_trained)),
        "held_back": len(held),
        "skipped_in_store": stale,
        "base_rows": base_count,
        "correction_weight": correction_weight(base_count, sum(len(c.rows) for c in learnt)),
        "evaluation_set": len(evaluation_set),
    }
    return Outcome(
        corrections,
        held_back,
        evaluation,
        model,
        merged,
        worse_reason(evaluation["shipped"], evaluation["new"]),
        counts,
    )


def fit_rows_of(rows: Rows) -> Pipeline:
    return fit_rows(rows.x, rows.y, rows.groups, rows.weight, seed=BASE_SEED)


def _comparison(
    corrections: Sequence[Correction],
    before: dict[str, np.ndarray],
    after: np.ndarray,
    threshold: float,
    after_name: str = "new",
) -> dict[str, Any]:
    """Metrics per model over the same corrections, plus how many each got wrong."""
    truth = np.array([c.label for c in corrections], dtype=int)
    result: dict[str, Any] = {}
    for name, probability in [*before.items(), (after_name, after)]:
        if not len(truth):
            continue
        m = metrics(truth, probability, threshold)
        m["caught_by_kind"] = _caught(corrections, probability, threshold)
        m["wrong"] = int(((probability >= threshold).astype(int) != truth).sum())
        result[name] = m
    return result


def _caught(
    corrections: Sequence[Correction], probability: np.ndarray, threshold: float
) -> dict[str, dict[str, int]]:
    caught: dict[str, list[int]] = {}
    for c, p in zip(corrections, probability, strict=True):
        if c.label == SPOOFED:
            row = caught.setdefault(c.kind or "spoofed", [0, 0])
            row[0] += int(p >= threshold)
            row[1] += 1
    return {kind: {"caught": n, "of": of} for kind, (n, of) in sorted(caught.items())}


def worse_reason(shipped: dict[str, Any], new: dict[str, Any]) -> str | None:
    """One plain line when the new model is worse than the shipped one on its evaluation
    set beyond the tolerance; None when it is not."""
    auc_before, auc_after = shipped["roc_auc"] or 0.0, new["roc_auc"] or 0.0
    if auc_after < auc_before - AUC_TOLERANCE:
        return (
            f"the new model is worse on the shipped evaluation set: ROC AUC {auc_after:.4f} "
            f"against the shipped model's {auc_before:.4f}"
        )
    fp_before, fp_after = shipped["genuine_called_spoofed"], new["genuine_called_spoofed"]
    if fp_after > fp_before + FP_TOLERANCE:
        return (
            "the new model is worse on the shipped evaluation set: it calls "
            f"{fp_after:.2%} of genuine bounces spoofed, the shipped model {fp_before:.2%}"
        )
    return None


def report_record(outcome: Outcome, model: str, threshold: float, dropped: Any) -> dict[str, Any]:
    """The run as one JSON-able record: three sections in train/evaluate's record shape."""
    from backscatter.model.report import build_record, evaluation

    c = outcome.counts
    methods = {
        "corrections": (
            outcome.corrections,
            {
                "before": "the model being replaced (the shipped one, or the site model a "
                "previous run wrote) on every stored correction the Detector scores, as read",
                "new": "the new model on the same corrections; it learnt from them (in-sample)",
            },
        ),
        "held_back": (
            outcome.held_back,
            {
                "before": f"the shipped model on the held-back corrections (one in {HELD_BACK}, "
                "chosen by fingerprint, so a message stays on its side across runs)",
                "new": "a model trained on the generated set and the other corrections only: "
                "out of sample",
            },
        ),
    }
    sections: dict[str, Any] = {}
    for key, (found, method) in methods.items():
        sections[key] = (
            build_record(
                "learn",
                model,
                threshold,
                {
                    name: evaluation(method["new" if index else "before"], m)
                    for index, (name, m) in enumerate(found.items())
                },
                _examples(found),
                dropped if key == "corrections" else Dropped(),
            )
            if found
            else None
        )
    sections["evaluation_set"] = build_record(
        "learn",
        model,
        threshold,
        {
            name: evaluation(
                f"the shipped evaluation set: {c['evaluation_set']} messages generated with "
                f"seed {EVAL_SEED}, which no model is trained on",
                m,
            )
            for name, m in outcome.evaluation.items()
        },
        _examples(outcome.evaluation),
        Dropped(),
    )
    return {"command": "learn", "model": model, "sections": sections, "counts": c,
            "refused": outcome.refused}  # fmt: skip


def _examples(found: dict[str, Any]) -> dict[str, Any]:
    first = next(iter(found.values()))
    kinds = {kind: n["of"] for kind, n in first.get("caught_by_kind", {}).items()}
    return {
        "scored": {
            "genuine": first["genuine"],
            "spoofed": first["spoofed"],
            "by_kind": {"genuine": first["genuine"], **kinds},
        },
        "read_as_not_bounce": {},
    }


def render(record: dict[str, Any]) -> str:
    """The sections as train/evaluate print their table, each under a heading."""
    from backscatter.model.report import render_table

    titles = {
        "corrections": "On the corrections",
        "held_back": "On the held-back corrections",
        "evaluation_set": "On the shipped evaluation set",
    }
    out: list[str] = []
    for key, title in titles.items():
        section = record["sections"][key]
        out += [f"== {title} ==", ""]
        if section is None:
            out += ["(none: no correction in this part)", ""]
            continue
        wrong = {name: e["metrics"].get("wrong") for name, e in section["evaluations"].items()}
        out.append(render_table(section))
        if key != "evaluation_set":
            total = (
                section["examples"]["scored"]["genuine"] + section["examples"]["scored"]["spoofed"]
            )
            out.append("Wrong: " + ", ".join(f"{name} {n} of {total}" for name, n in wrong.items()))
            out.append("")
    c = record["counts"]
    not_learnt = ", ".join(f"{n} {why}" for why, n in c["not_learnt"].items()) or "none"
    out.append(
        f"Corrections: {c['this_run']} read this run, {c['stored']} in the store, "
        f"{c['learnt_from']} learnt from (not learnt: {not_learnt}); "
        f"{c['skipped_in_store']} stored lines skipped (another feature set). "
        f"Base: {c['base_rows']} generated rows at weight 1, each correction row at weight "
        f"{c['correction_weight']:.1f}."
    )
    return "\n".join(out) + "\n"


__all__ = [
    "GENUINE",
    "SPOOFED",
    "Correction",
    "CorrectionsStore",
    "Outcome",
    "learn",
    "site_model_path",
    "store_path",
]
