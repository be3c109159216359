"""What ``backscatter train`` and ``evaluate`` print: the same metrics, named for what they
are, beside the account of every example that was read.

Both commands build one record (:func:`build_record`) and print it as JSON or as a table
(:func:`render_table`), so a figure in one means the same as in the other. A record holds
one or more evaluations (``cross_validated``, ``in_sample``, ``this_model``), each the
metrics of :func:`backscatter.model.train.verdict_metrics` and a sentence saying how the
scores were obtained: an in-sample AUC beside an out-of-fold one is only honest when each
says which it is.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backscatter.model.train import (
    CLASS_NAMES,
    NOT_TRAINED_REASONS,
    Dropped,
    Labelled,
    not_trained_reason,
)

if TYPE_CHECKING:
    from backscatter.detector import Verdict

Record = dict[str, Any]

#: The file beside a trained model that lists the messages it learnt from (digests only), so
#: ``evaluate`` can say when its figures are in-sample.
TRAINING_SUFFIX = ".training.json"
#: Where explanations are folded.
WIDTH = 100


def training_file(model: Path) -> Path:
    return model.with_suffix(TRAINING_SUFFIX)


def model_name(model: Path | None) -> str:
    """What plots and tables call a model: its file's stem (the shipped one by its name)."""
    from backscatter.model.persist import SHIPPED_NAME

    return (model.name if model is not None else SHIPPED_NAME).removesuffix(".skops")


def evaluation(method: str, metrics: Record) -> Record:
    return {"method": method, "metrics": metrics}


def examples_record(
    items: Sequence[Labelled], verdicts: Sequence[Verdict], training: bool
) -> Record:
    """Counts of what was scored (per class and kind), what the Detector read as not a
    bounce (scored 0, by what it took the message for), and, for training, what was learnt
    from and why the rest was not."""
    scored = {name: 0 for name in CLASS_NAMES.values()}
    kinds: Counter[str] = Counter()
    not_bounce: dict[str, Counter[str]] = {}
    for item, verdict in zip(items, verdicts, strict=True):
        scored[CLASS_NAMES[item.label]] += 1
        kinds[item.kind or CLASS_NAMES[item.label]] += 1
        if verdict.verdict == "not_bounce":
            read_as = verdict.bounce.format or "no bounce claim"
            not_bounce.setdefault(CLASS_NAMES[item.label], Counter())[read_as] += 1
    record: Record = {
        "scored": {
            **scored,
            "by_kind": dict(sorted(kinds.items(), key=lambda kv: (kv[0] != "genuine", kv[0]))),
        },
        "read_as_not_bounce": {k: dict(sorted(v.items())) for k, v in not_bounce.items()},
    }
    if training:
        learnt = {name: 0 for name in CLASS_NAMES.values()}
        skipped: dict[str, Counter[str]] = {}
        for item in items:
            reason = not_trained_reason(item)
            if reason is None:
                learnt[CLASS_NAMES[item.label]] += 1
            else:
                skipped.setdefault(reason, Counter())[item.kind or CLASS_NAMES[item.label]] += 1
        record["trained_on"] = learnt
        record["not_trained_on"] = {
            reason: {
                "count": sum(by_kind.values()),
                "by_kind": dict(sorted(by_kind.items())),
                "why": NOT_TRAINED_REASONS[reason],
            }
            for reason, by_kind in sorted(skipped.items())
        }
    return record


def build_record(
    command: str,
    model: str,
    threshold: float,
    evaluations: dict[str, Record],
    examples: Record,
    dropped: Dropped,
    notes: Sequence[str] = (),
) -> Record:
    return {
        "command": command,
        "model": model,
        "threshold": threshold,
        "positive_class": "spoofed",
        "evaluations": evaluations,
        "examples": examples,
        "dropped": dropped.to_record(),
        "notes": list(notes),
    }


def to_json(record: Record) -> str:
    return json.dumps(record, indent=2)


