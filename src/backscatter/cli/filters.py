"""``backscatter milter`` and ``backscatter filter``: the verdict where mail arrives."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from backscatter.cli.app import app
from backscatter.errors import BackscatterError

EX_TEMPFAIL = 75  # sysexits.h: mail systems retry later, nothing is lost

SentLogOption = Annotated[Path | None, typer.Option("--sent-log", help="Sent-log database.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Our infrastructure and [milter] policy (TOML).")
]
ModelOption = Annotated[Path | None, typer.Option("--model", help="Model file (default: shipped).")]
ThresholdOption = Annotated[float, typer.Option("--threshold", help="Spoofed at or above this.")]


@app.command("milter")
def milter_command(
    socket: Annotated[
        str,
        typer.Option("--socket", help="unix:/path.sock (preferred) or inet:127.0.0.1:PORT"),
    ],
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    threshold: ThresholdOption = 0.5,
    spoofed_action: Annotated[
        str | None,
        typer.Option("--spoofed-action", help="tag | reject | quarantine | discard"),
    ] = None,
    on_error: Annotated[
        str | None, typer.Option("--on-error", help="accept (default) | tempfail")
    ] = None,
    socket_mode: Annotated[
        str,
        typer.Option(
            "--socket-mode", help="Unix socket permissions (octal); Postfix must be able to write."
        ),
    ] = "660",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log the evidence too.")] = False,
) -> None:
    """Run as a Postfix/Sendmail milter: tag (or reject) inbound bounces, record outbound mail."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s backscatter-milter %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        from backscatter.filters import milter
    except ImportError as exc:
        raise BackscatterError(
            f"the milter needs pymilter ({exc}): apt-get install libmilter-dev, then "
            "pip install 'backscatter[milter]'"
        ) from None
    from backscatter.filters.setup import build_core

    try:
        spec = milter.libmilter_socket(socket)
        mode = int(socket_mode, 8)
    except ValueError as exc:
        raise BackscatterError(f"--socket/--socket-mode: {exc}") from None
    os.umask(0o777 & ~mode | 0o111)  # libmilter creates the socket under this umask
    core = build_core(model, sent_log, config, threshold, spoofed_action, on_error)
    logging.getLogger("backscatter.milter").info(
        "listening on %s (sent-log: %s)", socket, sent_log or "none"
    )
    try:
        milter.serve(core, spec)
    except Exception as exc:  # libmilter: socket in use, bad path, permissions
        raise BackscatterError(f"milter stopped: {exc}") from None
    finally:
        core.close()


@app.command("filter")
def filter_command(
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    threshold: ThresholdOption = 0.5,
    max_kb: Annotated[
        int, typer.Option("--max-kb", min=1, help="Score at most this much of the message.")
    ] = 10240,
) -> None:
    """Read one message on stdin, write it to stdout with X-Backscatter-* headers added.

    The message always comes out: on any error it is written through untouched (exit 0 for
    an error on this message, 75 = try later for a configuration error such as a bad model).
    """
    from backscatter.detector import Detector
    from backscatter.filters.pipe import copy_rest, filter_message

    source, target = sys.stdin.buffer, sys.stdout.buffer
    head = source.read(max_kb * 1024)
    status = 0
    try:
        detector = Detector.load(model, sent_log, config, threshold)
    except BackscatterError as exc:
        print(f"backscatter: {exc}", file=sys.stderr)
        detector, status = None, EX_TEMPFAIL
    output = head
    if detector is not None:
        try:
            output = filter_message(detector, head)
        except Exception as exc:  # the boundary: the message goes through whatever happened
            print(f"backscatter: message passed through unscored: {exc!r}", file=sys.stderr)
    target.write(output)
    copy_rest(source, target)
    target.flush()
    if status:
        raise typer.Exit(status)
