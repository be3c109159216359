"""``backscatter serve``: the scoring daemon (the spamd of this tool)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from backscatter.cli.app import app
from backscatter.cli.options import ConfigOption, ModelOption, SentLogOption, ThresholdOption
from backscatter.errors import BackscatterError

DEFAULT_SOCKET = "/run/backscatter/backscatter.sock"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")

_EPILOG = (
    "Example: backscatter serve --socket /run/backscatter/backscatter.sock "
    "--sent-log /var/lib/backscatter/sent.db --socket-group mail; then "
    "backscatter filter --connect /run/backscatter/backscatter.sock < message.eml"
)


@app.command("serve", epilog=_EPILOG)
def serve_command(
    socket: Annotated[
        Path, typer.Option("--socket", help="Unix socket to listen on (HTTP/1.1 over it).")
    ] = Path(DEFAULT_SOCKET),
    socket_mode: Annotated[
        str, typer.Option("--socket-mode", help="Unix socket permissions (octal).")
    ] = "660",
    socket_group: Annotated[
        str | None,
        typer.Option("--socket-group", help="Group of the socket (the users who may connect)."),
    ] = None,
    http: Annotated[
        str | None,
        typer.Option("--http", help="Also listen on HOST:PORT (loopback unless --allow-remote)."),
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow --http on a non-loopback address.")
    ] = False,
    sent_log: SentLogOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    threshold: ThresholdOption = 0.5,
    workers: Annotated[
        int, typer.Option("--workers", min=0, help="Scoring processes (0: one per core).")
    ] = 0,
    budget_ms: Annotated[
        int,
        typer.Option(
            "--budget-ms", min=1, help="Per message; over it, scoring is killed (unscored=budget)."
        ),
    ] = 2000,
    max_kb: Annotated[
        int,
        typer.Option("--max-kb", min=1, help="Score at most this much of a message (its head)."),
    ] = 10240,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log HTTP requests too.")
    ] = False,
) -> None:
    """Load the model once and score messages sent over a unix socket (or loopback HTTP).

    POST a raw message to /score (JSON verdict), /headers (the headers to add) or /filter (the
    message with the headers); GET /health. `backscatter filter --connect SOCKET` is the
    client; curl --unix-socket and rspamd/Haraka HTTP calls work too. Stops on SIGTERM/SIGINT
    and removes its socket. SIGHUP reloads the model file it was started with (systemctl
    reload, after backscatter learn); a bad file is logged and the old model kept.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s backscatter-serve %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    # The logging HOWTO's "Optimization" settings: a line per message need not walk the stack
    # for a source file nobody prints, nor look up thread and process names (~15 % of the
    # daemon's own CPU per message).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    log = logging.getLogger("backscatter.serve")
    mode, gid, address = _socket_options(socket_mode, socket_group, http, allow_remote)

    from backscatter.detector import Detector
    from backscatter.filters.daemon import Daemon
    from backscatter.filters.looppool import LoopScoringPool
    from backscatter.filters.service import ScoringService
    from backscatter.filters.workers import ScoringPool
    from backscatter.model.persist import shipped_model_path

    model_path = model or shipped_model_path()
    detector = Detector.load(model_path, sent_log, config, threshold)
    pool = LoopScoringPool(detector, workers or None)  # forks: before the loop runs
    pool.model = ScoringPool.describe(model_path)
    service = ScoringService(pool, budget_ms / 1000, max_kb * 1024)
    daemon = Daemon(service, model_path)
    try:
        daemon.listen_unix(socket, mode, gid)
        where = f"unix:{socket}"
        if address is not None:
            where += f" http://{address[0]}:{daemon.listen_http(*address)}"
    except BaseException:
        pool.close()
        raise

    def started() -> None:
        log.info(
            "listening on %s workers=%d budget_ms=%d max_kb=%d sent-log=%s model=%s version=%s",
            where, pool.size, budget_ms, max_kb, sent_log or "none", pool.model, _version(),
        )  # fmt: skip

    stopped_by = daemon.run(started)
    log.info("stopped (%s) after %d messages; removed %s", stopped_by, service.messages, socket)


def _socket_options(
    socket_mode: str, socket_group: str | None, http: str | None, allow_remote: bool
) -> tuple[int, int | None, tuple[str, int] | None]:
    """Checked before the model loads: a typo costs no start-up."""
    try:
        mode = int(socket_mode, 8)
    except ValueError:
        raise BackscatterError(f"--socket-mode must be octal, not {socket_mode!r}") from None
    gid = None
    if socket_group is not None:
        import grp

        try:
            gid = grp.getgrnam(socket_group).gr_gid
        except KeyError:
            raise BackscatterError(f"--socket-group: no group {socket_group!r}") from None
    address = None
    if http is not None:
        host, _, port = http.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise BackscatterError(f"--http must be HOST:PORT, not {http!r}")
        if host not in _LOOPBACK and not allow_remote:
            raise BackscatterError(
                f"--http {http}: not a loopback address; messages and verdicts would travel "
                "unauthenticated. Add --allow-remote if that is what you want."
            )
        address = (host, int(port))
    return mode, gid, address


def _version() -> str:
    from backscatter import __version__

    return __version__
