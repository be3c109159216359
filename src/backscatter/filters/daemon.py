"""``backscatter serve``: the Detector loaded once, scoring over HTTP/1.1 on a unix socket.

SpamAssassin's answer to start-up cost (spamd loads once, spamc costs milliseconds), in the
protocol every integration already speaks: ``curl --unix-socket``, rspamd's ``rspamd_http``,
Haraka plugins, web hooks, and our own ``backscatter filter --connect``. The endpoints are
in :mod:`backscatter.filters.protocol`.

One event loop does all the daemon's I/O: it accepts, reads requests (httptools), hands each
message to a scoring process (:class:`LoopScoringPool`) and writes the answers. The CPU work
is the workers'; the daemon's own time per message is a fraction of a millisecond, with no
thread to wake (issue 10: p99 <= 5 ms at 4 concurrent clients). The loop is uvloop's
(libuv) when installed, else asyncio's own.

Signals: SIGTERM and SIGINT stop it (the socket file is removed, the pool closed); SIGHUP
reloads the model it was started with, while it goes on serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backscatter.filters.protocol import Connection
from backscatter.filters.service import ScoringService

log = logging.getLogger("backscatter.serve")

#: What in-flight requests get to finish in, after SIGTERM, before the pool is closed.
_GRACE_S = 2.0


def bind_unix(path: Path, mode: int, gid: int | None) -> socket.socket:
    """A socket bound at ``path`` with ``mode`` (and group): created under a tight umask, so
    it is never reachable by more than asked. A stale socket file (nobody listening) is
    replaced; a live one is refused, as is any other kind of file."""
    from backscatter.errors import BackscatterError

    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise BackscatterError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # stale: nobody answers
        else:
            raise BackscatterError(f"another daemon is listening on {path}")
        finally:
            probe.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        bound.bind(str(path))
    except OSError as exc:
        bound.close()
        raise BackscatterError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(previous)
    try:
        if gid is not None:
            os.chown(path, -1, gid)
        os.chmod(path, mode)
    except OSError as exc:
        bound.close()
        path.unlink(missing_ok=True)
        raise BackscatterError(f"cannot set the mode/group of {path}: {exc.strerror}") from None
    return bound


def bind_http(host: str, port: int) -> socket.socket:
    from backscatter.errors import BackscatterError

    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        bound = socket.socket(info[0], socket.SOCK_STREAM)
    except OSError as exc:
        raise BackscatterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        bound.bind(info[4])
    except OSError as exc:
        bound.close()
        raise BackscatterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return bound


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (libuv: less of the daemon's CPU per request)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()  # type: ignore[no-any-return]


class Daemon:
    """The listening sockets, the loop and the shutdown. Create the pool before this (it
    forks), bind with :meth:`listen_unix` / :meth:`listen_http`, then :meth:`run`."""

    def __init__(self, service: ScoringService, model_path: Path | None = None) -> None:
        self.service = service
        self.model_path = model_path  # what SIGHUP reloads: the file it was started with
        self.sockets: list[socket.socket] = []
        self.socket_path: Path | None = None
        self._signal: str | None = None
        self._stop: asyncio.Event | None = None

    def listen_unix(self, path: Path, mode: int, gid: int | None) -> None:
        self.sockets.append(bind_unix(path, mode, gid))
        self.socket_path = path

    def listen_http(self, host: str, port: int) -> int:
        """Listen on HOST:PORT too; the port bound (PORT 0 picks a free one)."""
        bound = bind_http(host, port)
        self.sockets.append(bound)
        return int(bound.getsockname()[1])

    def run(self, on_start: Callable[[], None] | None = None) -> str:
        """Serve until SIGTERM or SIGINT; returns the signal's name. The socket file is
        removed and the pool closed, whatever happens."""
        loop = new_loop()
        try:
            loop.run_until_complete(self._serve(on_start))
        finally:
            for bound in self.sockets:
                bound.close()
            if self.socket_path is not None:
                with contextlib.suppress(OSError):
                    self.socket_path.unlink()
            self.service.pool.close()
            loop.close()
        return self._signal or "stop"

    async def _serve(self, on_start: Callable[[], None] | None) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_log_exception)
        self.service.pool.attach(loop)
        self._stop = asyncio.Event()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self._on_signal, signal.Signals(number).name)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        servers = []
        for bound in self.sockets:
            # The backlog: a burst of clients connecting at once (a busy MX's pipe filters)
            # is queued by the kernel, not refused; it caps it at net.core.somaxconn.
            if bound.family == socket.AF_UNIX:
                server = await loop.create_unix_server(
                    self._connection, sock=bound, backlog=socket.SOMAXCONN
                )
            else:
                server = await loop.create_server(
                    self._connection, sock=bound, backlog=socket.SOMAXCONN
                )
            servers.append(server)
        if on_start is not None:
            on_start()
        await self._stop.wait()
        for server in servers:
            server.close()
        busy = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if busy:
            await asyncio.wait(busy, timeout=_GRACE_S)

    def _connection(self) -> Connection:
        return Connection(self.service)

    def reload(self) -> None:
        """The hook SIGHUP calls (issue 13): reload the model from the file the daemon was
        started with. The pool's zygote loads and checks it (in a thread: the loop serves
        on); a new generation of workers takes over and the old ones finish what they are
        scoring: no connection is dropped. A bad file is one error line and the old model
        keeps serving."""
        if self.model_path is None:
            log.warning("SIGHUP: no model file to reload; still serving the old model")
            return
        asyncio.get_running_loop().create_task(self._reload(self.model_path))

    async def _reload(self, path: Path) -> None:
        from backscatter.errors import BackscatterError

        try:
            described = await self.service.pool.reload_async(path)
        except BackscatterError as exc:
            log.error("SIGHUP: kept the old model (%s): %s", self.service.pool.model, exc)
            return
        log.info("SIGHUP: reloaded the model: %s", described)

    def _on_signal(self, name: str) -> None:
        self._signal = name
        if self._stop is not None:
            self._stop.set()


def _log_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """What escapes a callback is one log line, not asyncio's traceback on stderr."""
    error = context.get("exception")
    what = f"{type(error).__name__}: {error}" if error is not None else context.get("message")
    log.error("internal error: %s", what)
