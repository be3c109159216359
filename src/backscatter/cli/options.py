"""The options every scoring command shares, declared once: the same name, type and help on
``score``, ``report``, ``serve``, ``filter``, ``milter``, ``train``, ``evaluate``, ``learn``
and ``suppressions``. ``--sent-log`` is a string, not a Path: a ``postgresql://`` DSN must
reach :func:`backscatter.sentlog.open_sent_log` as written (a Path folds its ``//``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SentLogOption = Annotated[
    str | None,
    typer.Option(
        "--sent-log",
        metavar="FILE|DSN",
        help="Sent-log: a SQLite file or a postgresql:// DSN (without it, backscatter looks "
        "genuine).",
    ),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", metavar="FILE", help="Our infrastructure (TOML).")
]
ModelOption = Annotated[
    Path | None,
    typer.Option("--model", metavar="FILE", help="Model file (default: the shipped one)."),
]
ThresholdOption = Annotated[
    float, typer.Option("--threshold", help="Spoofed at or above this probability.")
]
