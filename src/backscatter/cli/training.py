"""``backscatter train``, ``evaluate`` and ``suppressions``: models from your own mail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from backscatter.cli.app import app
from backscatter.cli.parse import PathsArgument
from backscatter.detector import GENUINE, Detector
from backscatter.errors import BackscatterError
from backscatter.features import load_config
from backscatter.mail import RawMessage, iter_messages
from backscatter.model.persist import load, save, shipped_model_path
from backscatter.model.train import (
    Labelled,
    cross_validated,
    fit,
    labels_from_csv,
    metrics,
    read_labelled,
    source_pairs,
)
from backscatter.sentlog import open_sent_log

Sources = Annotated[
    list[str] | None, typer.Option(help="Mailboxes, Maildirs or folders of this kind.")
]
LabelsOption = Annotated[
    Path | None, typer.Option("--labels", help="CSV mapping source (or path) to label.")
]
SentLogOption = Annotated[
    str | None,
    typer.Option("--sent-log", help="Sent-log: a SQLite file or a postgresql:// DSN."),
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="Our infrastructure (TOML).")]


def _labelled(
    genuine: list[str] | None,
    spoofed: list[str] | None,
    labels: Path | None,
    sent_log: str | None,
    config: Path | None,
) -> list[Labelled]:
    pairs = source_pairs(genuine or [], spoofed or [])
    if labels is not None:
        base = labels.resolve().parent
        pairs += [
            (p if Path(p).is_absolute() or Path(p).exists() else str(base / p), label)
            for p, label in labels_from_csv(str(labels))
        ]
    if not pairs:
        raise BackscatterError("give --genuine and --spoofed mailboxes, or --labels")
    store = open_sent_log(sent_log, readonly=True) if sent_log is not None else None
    try:
        return read_labelled(pairs, store, load_config(config))
    finally:
        if store is not None:
            store.close()


@app.command("train")
def train_command(
    out: Annotated[Path, typer.Option("--out", help="Where to write the model (.skops).")],
    genuine: Sources = None,
    spoofed: Sources = None,
    labels: LabelsOption = None,
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
) -> None:
    """Train a model on labelled mail; prints cross-validated metrics."""
    items = _labelled(genuine, spoofed, labels, sent_log, config)
    report = cross_validated(items, folds=min(5, _smallest_class(items)))
    save(fit(items), out)
    typer.echo(json.dumps(report, indent=2))
    typer.echo(f"wrote {out} from {len(items)} messages", err=True)


@app.command("evaluate")
def evaluate_command(
    genuine: Sources = None,
    spoofed: Sources = None,
    labels: LabelsOption = None,
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="Model file (default: shipped).")
    ] = None,
    plots: Annotated[
        Path | None,
        typer.Option(
            "--plots",
            help="Folder for roc.png, precision_recall.png and calibration.png (reliability).",
        ),
    ] = None,
    threshold: Annotated[float, typer.Option("--threshold")] = 0.5,
) -> None:
    """Measure a model on labelled mail: ROC AUC, precision, recall, confusion matrix."""
    items = _labelled(genuine, spoofed, labels, sent_log, config)
    detector = Detector(load(model or shipped_model_path()), threshold=threshold)
    verdicts = detector.judge_many([item.evidence for item in items])
    truth = np.array([item.label for item in items])
    probability = np.array(
        [v.spoofed_probability if v.verdict != "not_bounce" else 0.0 for v in verdicts]
    )
    report = metrics(truth, probability, threshold)
    typer.echo(json.dumps(report, indent=2))
    if plots is not None:
        from backscatter.model.plots import save_curves

        for written in save_curves(truth, probability, plots):
            typer.echo(f"wrote {written}", err=True)


@app.command("suppressions")
def suppressions_command(
    paths: PathsArgument,
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    model: Annotated[Path | None, typer.Option("--model")] = None,
) -> None:
    """Addresses to remove from a list: hard-bounced recipients of genuine bounces only.

    Spoofed bounces (backscatter, fake NDRs) never reach this list, so a forger cannot
    unsubscribe your readers by bouncing mail you never sent.
    """
    detector = Detector.load(model, sent_log, config)
    found: dict[str, str] = {}
    batch: list[RawMessage] = []
    for item in iter_messages(paths):
        if not isinstance(item, RawMessage):
            typer.echo(f"backscatter: cannot read {item.source}: {item.message}", err=True)
            continue
        batch.append(item)
        if len(batch) == 256:
            _collect_hard(detector, batch, found)
            batch = []
    _collect_hard(detector, batch, found)
    for address in sorted(found):
        typer.echo(f"{address},{found[address]}")


def _collect_hard(detector: Detector, batch: list[RawMessage], found: dict[str, str]) -> None:
    for verdict in detector.score_many(batch) if batch else []:
        if verdict.verdict == GENUINE:
            for recipient in verdict.bounce.recipients:
                if recipient.hard:
                    found.setdefault(recipient.address.lower(), recipient.reason)


def _smallest_class(items: list[Labelled]) -> int:
    counts = [sum(1 for i in items if i.label == label) for label in (0, 1)]
    if min(counts) < 2:
        raise BackscatterError("training needs at least two genuine and two spoofed messages")
    return min(counts)
