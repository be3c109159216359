"""``backscatter suppressions``: the addresses a list should stop mailing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backscatter.cli.app import app
from backscatter.cli.parse import PathsArgument
from backscatter.cli.training import ConfigOption, SentLogOption

if TYPE_CHECKING:
    from backscatter.detector import Detector
    from backscatter.mail import RawMessage


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
    from backscatter.detector import Detector
    from backscatter.mail import RawMessage, iter_messages

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
    from backscatter.detector import GENUINE

    for verdict in detector.score_many(batch) if batch else []:
        if verdict.verdict == GENUINE:
            for recipient in verdict.bounce.recipients:
                if recipient.hard:
                    found.setdefault(recipient.address.lower(), recipient.reason)
