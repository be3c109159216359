"""``backscatter milter`` and ``backscatter filter``: the verdict where mail arrives."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from backscatter.cli.app import app
from backscatter.errors import BackscatterError

EX_TEMPFAIL = 75  # sysexits.h: mail systems retry later, nothing is lost

SentLogOption = Annotated[
    str | None,
    typer.Option("--sent-log", help="Sent-log: a SQLite file or a postgresql:// DSN."),
]
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
    from backscatter.sentlog.postgres import mask_dsn

    try:
        spec = milter.libmilter_socket(socket)
        mode = int(socket_mode, 8)
    except ValueError as exc:
        raise BackscatterError(f"--socket/--socket-mode: {exc}") from None
    os.umask(0o777 & ~mode | 0o111)  # libmilter creates the socket under this umask
    core = build_core(model, sent_log, config, threshold, spoofed_action, on_error)
    logging.getLogger("backscatter.milter").info(
        "listening on %s (sent-log: %s)", socket, mask_dsn(sent_log) if sent_log else "none"
    )
    try:
        milter.serve(core, spec)
    except Exception as exc:  # libmilter: socket in use, bad path, permissions
        raise BackscatterError(f"milter stopped: {exc}") from None
    finally:
        core.close()


_FILTER_EPILOG = (
    "Example (procmail): :0 fw | backscatter filter --connect /run/backscatter/backscatter.sock"
)


@app.command("filter", epilog=_FILTER_EPILOG)
def filter_command(
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    threshold: ThresholdOption = 0.5,
    max_kb: Annotated[
        int, typer.Option("--max-kb", min=1, help="Score at most this much of the message.")
    ] = 10240,
    budget_ms: Annotated[
        int,
        typer.Option(
            "--budget-ms",
            min=0,
            help="Stop scoring after this long (model load excluded); the message then gets "
            "X-Backscatter-Status: ... unscored=budget. 0: no budget.",
        ),
    ] = 2000,
    connect: Annotated[
        str | None,
        typer.Option(
            "--connect",
            help="Let `backscatter serve` score: its unix socket path or http://127.0.0.1:PORT.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.001, help="With --connect: seconds to wait for it."),
    ] = 5.0,
    on_error: Annotated[
        str,
        typer.Option(
            "--on-error",
            help="With --connect, when the daemon is down, errs or times out: accept (the "
            "message passes through untouched, exit 0) or tempfail (the same, exit 75).",
        ),
    ] = "accept",
) -> None:
    """Read one message on stdin, write it to stdout with X-Backscatter-* headers added.

    The message always comes out: on any error it is written through untouched (exit 0 for
    an error on this message, 75 = try later for a configuration error such as a bad model,
    or when the message could not be read or written: the mail system keeps it and retries).
    With --connect, the daemon (`backscatter serve`) scores it: milliseconds, not seconds.
    """
    if connect is not None:
        _connect(connect, max_kb, timeout, on_error, sent_log, config, model, budget_ms)
    source = sys.stdin.buffer if sys.stdin is not None else None
    target = sys.stdout.buffer if sys.stdout is not None else None
    try:
        from backscatter.detector import Detector
        from backscatter.filters.pipe import run_filter
    except Exception as exc:  # a broken install still passes mail through, and asks a retry
        status = _pass_through(source, target, f"cannot load the filter: {exc!r}")
    else:
        status = run_filter(
            source,
            target,
            lambda: Detector.load(model, sent_log, config, threshold),
            max_kb * 1024,
            budget_ms / 1000,
        )
    if status == EX_TEMPFAIL:
        _quiet_stdout()
    raise typer.Exit(status)


def _connect(
    connect: str,
    max_kb: int,
    timeout: float,
    on_error: str,
    *local: object,
) -> None:
    """The --connect client, reached here only when the fast path in ``main`` declined (the
    command line was not only client options): the same client. Options of the standalone
    filter are said to be ignored, not refused: a mail filter must not lose the message."""
    from backscatter.filters.client import ClientOptions, run

    if any(value is not None for value in local[:3]) or local[3] != 2000:
        typer.echo(
            "backscatter: with --connect the daemon scores; --sent-log, --config, --model and "
            "--budget-ms are ignored here (give them to `backscatter serve`)",
            err=True,
        )
    tempfail = on_error == "tempfail"
    raise typer.Exit(run(ClientOptions(connect, max_kb, timeout, tempfail)))


def _pass_through(source: BinaryIO | None, target: BinaryIO | None, why: str) -> int:
    """The message unchanged, without anything of backscatter's but the standard library."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"backscatter: {why}", file=sys.stderr)
    with contextlib.suppress(OSError, ValueError):
        while source is not None and target is not None and (chunk := source.read(1 << 20)):
            target.write(chunk)
        if target is not None:
            target.flush()
    return EX_TEMPFAIL


def _quiet_stdout() -> None:
    """After a failed write, point stdout at /dev/null: the interpreter flushes it on exit,
    and a second failure there would print a traceback and exit 120."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
