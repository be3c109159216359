"""``backscatter train`` and ``evaluate``: models from your own mail, measured in the same
terms (model/report.py builds what both print)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backscatter.cli.app import app
from backscatter.cli.engine import (
    ChunkOption,
    DaskJobsOption,
    EngineName,
    EngineOption,
    SchedulerOption,
)
from backscatter.cli.options import ConfigOption, ModelOption, SentLogOption, ThresholdOption
from backscatter.errors import BackscatterError

if TYPE_CHECKING:
    from backscatter.batch.cluster import Engine
    from backscatter.model.train import Examples, Labelled

Sources = Annotated[
    list[str] | None,
    typer.Option(help="Mailboxes, Maildirs or folders of this kind (repeat for several)."),
]
LabelsOption = Annotated[
    Path | None,
    typer.Option(
        "--labels",
        help="CSV with a header naming 'path' and 'label' columns (others ignored; optional "
        "'group' for cross-validation). Labels: genuine, spoofed, backscatter, fake_ndr, "
        "not_bounce/... (skipped), or the corpus's genuine_bounce and spoofed_*.",
    ),
]


class ReportFormat(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[
    ReportFormat, typer.Option("--format", "-f", help="table (for people) or json.")
]


def _examples(
    genuine: list[str] | None,
    spoofed: list[str] | None,
    labels: Path | None,
    sent_log: str | None,
    config: Path | None,
    engine: Engine | None = None,
) -> tuple[Examples, bool]:
    """Every labelled message read (on a Dask cluster when ``engine`` is given), and whether
    the labels file named groups."""
    from backscatter.features import load_config
    from backscatter.model.train import Dropped, mailbox_sources, read_examples, read_label_file
    from backscatter.sentlog import open_sent_log

    sources = mailbox_sources(genuine or [], spoofed or [])
    dropped, grouped = Dropped(), False
    if labels is not None:
        label_file = read_label_file(str(labels))
        sources += label_file.sources
        dropped, grouped = label_file.dropped, label_file.grouped
    if not sources and not dropped.total():
        raise BackscatterError("give --genuine and --spoofed mailboxes, or --labels")
    if engine is not None:
        from backscatter.batch import run

        return run.examples(sources, sent_log, config, dropped, engine), grouped
    store = open_sent_log(sent_log, readonly=True) if sent_log is not None else None
    try:
        return read_examples(sources, store, load_config(config), dropped), grouped
    finally:
        if store is not None:
            store.close()


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise BackscatterError("--threshold is a probability between 0 and 1")


def _notes(items: list[Labelled], sent_log: str | None) -> list[str]:
    from backscatter.model.train import not_trained_reason

    unlearnable = sum(not_trained_reason(i) == "spoofed_without_evidence" for i in items)
    if sent_log is None and unlearnable:
        return [
            f"no --sent-log: {unlearnable} spoofed messages are well-formed reports (backscatter "
            "is a real server's bounce of mail you never sent); without a sent-log nothing "
            "tells them from genuine bounces, so expect them called genuine. Give --sent-log."
        ]
    return []


def _emit(record: dict[str, object], output_format: ReportFormat) -> None:
    from backscatter.model.report import render_table, to_json

    typer.echo(
        to_json(record) if output_format is ReportFormat.json else render_table(record), nl=False
    )
    if output_format is ReportFormat.json:
        typer.echo()


@app.command("train", epilog="Example: backscatter train --labels labels.csv --out mine.skops")
def train_command(
    out: Annotated[Path, typer.Option("--out", help="Where to write the model (.skops).")],
    genuine: Sources = None,
    spoofed: Sources = None,
    labels: LabelsOption = None,
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    threshold: ThresholdOption = 0.5,
    output_format: FormatOption = ReportFormat.table,
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    jobs: DaskJobsOption = 0,
    chunk_mb: ChunkOption = 64.0,
) -> None:
    """Train a model on labelled mail and report it: cross-validated (each message scored by
    a model trained without it) beside in-sample, and every example not used, with why.

    Also writes MODEL.training.json beside the model (digests of the messages it learnt
    from, no text), so that evaluate can say when its figures are in-sample. With --engine
    dask the messages are read and their evidence gathered on the cluster; the model is
    fitted here (the same model as a local run).
    """
    from backscatter.cli.engine import dask_engine
    from backscatter.detector import Detector
    from backscatter.model.persist import save
    from backscatter.model.report import (
        build_record,
        evaluation,
        examples_record,
        model_name,
        training_file,
    )
    from backscatter.model.train import (
        fit,
        learnable_counts,
        not_trained_reason,
        out_of_fold,
        verdict_metrics,
    )

    _check_threshold(threshold)
    cluster = dask_engine(engine, scheduler, jobs, chunk_mb, output_format.value)
    examples, grouped = _examples(genuine, spoofed, labels, sent_log, config, cluster)
    items = examples.items
    learnable = learnable_counts(items)
    if min(learnable.values()) < 2:
        raise BackscatterError(
            "training needs at least two genuine and two spoofed messages it can learn from "
            f"(found {learnable[0]} genuine, {learnable[1]} spoofed; well-formed spoofed reports "
            "are learnt only with --sent-log or --config)"
        )
    held_out, folds = out_of_fold(items, threshold=threshold)
    model = fit(items)
    save(model, out)
    in_sample = Detector(model, threshold=threshold).judge_many([i.evidence for i in items])
    by = "the labels file's group column" if grouped else "message"
    evaluations = {
        "cross_validated": evaluation(
            f"{folds}-fold cross-validated, grouped by {by} (a message's sent-log/config views "
            "stay in one fold; repeated messages are dropped): each message scored by a model "
            "trained without it. This is the figure to expect on new mail.",
            verdict_metrics(items, held_out, threshold),
        ),
        "in_sample": evaluation(
            "the written model scored on the very messages it learnt from (optimistic; "
            "`backscatter evaluate` on this mail with this model reports these).",
            verdict_metrics(items, in_sample, threshold),
        ),
    }
    name = model_name(out)
    record = build_record(
        "train",
        name,
        threshold,
        evaluations,
        examples_record(items, held_out, training=True),
        examples.dropped,
        _notes(items, sent_log),
    )
    learnt = [item for item in items if not_trained_reason(item) is None]
    training_file(out).write_text(
        json.dumps({"model": name, "messages": sorted(i.digest for i in learnt)}) + "\n"
    )
    _emit(record, output_format)
    typer.echo(f"wrote {out} (and {training_file(out).name}) from {len(items)} messages", err=True)


@app.command(
    "evaluate",
    epilog="Example: backscatter evaluate --labels labels.csv --model mine.skops --plots out/",
)
def evaluate_command(
    genuine: Sources = None,
    spoofed: Sources = None,
    labels: LabelsOption = None,
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    plots: Annotated[
        Path | None,
        typer.Option(
            "--plots",
            help="Folder for roc.png, precision_recall.png and calibration.png (reliability).",
        ),
    ] = None,
    threshold: ThresholdOption = 0.5,
    output_format: FormatOption = ReportFormat.table,
) -> None:
    """Measure a model on labelled mail, in the same terms as train: ROC and PR AUC,
    precision, recall and F1 for spoofed, genuine called spoofed, calibration (Brier), the
    confusion matrix, and every example not used, with why."""
    import numpy as np

    from backscatter.detector import Detector
    from backscatter.model.persist import load, shipped_model_path
    from backscatter.model.report import (
        build_record,
        evaluation,
        examples_record,
        model_name,
        training_file,
    )
    from backscatter.model.train import scored_probability, verdict_metrics

    _check_threshold(threshold)
    path = model or shipped_model_path()
    detector = Detector(load(path), threshold=threshold)
    examples, _ = _examples(genuine, spoofed, labels, sent_log, config)
    items = examples.items
    if not items:
        raise BackscatterError("no labelled bounce to evaluate (see the counts with --labels)")
    verdicts = detector.judge_many([item.evidence for item in items])
    key, method = _provenance(items, training_file(path), shipped=model is None)
    name = model_name(model)
    record = build_record(
        "evaluate",
        name,
        threshold,
        {key: evaluation(method, verdict_metrics(items, verdicts, threshold))},
        examples_record(items, verdicts, training=False),
        examples.dropped,
        _notes(items, sent_log),
    )
    _emit(record, output_format)
    if plots is not None:
        from backscatter.model.plots import save_curves

        truth = np.array([item.label for item in items])
        probability = np.array([scored_probability(v) for v in verdicts])
        for written in save_curves(truth, probability, plots, name, threshold):
            typer.echo(f"wrote {written}", err=True)


def _provenance(items: list[Labelled], listing: Path, shipped: bool) -> tuple[str, str]:
    """Whether these messages trained the model (from the listing train wrote beside it)."""
    scored = f"the model scored on these {len(items)} messages as given"
    if shipped:
        return "shipped_model", (
            f"{scored}. The shipped model learnt from generated mail and, when it was built, "
            "the project's development corpus (models/MODEL_CARD.md): on that corpus these "
            "figures are in-sample (optimistic); on your own mail they are out of sample."
        )
    try:
        learnt = set(json.loads(listing.read_text())["messages"])
    except (OSError, ValueError, KeyError, TypeError):
        return "this_model", (
            f"{scored}; no {listing.name} says what it learnt from: if it was trained on this "
            "mail, these figures are in-sample (optimistic) and train's cross-validated "
            "figures are the ones to expect on new mail."
        )
    seen = sum(item.digest in learnt for item in items)
    if seen == 0:
        return "held_out", f"{scored}; none of them trained it (out of sample)."
    whole = seen == len(items)
    return ("in_sample" if whole else "partly_in_sample"), (
        f"{scored}; {'all' if whole else seen} of them trained it ({listing.name}), so these "
        f"figures are {'' if whole else 'partly '}in-sample (optimistic): train's "
        "cross-validated figures are the ones to expect on new mail."
    )
