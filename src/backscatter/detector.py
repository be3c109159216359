"""The core every integration wraps: raw message in, :class:`Verdict` out.

Load once, score many. Thread-safe: the model is read-only and sent-log lookups are
serialised on one connection.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from backscatter.certain import certain_forgery
from backscatter.features import (
    CATALOG,
    BounceFeatures,
    Evidence,
    OurInfrastructure,
    collect,
    load_config,
)
from backscatter.mail import Bounce, RawMessage
from backscatter.mail.parser import analyse
from backscatter.model.explain import (
    contributions,
    explain,
    fired_rules,
    mean_weights,
    outside_sent_log,
)
from backscatter.model.fast import LinearScorer
from backscatter.model.persist import load, shipped_model_path
from backscatter.sentlog import SentLogStore, SentLogUnavailable, open_sent_log

GENUINE, SPOOFED, NOT_BOUNCE, UNKNOWN = "genuine", "spoofed", "not_bounce", "unknown"
VERDICTS = (GENUINE, SPOOFED, UNKNOWN, NOT_BOUNCE)

#: Features whose value can be a positive sign of forgery, and the test for it.
_SIGNS = tuple((i, f.forgery) for i, f in enumerate(CATALOG) if f.forgery is not None)
#: Where a lean towards spoofed without any sign is capped: just under the threshold.
_BELOW = 1e-3
_NO_SIGN = (
    "no sign of forgery (no link, form or attachment, no contradicting status, "
    "no sent-log or BATV evidence against it)"
)
_UNREAD = "claims to be a delivery report, but its layout could not be read"


@dataclass(frozen=True)
class Envelope:
    """The SMTP envelope, for callers that see mail before final delivery (milters, filters).

    A bounce is known by its envelope (``MAIL FROM:<>``, the address it was sent back to); in
    a mailbox these are the Return-Path and X-Original-To headers the delivery agent stamps.
    At SMTP time they are not there yet, so they are given here and scored as if stamped.
    """

    sender: str | None = None  # "" for the null sender <>; None when unknown
    recipients: tuple[str, ...] = ()

    def stamp(self) -> bytes:
        lines = []
        if self.sender is not None:
            lines.append(f"Return-Path: <{self.sender}>\n")
        if self.recipients:
            lines.append(f"X-Original-To: {self.recipients[0]}\n")
        return "".join(lines).encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class Verdict:
    """Every parse field, plus the verdict, its probability and the facts behind it."""

    bounce: Bounce
    verdict: str
    spoofed_probability: float
    evidence: tuple[str, ...] = ()
    matched: str | None = None  # how the sent-log matched, if it did
    coverage: str | None = None  # covered, before_log, after_log, undated; None: no sent-log
    rules: tuple[str, ...] = ()  # the rules that fired (Feature.rule), strongest first
    threshold: float = 0.5  # the detector's: spoofed at or above it (headers say "required")

    @property
    def outside_sent_log(self) -> bool:
        """A sent-log was given but cannot speak for this bounce (undated, or outside its span)."""
        return outside_sent_log(self.coverage) is not None

    def to_record(self) -> dict[str, Any]:
        record = self.bounce.to_record()
        record.update(
            verdict=self.verdict,
            spoofed_probability=round(self.spoofed_probability, 4),
            evidence=list(self.evidence),
            rules=list(self.rules),
            sent_log_match=self.matched,
            sent_log_coverage=self.coverage,
        )
        return record


def _not_a_failure(item: Evidence) -> bool:
    """Not scored: mail that does not claim to be a bounce, a kind the parser named (an
    auto-reply, a feedback report, a success DSN...), and files that are not mail at all."""
    bounce = item.bounce
    return (
        not item.claims_bounce
        or not bounce.is_mail
        or (not bounce.is_bounce and bounce.format is not None)
    )


def _failed(item: Evidence, what: str, exc: Exception, threshold: float = 0.5) -> Verdict:
    error = f"{what}: {type(exc).__name__}: {exc}"[:300]
    bounce = replace(item.bounce, error=item.bounce.error or error)
    return Verdict(bounce, UNKNOWN, 0.0, (error,), threshold=threshold)


def _matched(evidence: Evidence) -> str | None:
    return evidence.sent.how if evidence.sent is not None and evidence.sent.found else None


class Detector:
    def __init__(
        self,
        model: Pipeline,
        sent_log: SentLogStore | None = None,
        config: OurInfrastructure | None = None,
        threshold: float = 0.5,
    ) -> None:
        self.model = model
        self.scorer = LinearScorer(model)
        self.weights = mean_weights(model)  # for the evidence, computed once
        self.sent_log = sent_log
        self.config = config or OurInfrastructure()
        self.threshold = threshold
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model: str | Path | None = None,
        sent_log: str | Path | None = None,
        config: str | Path | None = None,
        threshold: float = 0.5,
    ) -> Detector:
        """Defaults: the shipped model, no sent-log, no config. ``sent_log`` is a SQLite
        file or a ``postgresql://`` DSN."""
        store = open_sent_log(sent_log, readonly=True) if sent_log is not None else None
        return cls(load(model or shipped_model_path()), store, load_config(config), threshold)

    def score(
        self, data: bytes | RawMessage, source: str = "-", envelope: Envelope | None = None
    ) -> Verdict:
        """One message's verdict. Never raises on mail: unreadable input is ``not_bounce``
        with the parse error in its record."""
        raw = data if isinstance(data, RawMessage) else RawMessage(source, data, len(data))
        if envelope is not None:
            stamped = envelope.stamp() + raw.data
            raw = RawMessage(raw.source, stamped, len(stamped), raw.truncated)
        return self.score_many([raw], [envelope])[0]

    def score_many(
        self, messages: Sequence[RawMessage], envelopes: Sequence[Envelope | None] = ()
    ) -> list[Verdict]:
        """Score a batch: parsing per message, the model once for the whole batch (faster).

        A message that breaks evidence gathering (hostile charsets, encodings, headers) is
        ``unknown`` with the error in its record: never an exception that loses the batch,
        and never ``not_bounce``, which a filter would let through untagged. A shared
        sent-log that cannot be reached is no fault of the mail: that one raises
        (:class:`SentLogUnavailable`), for the milter to apply its ``on_error``.
        ``envelopes``, when given, is the SMTP envelope of each message (None: unknown), for
        the rules that only an envelope can show (:mod:`backscatter.certain`)."""
        gathered: list[Evidence] = []
        kept: list[Envelope | None] = []
        failed: dict[int, Verdict] = {}
        for index, raw in enumerate(messages):
            bounce, view = analyse(raw)
            try:
                with self._lock:
                    gathered.append(collect(bounce, view, self.sent_log, self.config))
                kept.append(envelopes[index] if index < len(envelopes) else None)
            except SentLogUnavailable:
                raise
            except Exception as exc:  # mail is hostile; see the docstring
                failed[index] = _failed(
                    Evidence(bounce, False), "could not gather evidence", exc, self.threshold
                )
        judged = iter(self.judge_many(gathered, kept))
        return [failed[i] if i in failed else next(judged) for i in range(len(messages))]

    def judge(self, evidence: Evidence) -> Verdict:
        """The verdict for gathered evidence (exposed for batch and evaluation code)."""
        return self.judge_many([evidence])[0]

    def judge_many(
        self, evidence: Sequence[Evidence], envelopes: Sequence[Envelope | None] = ()
    ) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(evidence)
        scored = []
        for index, item in enumerate(evidence):
            if _not_a_failure(item):
                verdicts[index] = Verdict(
                    item.bounce, NOT_BOUNCE, 0.0, (), _matched(item), threshold=self.threshold
                )
            elif certain := self._certain(item, envelopes[index] if envelopes else None):
                verdicts[index] = certain
            else:
                scored.append(index)
        rows, scored = self._rows(evidence, scored, verdicts)
        if scored:
            scaled = self.scorer.scale(rows)  # once, for both uses
            probabilities = self.scorer.probabilities(scaled)
            pushes = contributions(self.weights, scaled)
            for position, index in enumerate(scored):
                item = evidence[index]
                try:
                    verdicts[index] = self._verdict(
                        item, rows[position], float(probabilities[position]), pushes[position]
                    )
                except Exception as exc:  # an explanation must not cost a verdict
                    verdicts[index] = _failed(
                        item, "could not explain the verdict", exc, self.threshold
                    )
        return [v for v in verdicts if v is not None]

    def _certain(self, item: Evidence, envelope: Envelope | None) -> Verdict | None:
        """Spoofed without the model, when a rule that needs none holds (see
        :mod:`backscatter.certain`): probability 1.0, that rule and its sentence alone."""
        known = envelope or Envelope()
        found = certain_forgery(item, self.config, known.sender, known.recipients)
        if found is None:
            return None
        coverage = item.sent.coverage if item.sent is not None else None
        return Verdict(
            item.bounce,
            SPOOFED,
            1.0,
            (found.sentence,),
            _matched(item),
            coverage,
            (found.rule,),
            self.threshold,
        )

    def _rows(
        self, evidence: Sequence[Evidence], scored: list[int], verdicts: list[Verdict | None]
    ) -> tuple[np.ndarray, list[int]]:
        """Feature rows for the batch; when one message breaks a feature (hostile mail finds
        what review misses), that message alone is ``unknown`` with the error."""
        features = self.model.named_steps["features"]
        # A pipeline set to another output container (pandas) keeps scikit-learn's transform.
        plain = isinstance(features, BounceFeatures) and not getattr(
            features, "_sklearn_output_config", None
        )
        transform = features.rows if plain else features.transform
        try:
            return transform([evidence[i] for i in scored]), scored
        except Exception:
            kept, rows = [], []
            for index in scored:
                try:
                    rows.append(transform([evidence[index]])[0])
                    kept.append(index)
                except Exception as exc:
                    verdicts[index] = _failed(
                        evidence[index], "could not compute features", exc, self.threshold
                    )
            return np.array(rows).reshape(len(rows), len(CATALOG)), kept

    def _verdict(
        self, item: Evidence, row: np.ndarray, probability: float, pushes: np.ndarray
    ) -> Verdict:
        """Spoofed needs the model's lean *and* a positive sign of forgery; a lean without
        one is unknown, with the probability capped under the threshold (absence of what
        genuine reports carry is not evidence: unknown layouts lack it too)."""
        leans = probability >= self.threshold
        values = row.tolist()  # Python floats: a numpy scalar per read costs ten times more
        signed = any(test(values[i]) for i, test in _SIGNS)
        sentences = explain(item, pushes, leans and signed)
        if leans and signed:
            verdict = SPOOFED
        elif leans or not item.bounce.is_bounce:
            verdict = UNKNOWN
            probability = min(probability, max(self.threshold - _BELOW, 0.0))
            sentences = [_UNREAD if not item.bounce.is_bounce else _NO_SIGN, *sentences][:3]
        else:
            verdict = GENUINE
        coverage = item.sent.coverage if item.sent is not None else None
        note = outside_sent_log(coverage)
        if note:
            sentences = [*sentences[:2], note]
        return Verdict(
            item.bounce,
            verdict,
            probability,
            tuple(sentences),
            _matched(item),
            coverage,
            fired_rules(row, pushes),
            self.threshold,
        )

    def close(self) -> None:
        if self.sent_log is not None:
            self.sent_log.close()
