#!/usr/bin/env python3
"""Grouped evaluation: train on generated mail plus the real corpus minus one group, score it.

A model fitted on the whole corpus scores that corpus almost perfectly and says nothing about
mail it has not seen. Here every real message is scored by a model that never saw its group:

- ``folder``: leave one corpus folder out (sisimai, backscatter-sfml, fake-ndr-sfml, ...).
- ``family``: within sisimai/, leave MTA families out (``lhost-exim-04.eml`` -> exim,
  ``rhost-aol-03.eml`` -> aol, anything else by its name without the number), pooled into
  ``--family-groups`` groups of similar size by GroupKFold.

Each fold trains, like scripts/train_default.py, on generated mail (backscatter.synth) plus
the real messages outside the fold, then scores the fold with and without a sent-log. The
sent-log of a folder is built as scripts/eval_corpus.py builds it: one row per recipient of
each message its genuine bounces return; a message is read with its own folder's sent-log
(the left-out bounces' originals plus their folder-mates'). Labels: genuine_bounce is genuine,
spoofed_* spoofed, not_bounce* is never trained on but is scored (how many come out
not_bounce). The verdicts are the Detector's, so a changed verdict rule is measured as is.

    python scripts/eval_grouped.py ../shared/corpus [--json FILE] [--generated 1500]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from backscatter.detector import NOT_BOUNCE, SPOOFED, UNKNOWN, VERDICTS, Detector, Verdict
from backscatter.features import Evidence, load_config
from backscatter.model.train import (
    GENUINE,
    Labelled,
    fit,
    label_value,
    metrics,
    read_labelled,
    source_pairs,
)
from backscatter.sentlog import SqliteSentLog
from backscatter.sentlog.importers import Tally
from backscatter.sentlog.importers.csv_rows import read_csv
from backscatter.synth import generate

KINDS = ("genuine", "backscatter", "fake_ndr", "not_bounce")
LOGS = ("with_sent_log", "without_sent_log")


@dataclass(frozen=True)
class CorpusMessage:
    """One labelled corpus file, read once with its folder's sent-log and once without."""

    path: str
    label: str
    with_log: Evidence
    without_log: Evidence

    @property
    def folder(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def family(self) -> str:
        return family_of(self.path)

    @property
    def kind(self) -> str:
        if self.label.startswith("not_bounce"):
            return "not_bounce"
        return "genuine" if label_value(self.label) == GENUINE else self.label.split("_", 1)[1]

    def training(self) -> Labelled | None:
        """The message as a training example (with its sent-log), or None for non-bounces."""
        value = label_value(self.label)
        return None if value is None else Labelled(self.with_log, value, self.path)


def family_of(path: str) -> str:
    """``sisimai/lhost-exim-04.eml`` -> ``exim``; names without a number keep their name."""
    name = path.rsplit("/", 1)[-1].removesuffix(".eml")
    for prefix in ("lhost-", "rhost-"):
        name = name.removeprefix(prefix)
    stem, _, number = name.rpartition("-")
    return stem if stem and number.isdigit() else name


def read_corpus(corpus: Path) -> list[CorpusMessage]:
    """Every labelled file, with evidence gathered with and without its folder's sent-log."""
    from eval_corpus import sent_rows  # the sent-log exactly as eval_corpus.py builds it

    with (corpus / "labels.csv").open(newline="") as handle:
        labels = {row["path"]: row["label"] for row in csv.DictReader(handle)}
    folders: dict[str, dict[str, str]] = {}
    for path, label in labels.items():
        folders.setdefault(path.split("/", 1)[0], {})[path] = label
    found: list[CorpusMessage] = []
    with tempfile.TemporaryDirectory() as scratch:
        for folder, members in folders.items():
            with SqliteSentLog(Path(scratch) / f"{folder}.db") as store:
                store.add(sent_rows(corpus, members))
                found += [
                    CorpusMessage(
                        path, label, _first(corpus / path, store), _first(corpus / path, None)
                    )
                    for path, label in members.items()
                ]
    return found


def _first(path: Path, store: SqliteSentLog | None) -> Evidence:
    """The file's evidence; a file holding an mbox of several counts as its first message
    (one label per file)."""
    return read_labelled([(str(path), GENUINE)], store, load_config(None))[0].evidence


def generated_items(
    folder: Path, seed: int = 1, genuine: int = 1500, backscatter: int = 800, fake: int = 800
) -> tuple[dict[str, int], list[Labelled]]:
    """Generated training mail read with its sent-log and config (as train_default.py does)."""
    counts = generate(folder, genuine=genuine, backscatter=backscatter, fake=fake, seed=seed)
    database = folder / "sent.db"
    database.unlink(missing_ok=True)
    with SqliteSentLog(database) as store:
        store.add(read_csv(str(folder / "sentlog.csv"), Tally()))
        items = read_labelled(
            source_pairs([str(folder / "genuine.mbox")], [str(folder / "spoofed.mbox")]),
            store,
            load_config(folder / "config.toml"),
        )
    return counts, items


def folds(
    messages: Sequence[CorpusMessage], family_groups: int
) -> dict[str, list[tuple[str, list[int]]]]:
    """Scheme -> [(fold name, indices of the left-out messages)]."""
    by_folder: dict[str, list[int]] = {}
    for index, message in enumerate(messages):
        by_folder.setdefault(message.folder, []).append(index)
    sisimai = by_folder.get("sisimai", [])
    families = [messages[i].family for i in sisimai]
    family_folds: list[tuple[str, list[int]]] = []
    splits = min(family_groups, len(set(families)))
    if splits >= 2:
        for _, test in GroupKFold(n_splits=splits).split(sisimai, groups=families):
            names = sorted({families[i] for i in test})
            family_folds.append(("+".join(names), [sisimai[i] for i in test]))
    return {"folder": list(by_folder.items()), "family": family_folds}


def summary(messages: Sequence[CorpusMessage], verdicts: Sequence[Verdict]) -> dict[str, object]:
    """Counts per kind of what the Detector called them, ROC AUC where both classes exist, and
    the messages it got wrong (for the JSON: which files to read)."""
    counts = {kind: 0 for kind in KINDS}
    called = {kind: dict.fromkeys(VERDICTS, 0) for kind in KINDS}
    truth, probability = [], []
    for message, verdict in zip(messages, verdicts, strict=True):
        counts[message.kind] += 1
        called[message.kind][verdict.verdict] += 1
        value = label_value(message.label)
        if value is not None:
            truth.append(value)
            probability.append(
                verdict.spoofed_probability if verdict.verdict != NOT_BOUNCE else 0.0
            )
    roc_auc = metrics(np.array(truth), np.array(probability))["roc_auc"] if truth else None
    return {
        "messages": counts,
        "roc_auc": roc_auc,
        "genuine_called_spoofed": called["genuine"][SPOOFED],
        "genuine_called_not_bounce": called["genuine"][NOT_BOUNCE],
        "genuine_called_unknown": called["genuine"][UNKNOWN],
        "backscatter_caught": called["backscatter"][SPOOFED],
        "fake_ndr_caught": called["fake_ndr"][SPOOFED],
        "not_bounce_called_not_bounce": called["not_bounce"][NOT_BOUNCE],
        "verdicts": called,
        "misses": [
            f"{m.path} ({m.kind}) -> {v.verdict}"
            for m, v in zip(messages, verdicts, strict=True)
            if v.verdict != _expected(m.kind)
        ],
    }


def _expected(kind: str) -> str:
    return {"genuine": "genuine", "not_bounce": NOT_BOUNCE}.get(kind, SPOOFED)


def evaluate_grouped(
    corpus: Path,
    seed: int = 1,
    generated: int = 1500,
    family_groups: int = 10,
    schemes: Sequence[str] = ("folder", "family"),
    real: bool = True,
) -> dict[str, object]:
    """Every fold of every scheme, and each scheme pooled (all its left-out messages).

    ``real=False`` trains on the generated mail alone (one model for every fold): the recipe
    before real mail was used, kept as the baseline the real mail has to beat."""
    started = time.perf_counter()
    messages = read_corpus(corpus)
    spoofed = generated * 8 // 15  # the shipped proportions: 1500 genuine, 800 + 800 spoofed
    with tempfile.TemporaryDirectory() as scratch:
        counts, synthetic = generated_items(Path(scratch), seed, generated, spoofed, spoofed)
    result: dict[str, object] = {
        "settings": {
            "seed": seed,
            "generated": counts,
            "family_groups": family_groups,
            "corpus_messages": len(messages),
            "trained_on_real_mail": real,
        },
        "schemes": {},
    }
    generated_only = None if real else Detector(fit(synthetic, seed=seed))
    for scheme, scheme_folds in folds(messages, family_groups).items():
        if scheme not in schemes:
            continue
        rows: list[dict[str, object]] = []
        pooled: dict[str, list] = {"messages": [], **{log: [] for log in LOGS}}
        for name, left_out in scheme_folds:
            held = set(left_out)
            training = [m.training() for i, m in enumerate(messages) if i not in held]
            extra = [item for item in training if item is not None] if real else []
            detector = generated_only or Detector(fit(synthetic + extra, seed=seed))
            test = [messages[i] for i in left_out]
            row: dict[str, object] = {"fold": name, "trained_on_real": len(extra)}
            pooled["messages"] += test
            for log in LOGS:
                evidence = [m.with_log if log == LOGS[0] else m.without_log for m in test]
                verdicts = detector.judge_many(evidence)
                pooled[log] += verdicts
                row[log] = summary(test, verdicts)
            rows.append(row)
        result["schemes"][scheme] = {
            "folds": rows,
            "pooled": {log: summary(pooled["messages"], pooled[log]) for log in LOGS},
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def markdown(result: dict[str, object]) -> str:
    """One table per scheme: a row per fold and sent-log setting, then the pooled rows."""
    lines: list[str] = []
    header = (
        "| fold | sent-log | genuine / backscatter / fake NDR / not-bounce | ROC AUC | "
        "genuine called spoofed | genuine called not_bounce | genuine called unknown | "
        "backscatter caught | fake NDRs caught | not-bounce called not_bounce |"
    )
    for scheme, data in result["schemes"].items():
        lines += [f"**{scheme}** (left-out group -> scored by a model that never saw it)", ""]
        lines += [header, "|" + "---|" * 10]
        rows = [(r["fold"], r) for r in data["folds"]] + [("**pooled**", data["pooled"])]
        for name, row in rows:
            for log in LOGS:
                lines.append(_row(name, log, row[log]))
        lines.append("")
    return "\n".join(lines)


def _row(name: str, log: str, s: dict) -> str:
    n = s["messages"]
    auc = "n/a" if s["roc_auc"] is None else f"{s['roc_auc']:.3f}"
    cells = [
        name,
        "yes" if log == LOGS[0] else "no",
        " / ".join(str(n[k]) for k in KINDS),
        auc,
        _rate(s["genuine_called_spoofed"], n["genuine"]),
        _rate(s["genuine_called_not_bounce"], n["genuine"]),
        _rate(s["genuine_called_unknown"], n["genuine"]),
        _rate(s["backscatter_caught"], n["backscatter"]),
        _rate(s["fake_ndr_caught"], n["fake_ndr"]),
        _rate(s["not_bounce_called_not_bounce"], n["not_bounce"]),
    ]
    return "| " + " | ".join(cells) + " |"


def _rate(count: int, total: int) -> str:
    return "-" if total == 0 else f"{count}/{total} ({count / total:.1%})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="../shared/corpus", type=Path)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--generated", type=int, default=1500, help="generated genuine bounces (spoofed: 16/15)"
    )
    parser.add_argument("--family-groups", type=int, default=10)
    parser.add_argument("--scheme", choices=("folder", "family"), action="append")
    parser.add_argument(
        "--no-real", action="store_true", help="baseline: train on generated mail only"
    )
    args = parser.parse_args()
    if not (args.corpus / "labels.csv").is_file():
        print(f"eval_grouped: no labelled corpus at {args.corpus}; nothing to do", file=sys.stderr)
        return 2
    result = evaluate_grouped(
        args.corpus,
        args.seed,
        args.generated,
        args.family_groups,
        args.scheme or ("folder", "family"),
        real=not args.no_real,
    )
    print(markdown(result))
    print(f"{result['seconds']} s", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
