"""``backscatter learn``: refit the site's model from its corrections (sa-learn style).

The work is in model/learn.py; this parses options, reads the corrections, prints the
before/after tables and writes the model and its corrections store (or refuses to).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backscatter.cli.app import app
from backscatter.cli.options import ConfigOption, SentLogOption, ThresholdOption
from backscatter.cli.training import (
    FormatOption,
    LabelsOption,
    ReportFormat,
    _check_threshold,
    _examples,
)
from backscatter.errors import BackscatterError

_EPILOG = (
    "Example: backscatter learn --genuine ~/Mail/bs-genuine --spoofed ~/Mail/bs-spoofed "
    "--sent-log /var/lib/backscatter/sent.db && systemctl reload backscatter"
)


@app.command("learn", epilog=_EPILOG)
def learn_command(
    genuine: Annotated[
        list[str] | None,
        typer.Option(help="Mailboxes, Maildirs or folders of bounces that are genuine."),
    ] = None,
    spoofed: Annotated[
        list[str] | None,
        typer.Option(help="Mailboxes, Maildirs or folders of bounces that are spoofed."),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="The site model to write (default: the user data dir's site-model.skops); "
            "its corrections store is written beside it.",
        ),
    ] = None,
    labels: LabelsOption = None,
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write the model even if it is worse on the shipped evaluation set."
        ),
    ] = False,
    generated: Annotated[
        int,
        typer.Option(
            "--generated",
            min=30,
            help="Generated genuine bounces in the base set (spoofed in proportion); the "
            "shipped model's count is the default. Fewer: faster, rougher.",
        ),
    ] = 1500,
    threshold: ThresholdOption = 0.5,
    output_format: FormatOption = ReportFormat.table,
) -> None:
    """Refit the site model from the shipped model's generated training data plus your
    corrections, kept across runs in a store beside the model (a message corrected again:
    latest label wins). Prints before/after figures on the corrections, on a held-back part
    of them and on the shipped evaluation set, and refuses to write a model worse than the
    shipped one there unless --force. Then reload the daemon: kill -HUP or systemctl reload.
    """
    from backscatter.model.learn import (
        CorrectionsStore,
        learn,
        render,
        report_record,
        site_model_path,
        store_path,
    )
    from backscatter.model.persist import load, save, shipped_model_path
    from backscatter.model.report import model_name, to_json

    _check_threshold(threshold)
    if not genuine and not spoofed and labels is None:
        raise BackscatterError(
            "give --genuine and/or --spoofed folders of corrections (or --labels)"
        )
    target = model or site_model_path()
    shipped = load(shipped_model_path())
    current, current_name = shipped, "shipped"
    if target.exists():
        try:
            current, current_name = load(target), "current"
        except BackscatterError as exc:  # another version's features: replaced, not refused
            typer.echo(f"the current site model is replaced: {exc}", err=True)
    examples, _ = _examples(genuine, spoofed, labels, sent_log, config)
    store = CorrectionsStore(store_path(target))
    outcome = learn(examples.items, store, current, current_name, shipped, generated, threshold)
    record = report_record(outcome, model_name(target), threshold, examples.dropped)
    written = outcome.refused is None or force
    if written:
        save(outcome.model, target)
        store.write(outcome.store)
    record["written"] = str(target) if written else None
    if output_format is ReportFormat.json:
        typer.echo(to_json(record))
    else:
        typer.echo(render(record), nl=False)
    if outcome.refused is not None and not force:
        raise BackscatterError(f"not written: {outcome.refused} (--force writes it anyway)")
    if outcome.refused is not None:
        typer.echo(f"written despite: {outcome.refused} (--force)", err=True)
    typer.echo(f"wrote {target} and {store.path.name} ({len(outcome.store)} corrections)", err=True)
