"""``backscatter report``: the list-hygiene report as one self-contained HTML page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backscatter.cli.app import app
from backscatter.cli.batch import Inputs
from backscatter.cli.options import ConfigOption, ModelOption, SentLogOption, ThresholdOption
from backscatter.cli.parse import PathsArgument
from backscatter.errors import BackscatterError

if TYPE_CHECKING:

    pass

_BATCH = 256

_EPILOG = "Example: backscatter report --sent-log sent.db ~/Maildir/.Bounces -o report.html"


@app.command("report", epilog=_EPILOG)
def report_command(
    paths: PathsArgument,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The HTML file to write.", show_default=False)
    ],
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    threshold: ThresholdOption = 0.5,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Worker processes scoring in parallel.")
    ] = 1,
) -> None:
    """Write a list-hygiene report: verdicts, bounce reasons, failing domains, reporting MTAs,
    bounces over time, the addresses to suppress and those held back as forged.

    One HTML file with its charts embedded and no JavaScript: open it in any browser or
    attach it to a mail. Without --sent-log backscatter cannot be detected, and the page
    says so.
    """
    from backscatter.cli.parallel import score_in_parallel
    from backscatter.detector import Detector
    from backscatter.report import Context, ReportData, render

    if not 0.0 <= threshold <= 1.0:
        raise BackscatterError("--threshold is a probability between 0 and 1")
    if jobs < 1:
        raise BackscatterError("--jobs must be 1 or more")
    if not output.parent.is_dir():
        raise BackscatterError(f"cannot write {output}: no directory {output.parent}")
    started = time.perf_counter()
    detector = Detector.load(model, sent_log, config, threshold)  # fails early on bad options
    data = ReportData(sent_log=sent_log is not None)
    inputs = Inputs(paths)
    batches = inputs.batches()
    if jobs > 1:
        detector.close()
        verdicts = score_in_parallel(batches, jobs, model, sent_log, config, threshold)
    else:
        verdicts = (v for batch in batches for v in detector.score_many(batch))
    try:
        for verdict in verdicts:
            data.add(verdict)
    finally:
        detector.close()
    data.unreadable = len(inputs.unreadable)
    context = Context(
        inputs=tuple(paths),
        sent_log=sent_log,
        model=str(model) if model else None,
        config=str(config) if config else None,
        threshold=threshold,
    )
    page = render(data, context)
    try:
        output.write_text(page, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BackscatterError(f"cannot write {output}: {exc.strerror or exc}") from None
    seconds = time.perf_counter() - started
    typer.echo(
        f"wrote {output}: {data.messages} messages, {data.bounces} bounces, "
        f"{data.suppress.total} addresses to suppress, "
        f"{data.held_back_only().total} held back ({seconds:.1f} s)",
        err=True,
    )
    if sent_log is None:
        typer.echo(
            "note: without --sent-log backscatter cannot be detected; the report says so",
            err=True,
        )
    if inputs.exit_status:
        raise typer.Exit(inputs.exit_status)
