"""``backscatter milter`` and ``backscatter filter``: the verdict where mail arrives."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from backscatter.cli.app import app, examples
from backscatter.cli.options import ModelOption, SentLogOption, ThresholdOption
from backscatter.errors import BackscatterError
from backscatter.filters.client import EX_TEMPFAIL, quiet_stdout

if TYPE_CHECKING:
    from backscatter.filters import socketcheck
    from backscatter.filters.policy import MilterPolicy


# The milter's config also holds its [milter] policy: its own help, same option otherwise.
MilterConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", metavar="FILE", help="Our infrastructure and [milter] policy (TOML)."
    ),
]


@app.command(
    "milter",
    epilog=examples(
        "backscatter milter --socket unix:/var/spool/postfix/backscatter/milter.sock "
        "--sent-log /var/lib/backscatter/sent.db",
        "backscatter milter --socket inet:127.0.0.1:8894 --spoofed-action reject",
    ),
)
def milter_command(
    socket: Annotated[
        str,
        typer.Option("--socket", help="unix:/path.sock (preferred) or inet:127.0.0.1:PORT"),
    ],
    sent_log: SentLogOption = None,
    config: MilterConfigOption = None,
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
            "--socket-mode", help="Unix socket permissions (octal); the MTA user must write."
        ),
    ] = "660",
    socket_group: Annotated[
        str | None,
        typer.Option(
            "--socket-group",
            metavar="GROUP",
            help="Group of the unix socket (default: the --mta-user's primary group).",
        ),
    ] = None,
    socket_owner: Annotated[
        str | None,
        typer.Option(
            "--socket-owner", metavar="USER", help="Owner of the unix socket (needs root)."
        ),
    ] = None,
    mta_user: Annotated[
        str | None,
        typer.Option(
            "--mta-user",
            metavar="USER",
            help="User the MTA connects as; checked at start (default: postfix, if it exists).",
        ),
    ] = None,
    no_socket_check: Annotated[
        bool,
        typer.Option(
            "--no-socket-check",
            help="Start even if the check says the MTA user cannot connect (warn only).",
        ),
    ] = False,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Allow an inet: socket on a non-loopback address."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log the evidence too.")] = False,
) -> None:
    """Run as a Postfix/Sendmail milter: tag (or reject) inbound bounces, record outbound mail.

    Before the first connection the unix socket gets --socket-group/--socket-mode and the
    milter checks that the MTA user can connect; if it cannot, it refuses to start (exit 2)
    saying what to change. Stops on SIGTERM/SIGINT with a summary line; the socket is removed.
    SIGUSR1 reloads the model file (a bad file is logged, the old model kept); SIGHUP stops
    it, as libmilter decides.

    Example (Debian, smtpd chrooted in /var/spool/postfix; main.cf: smtpd_milters =
    unix:backscatter/milter.sock): backscatter milter
    --socket unix:/var/spool/postfix/backscatter/milter.sock
    --sent-log /var/lib/backscatter/sent.db
    """
    # libmilter stops on these through its own sigwait() thread, which sees them only if
    # every thread blocks them; threads started before smfi_main (OpenBLAS's, at model load)
    # inherit this mask. Unblocked, SIGTERM killed the process: no stop line, socket left.
    # SIGUSR1 too: it reloads the model (reload_on_signal's thread takes it; SIGHUP, which
    # libmilter takes as stop, cannot).
    stops_and_reload = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops_and_reload)
    started = time.monotonic()
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
    from backscatter import __version__
    from backscatter.filters import socketcheck
    from backscatter.filters.setup import build_core
    from backscatter.model.persist import shipped_model_path
    from backscatter.sentlog.postgres import mask_dsn

    try:
        spec = milter.libmilter_socket(socket)
        mode = int(socket_mode, 8)
    except ValueError as exc:
        raise BackscatterError(f"--socket/--socket-mode: {exc}") from None
    remote = socketcheck.remote_address(spec)
    if remote and not allow_remote:
        raise BackscatterError(
            f"refusing to listen on {remote} ({socket}): anyone who reaches it can talk to the "
            "milter; use unix:/path or inet:127.0.0.1:PORT, or --allow-remote"
        )
    kind, _, path = spec.partition(":")
    sock = Path(path) if kind in ("unix", "local") else None
    account = _mta_account(mta_user) if sock is not None else None
    uid = socketcheck.user_id(socket_owner) if socket_owner else None
    gid = _socket_gid(socket_group, account)
    log = logging.getLogger("backscatter.milter")
    core = build_core(model, sent_log, config, threshold, spoofed_action, on_error)
    from backscatter.filters.workers import ScoringPool, reload_on_signal

    core.pool.model = ScoringPool.describe(model or shipped_model_path())
    reload_on_signal(core.pool, model or shipped_model_path(), log)

    def opened() -> None:
        """Between libmilter's bind and its first accept: the socket's group and mode, the
        check, then the start line (so it says what Postfix will find)."""
        os.umask(umask)
        where = socket
        if sock is not None:
            socketcheck.set_owner_and_mode(sock, uid, gid, mode)
            where = socketcheck.permissions(sock.stat())
            why = socketcheck.unreachable(sock, account) if account else None
            if why and not no_socket_check:
                raise BackscatterError(f"{why}; or start with --no-socket-check")
            if why:
                log.warning("%s", why)
            elif account is None:
                log.warning("no --mta-user and no 'postfix' user: socket access not checked")
            else:
                where += f", {account.name} can connect"
        log.info(
            "backscatter %s milter started in %.1fs: model=%s sent-log=%s socket=%s "
            "(%s) policy: %s",
            __version__,
            time.monotonic() - started,
            model or shipped_model_path(),
            mask_dsn(sent_log) if sent_log else "none",
            socket,
            where,
            _describe(core.policy),
        )

    umask = os.umask(0o177)  # the socket is born owner-only, then given its group and mode
    try:
        counters = milter.serve(core, spec, opened)
    except BackscatterError:
        raise
    except Exception as exc:  # libmilter: socket in use, bad path, permissions
        raise BackscatterError(f"milter stopped: {exc}") from None
    finally:
        os.umask(umask)
        milter.remove_socket(spec)
        core.close()
    log.info("stopped: %s", counters.summary())


def _describe(policy: MilterPolicy) -> str:
    """The policy in one line of key=value, as the per-message lines are written."""
    actions = " ".join(f"{verdict}={action}" for verdict, action in sorted(policy.actions.items()))
    above = ",".join(f"{action}>={limit}" for limit, action in policy.thresholds) or "none"
    return (
        f"{actions} thresholds={above} on_error={policy.on_error} "
        f"time_budget_ms={policy.time_budget_ms} max_message_kb={policy.max_message_kb} "
        f"outbound_daemons={','.join(policy.outbound_daemons)} "
        f"outbound_networks={len(policy.outbound_networks)} batv_sign={policy.batv_sign} "
        f"unscored_action={policy.unscored_action} workers={policy.workers or 'per-core'}"
    )


def _mta_account(name: str | None) -> socketcheck.Account | None:
    """The user to check the socket against: --mta-user, else postfix if it exists."""
    from backscatter.filters import socketcheck

    chosen = name or socketcheck.default_mta_user()
    return socketcheck.Account.named(chosen) if chosen else None


def _socket_gid(group: str | None, account: socketcheck.Account | None) -> int | None:
    """--socket-group, else the MTA user's primary group (Debian: postfix) when this process
    may give it (root, or a member); else None: the group the socket was born with."""
    from backscatter.filters import socketcheck

    if group:
        return socketcheck.group_id(group)
    if account is None:
        return None
    if os.geteuid() == 0 or account.gid in os.getgroups() or account.gid == os.getegid():
        return account.gid
    return None


_FILTER_EPILOG = examples(
    "backscatter filter --sent-log /var/lib/backscatter/sent.db < message.eml > tagged.eml",
    "backscatter filter --connect /run/backscatter/backscatter.sock < message.eml",
    "(procmail)  :0 fw",
    "            | /opt/backscatter/bin/backscatter filter --connect "
    "/run/backscatter/backscatter.sock",
)


@app.command("filter", epilog=_FILTER_EPILOG)
def filter_command(
    sent_log: SentLogOption = None,
    config: MilterConfigOption = None,
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
        quiet_stdout()
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