def _rate(count: int, total: int) -> str:
    return f"{count}/{total} ({count / total:.1%})" if total else "-"


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _metric_rows(m: Record) -> list[tuple[str, str]]:
    matrix = m["confusion_matrix"]
    genuine, spoofed = sum(matrix[0]), sum(matrix[1])
    called = matrix[0][1] + matrix[1][1]
    rows = [
        ("Messages scored (genuine / spoofed)", f"{genuine} / {spoofed}"),
        ("ROC AUC", _number(m["roc_auc"])),
        ("PR AUC (average precision, spoofed)", _number(m["pr_auc"])),
        ("Precision (of those called spoofed)", _rate(matrix[1][1], called)),
        ("Recall: spoofed caught", _rate(matrix[1][1], spoofed)),
    ]
    rows += [
        (f"  {kind.replace('_', ' ')} caught", _rate(c["caught"], c["of"]))
        for kind, c in m.get("caught_by_kind", {}).items()
        if len(m.get("caught_by_kind", {})) > 1 or kind != "spoofed"
    ]
    rows += [
        ("F1 (spoofed)", _number(m["f1"])),
        ("Genuine called spoofed (FP rate)", _rate(matrix[0][1], genuine)),
        ("Brier score (calibration, 0 = best)", _number(m["brier"], 4)),
        ("Confusion: genuine -> genuine/spoofed", f"{matrix[0][0]} / {matrix[0][1]}"),
        ("Confusion: spoofed -> genuine/spoofed", f"{matrix[1][0]} / {matrix[1][1]}"),
    ]
    for name, counts in m.get("verdicts", {}).items():
        listed = ", ".join(f"{n} {verdict}" for verdict, n in counts.items()) or "-"
        rows.append((f"Verdicts for {name}", listed))
    return rows


def render_table(record: Record) -> str:
    """The record for people: the metrics side by side, then how each was obtained, then
    every example accounted for."""
    evaluations: dict[str, Record] = record["evaluations"]
    names = list(evaluations)
    columns = [dict(_metric_rows(evaluations[n]["metrics"])) for n in names]
    labels = [label for label, _ in _metric_rows(evaluations[names[0]]["metrics"])]
    headers = [n.replace("_", "-") for n in names]
    width = max(len(label) for label in labels) + 2
    cells = [
        max(len(h), *(len(c.get(label, "")) for label in labels)) + 2
        for h, c in zip(headers, columns, strict=True)
    ]
    lines = [
        f"Model: {record['model']}    threshold: spoofed at p >= {record['threshold']:.2f}"
        "    positive class: spoofed",
        "",
        (
            "Metric".ljust(width) + "".join(h.ljust(w) for h, w in zip(headers, cells, strict=True))
        ).rstrip(),
    ]
    for label in labels:
        values = "".join(c.get(label, "").ljust(w) for c, w in zip(columns, cells, strict=True))
        lines.append((label.ljust(width) + values).rstrip())
    lines.append("")
    for name, header in zip(names, headers, strict=True):
        lines += _wrap(f"{header}: {evaluations[name]['method']}")
    lines += ["", *_example_lines(record["examples"], record["dropped"])]
    if record["notes"]:
        lines.append("")
        for note in record["notes"]:
            lines += _wrap(f"Note: {note}")
    return "\n".join(lines) + "\n"


def _example_lines(examples: Record, dropped: Record) -> list[str]:
    scored = examples["scored"]
    kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in scored["by_kind"].items())
    lines = [f"Examples scored: {scored['genuine'] + scored['spoofed']} ({kinds})"]
    for label, read_as in examples["read_as_not_bounce"].items():
        listed = ", ".join(f"{n} {kind}" for kind, n in read_as.items())
        lines += _wrap(
            f"  labelled {label} but read as not a bounce ({listed}): "
            "in the figures with p = 0 (never called spoofed)"
        )
    if "trained_on" in examples:
        learnt = examples["trained_on"]
        lines.append(f"Trained on: {learnt['genuine']} genuine, {learnt['spoofed']} spoofed")
        for reason in examples["not_trained_on"].values():
            kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in reason["by_kind"].items())
            lines += _wrap(f"  not trained on: {reason['count']} ({kinds}): {reason['why']}")
    total = sum(entry["count"] for entry in dropped.values())
    lines.append(f"Not scored: {total}" + (" (counted here, in no figure above)" if total else ""))
    for entry in dropped.values():
        detail = ""
        if "labels" in entry:
            detail = " [" + ", ".join(f"{k} {n}" for k, n in entry["labels"].items()) + "]"
        example = f"; e.g. {entry['examples'][0]}" if entry["examples"] else ""
        lines += _wrap(f"  {entry['count']:>5}  {entry['why']}{detail}{example}", indent=9)
    return lines


def _wrap(text: str, indent: int = 4) -> list[str]:
    """Long explanations folded for a terminal (paths are not broken)."""
    return textwrap.wrap(text, width=WIDTH, subsequent_indent=" " * indent, break_long_words=False)
