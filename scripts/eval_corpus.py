#!/usr/bin/env python3
"""Score the shared corpus with a model, with and without a sent-log, and print the metrics.

The sent-log is built the way a real sender's would be: one row per recipient of each
message the genuine bounces return (their Message-ID, recipients and sender from the
corpus's expected answers, sent an hour before the bounce when no date is quoted).

    python scripts/eval_corpus.py ../shared/corpus [--model FILE.skops] [--json] [--misses]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from backscatter.detector import NOT_BOUNCE, SPOOFED, Detector
from backscatter.features import collect
from backscatter.mail.parser import analyse
from backscatter.model.persist import load, shipped_model_path
from backscatter.model.train import metrics
from backscatter.sentlog import SentRecipient, SqliteSentLog
from backscatter.sentlog.matching import bounce_time


def sent_rows(corpus: Path, labels: dict[str, str]) -> list[SentRecipient]:
    expected = json.loads((corpus / "expected-sisimai.json").read_text())
    rows: list[SentRecipient] = []
    times: list[datetime] = []
    for path, label in labels.items():
        bounce = analyse((corpus / path).read_bytes(), path)[0]  # read and parsed once
        times.append(bounce_time(bounce))
        if label != "genuine_bounce":
            continue
        entries = [e for e in expected.get(path, []) if e.get("recipient")]
        recipients = [e["recipient"] for e in entries] or [r.address for r in bounce.recipients]
        message_id = next(
            (e["original_message_id"] for e in entries if e.get("original_message_id")),
            bounce.original_message_id,
        )
        sender = next(
            (e["addresser"] for e in entries if e.get("addresser")), bounce.original_from or ""
        )
        when = times[-1] - timedelta(hours=1)
        rows.extend(SentRecipient(message_id, when, sender.lower(), r.lower()) for r in recipients)
    return rows + unrelated_sends(times)


def unrelated_sends(times: list[datetime], limit: int = 50_000) -> list[SentRecipient]:
    """What else a real sender's log holds: mail to other people, spread evenly from a month
    before the earliest bounce to a day after the latest, so that the log covers every
    message scored (a log that does not cover a bounce is no evidence either way, and a
    test of backscatter with an empty log would measure nothing)."""
    if not times:
        return []
    start, end = min(times) - timedelta(days=30), max(times) + timedelta(days=1)
    step = max(timedelta(hours=6), (end - start) / limit)
    count = int((end - start) / step) + 1
    return [
        SentRecipient(
            f"unrelated-{n}@news.sent.example",
            start + n * step,
            "news@sent.example",
            f"reader{n % 4999}@elsewhere.example",
        )
        for n in range(count)
    ]


def evaluate(corpus: Path, model_path: Path) -> dict[str, object]:
    labels = {r["path"]: r["label"] for r in csv.DictReader((corpus / "labels.csv").open())}
    model = load(model_path)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder, SqliteSentLog(Path(folder) / "sent.db") as store:
        store.add(sent_rows(corpus, labels))
        for name, log in (("with_sent_log", store), ("without_sent_log", None)):
            detector = Detector(model, log)
            truth, probability, verdicts, kinds = [], [], [], []
            started = time.perf_counter()
            for path, label in labels.items():
                bounce, view = analyse((corpus / path).read_bytes(), path)
                verdict = detector.judge(collect(bounce, view, log))
                verdicts.append(verdict.verdict)
                kinds.append(label)
                if label.startswith("not_bounce"):
                    continue
                truth.append(int(label.startswith("spoofed")))
                probability.append(
                    verdict.spoofed_probability if verdict.verdict != NOT_BOUNCE else 0.0
                )
            seconds = time.perf_counter() - started
            summary = metrics(np.array(truth), np.array(probability))
            fake = [v for v, k in zip(verdicts, kinds, strict=True) if k == "spoofed_fake_ndr"]
            backscatter = [
                v for v, k in zip(verdicts, kinds, strict=True) if k == "spoofed_backscatter"
            ]
            summary["fake_ndr_caught"] = sum(v == SPOOFED for v in fake) / len(fake)
            summary["backscatter_caught"] = sum(v == SPOOFED for v in backscatter) / len(
                backscatter
            )
            summary["not_bounce_verdicts"] = {
                v: sum(
                    1
                    for x, k in zip(verdicts, kinds, strict=True)
                    if k.startswith("not_bounce") and x == v
                )
                for v in ("not_bounce", "genuine", "spoofed")
            }
            summary["messages_per_second"] = len(labels) / seconds
            summary["misses"] = [
                f"{path} ({label}) -> {verdict}"
                for (path, label), verdict in zip(labels.items(), verdicts, strict=True)
                if (label == "genuine_bounce" and verdict != "genuine")
                or (label.startswith("spoofed") and verdict != SPOOFED)
            ]
            results[name] = summary
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="../shared/corpus", type=Path)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    if not (args.corpus / "labels.csv").is_file():
        print(f"eval_corpus: no labelled corpus at {args.corpus}", file=sys.stderr)
        return 2
    results = evaluate(args.corpus, args.model or shipped_model_path())
    if args.json:
        print(
            json.dumps(
                {k: {n: v for n, v in r.items() if n != "misses"} for k, r in results.items()},
                indent=2,
            )
        )
        return 0
    for name, summary in results.items():
        print(f"== {name}")
        for key in (
            "roc_auc",
            "genuine_called_spoofed",
            "spoofed_caught",
            "fake_ndr_caught",
            "backscatter_caught",
            "precision",
            "recall",
        ):
            print(f"  {key:24} {summary[key]:.4f}")
        print(f"  {'confusion [[g->g g->s] [s->g s->s]]':24} {summary['confusion_matrix']}")
        print(f"  {'not_bounce verdicts':24} {summary['not_bounce_verdicts']}")
        print(f"  {'speed':24} {summary['messages_per_second']:,.0f} messages/s (one core)")
        if args.misses:
            for miss in summary["misses"]:
                print("    " + miss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
