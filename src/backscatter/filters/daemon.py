"""``backscatter serve``: the Detector loaded once, scoring over HTTP/1.1 on a unix socket.

SpamAssassin's answer to start-up cost (spamd loads once, spamc costs milliseconds), in the
protocol every integration already speaks: ``curl --unix-socket``, rspamd's ``rspamd_http``,
Haraka plugins, web hooks, and our own ``backscatter filter --connect``.

- ``POST /score``   raw message -> the JSON record of ``backscatter score -f jsonl``
- ``POST /headers`` raw message -> the header block to add (CRLF lines, long ones folded)
- ``POST /filter``  raw message -> the message with the headers, as ``backscatter filter``
- ``GET /health``   -> JSON: worker pids, the spare, idle workers, killed, version

The envelope goes in the query (``?sender=&recipient=a@x&recipient=b@y``; ``sender=`` empty
is the null sender). A body over ``max_bytes`` is scored on its head and, for ``/filter``,
the rest is spooled and sent back unread: the pipe filter's semantics. Threads do the I/O; the
:class:`ScoringPool`'s processes do the CPU work, under a budget that kills what overruns.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import signal
import socket
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

from backscatter import __version__
from backscatter.filters.headers import unscored_headers, verdict_headers
from backscatter.filters.pipe import filter_with
from backscatter.filters.unscored import Unscored, claims_bounce
from backscatter.filters.workers import ScoringPool

if TYPE_CHECKING:
    from backscatter.detector import Envelope, Verdict

log = logging.getLogger("backscatter.serve")

_CHUNK = 1 << 16
_SPOOL_IN_MEMORY = 1 << 20  # a body past the cap waits on disk beyond this
_IO_TIMEOUT = 30  # seconds a client may stall mid-request before its thread gives up


@dataclass
class Answer:
    """One scored message: what the log line and every endpoint need. Built in the scoring
    worker (:func:`for_headers`, :func:`for_record`): a few hundred bytes cross back to the
    daemon instead of a Verdict to unpickle, and the daemon's threads do only I/O."""

    verdict: str | None  # None: unscored
    score: float | None
    unscored: Unscored | None
    headers: list[tuple[str, str]]
    record: bytes | None = None  # the /score body, when asked for


def for_headers(verdict: Verdict) -> Answer:
    """In the worker: what /headers and /filter need."""
    return Answer(verdict.verdict, verdict.spoofed_probability, None, verdict_headers(verdict))


def for_record(verdict: Verdict) -> Answer:
    """In the worker: what /score needs, the JSON record included."""
    answer = for_headers(verdict)
    answer.record = to_json(verdict.to_record())
    return answer


class ScoringService:
    """Protocol-free: message bytes in, the verdict/headers/filtered message out."""

    def __init__(self, pool: ScoringPool, budget_s: float, max_bytes: int) -> None:
        self.pool = pool
        self.budget_s = budget_s
        self.max_bytes = max_bytes
        self.started = time.time()
        self.messages = 0

    def answer(
        self, data: bytes, envelope: Envelope | None, budget_s: float, record: bool = False
    ) -> Answer:
        """The scored message; with ``record``, its JSON record too (for /score)."""
        shape = for_record if record else for_headers
        result = self.pool.score(data, "-", envelope, budget_s, shape)
        self.messages += 1
        if isinstance(result, Unscored):
            sender = envelope.sender if envelope is not None else None
            added = unscored_headers(
                result.reason, claims_bounce(data, sender), self.pool.threshold
            )
            return Answer(None, None, result, added)
        return result  # type: ignore[no-any-return]

    def filtered(
        self, head: bytes, envelope: Envelope | None, budget_s: float
    ) -> tuple[bytes, Answer]:
        """``head`` as the pipe filter writes it (the same functions), and the answer."""
        answers: list[Answer] = []

        def headers_for(data: bytes) -> list[tuple[str, str]]:
            answers.append(self.answer(data, envelope, budget_s))
            return answers[-1].headers

        output = filter_with(headers_for, head)
        return output, answers[0] if answers else Answer(None, None, None, [])

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "model": self.pool.model,
            "workers": self.pool.pids,
            "spare": self.pool.spare_pid,
            "zygote": self.pool.zygote_pid,
            "idle": self.pool.idle,
            "killed": self.pool.killed,
            "died": self.pool.died,
            "messages": self.messages,
            "uptime_s": round(time.time() - self.started, 1),
        }


def record_of(answer: Answer) -> bytes:
    """The ``score -f jsonl`` record; for an unscored message, what could be said of it."""
    if answer.record is not None:
        return answer.record
    reason = answer.unscored.reason if answer.unscored is not None else "error"
    status = dict(answer.headers).get("X-Backscatter-Status", "")
    return to_json({"source": "-", "verdict": "unscored", "unscored": reason,
                    "claims_bounce": "BOUNCE_UNSCORED" in status})  # fmt: skip


def to_json(record: dict[str, Any]) -> bytes:
    """As ``score -f jsonl`` writes it; mail can carry lone surrogates, which UTF-8 cannot:
    then the ASCII-escaped form, still valid JSON."""
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record) + "\n").encode("ascii")


class Handler(BaseHTTPRequestHandler):
    """One HTTP/1.1 connection; the service does the work."""

    protocol_version = "HTTP/1.1"
    server_version = f"backscatter/{__version__}"
    timeout = _IO_TIMEOUT
    wbufsize = _CHUNK  # a response's head and body leave in one write (flushed per request)
    service: ScoringService  # set on the subclass the daemon builds

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/health":
            self._reply(404, b"not found: GET /health, POST /score, /headers, /filter\n")
            return
        self._reply(200, to_json(self.service.health()), "application/json")

    def do_POST(self) -> None:
        """The boundary: whatever goes wrong in here is one log line and a 500, and the
        client (``filter --connect``) passes the message through untouched."""
        try:
            self._post()
        except (OSError, ValueError, EOFError) as exc:  # the client went away or sent garbage
            self.close_connection = True
            log.warning("request failed: %s: %s", type(exc).__name__, exc)
        except Exception as exc:
            self.close_connection = True
            log.error("internal error: %s: %s", type(exc).__name__, exc)
            with contextlib.suppress(OSError):
                self._reply(500, b"internal error\n")

    def setup(self) -> None:
        super().setup()
        self.accepted: float | None = getattr(_accepted, "at", None)

    def parse_request(self) -> bool:
        """Marks when this request's time starts (the ``ms=`` of its log line): the first
        request on a connection counts from the accept, so the wait for a free thread and
        the parsing of the head are in it; a later one on a kept-alive connection counts
        from its request line (the idle time before it is the client's)."""
        self.started = self.accepted if self.accepted is not None else time.perf_counter()
        self.accepted = None
        return super().parse_request()

    def _post(self) -> None:
        started = self.started
        url = urlsplit(self.path)
        body = self._body()
        if body is None:
            self.close_connection = True
            self._reply(411, b"a Content-Length or chunked body is required\n")
            return
        if url.path not in ("/score", "/headers", "/filter"):
            body.drain()
            self._reply(404, b"not found: POST /score, /headers, /filter\n")
            return
        query = parse_qs(url.query, keep_blank_values=True)
        envelope = _envelope(query)
        budget_s = self.service.budget_s
        with contextlib.suppress(KeyError, ValueError, IndexError):  # less, never more
            budget_s = min(budget_s, int(query["budget_ms"][0]) / 1000) or budget_s
        head = body.read(self.service.max_bytes)
        if url.path == "/filter":
            with tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY) as spool:
                rest = body.copy_to(spool)  # all read before answering: a client that sends
                spool.seek(0)  # everything before it reads must not deadlock with us
                output, answer = self.service.filtered(head, envelope, budget_s)
                self._reply_streaming(output, spool, rest)
        else:
            rest = body.drain()
            answer = self.service.answer(head, envelope, budget_s, url.path == "/score")
            if url.path == "/score":
                self._reply(200, record_of(answer), "application/json")
            else:
                block = "".join(
                    f"{name}: {value}".replace("\n", "\r\n") + "\r\n"  # folds: CRLF too
                    for name, value in answer.headers
                )
                self._reply(200, block.encode("ascii", "replace"))
        log.info(_summary(url.path, len(head) + rest, answer, started))

    def _body(self) -> RequestBody | None:
        """The request body as sent: with a Content-Length, or chunked (Node's http, as in a
        Haraka plugin, and ``curl -T -`` send chunks); None when it is neither."""
        if self.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
            return RequestBody(self.rfile, None)
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None
        return RequestBody(self.rfile, length) if length >= 0 else None

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()  # here, where a client that has gone is caught and logged

    def _reply_streaming(self, output: bytes, spool: BinaryIO, rest: int) -> None:
        """The filtered head, then the part of the body past the cap, copied unread."""
        self.send_response(200)
        self.send_header("Content-Type", "message/rfc822")
        self.send_header("Content-Length", str(len(output) + rest))
        self.end_headers()
        self.wfile.write(output)
        while chunk := spool.read(_CHUNK):
            self.wfile.write(chunk)
        self.wfile.flush()

    def address_string(self) -> str:
        return self.client_address[0] if isinstance(self.client_address, tuple) else "unix"

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once a second rather than once a response."""
        global _date
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        if _date[0] != now:
            _date = (now, super().date_time_string(now))
        return _date[1]

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), format % args)


_date: tuple[int, str] = (0, "")


class RequestBody:
    """Reads a request body of a known length, or chunked (RFC 9112 7.1), as plain bytes."""

    def __init__(self, stream: BinaryIO, length: int | None) -> None:
        self.stream = stream
        self.left = length if length is not None else 0  # of the body, or of this chunk
        self.chunked = length is None
        self.done = length == 0

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer only at the end of the body."""
        parts: list[bytes] = []
        while size > 0 and not self.done:
            if self.left == 0 and not self._next_chunk():
                break
            part = self.stream.read(min(size, self.left, _CHUNK))
            if not part:
                raise EOFError("the client closed the connection mid-body")
            parts.append(part)
            size -= len(part)
            self.left -= len(part)
            if self.left == 0 and not self.chunked:
                self.done = True
            elif self.left == 0:
                self.stream.readline(8)  # the CRLF after the chunk's data
        return b"".join(parts)

    def _next_chunk(self) -> bool:
        line = self.stream.readline(1024)
        size = int(line.split(b";", 1)[0].strip() or b"x", 16)  # ValueError: not HTTP
        if size == 0:
            while self.stream.readline(8192).strip():  # trailer fields, then a blank line
                pass
            self.done = True
            return False
        self.left = size
        return True

    def copy_to(self, target: BinaryIO) -> int:
        copied = 0
        while chunk := self.read(_CHUNK):
            target.write(chunk)
            copied += len(chunk)
        return copied

    def drain(self) -> int:
        drained = 0
        while chunk := self.read(_CHUNK):
            drained += len(chunk)
        return drained


def _envelope(query: dict[str, list[str]]) -> Envelope | None:
    from backscatter.detector import Envelope

    sender = query["sender"][0] if "sender" in query else None
    recipients = tuple(r for r in query.get("recipient", ()) if r)
    if sender is None and not recipients:
        return None
    return Envelope(sender.strip("<>") if sender is not None else None, recipients)


def _summary(path: str, size: int, answer: Answer, started: float) -> str:
    """The one log line per message, like the milter's."""
    verdict = answer.verdict
    parts = [
        f"path={path}",
        f"bytes={size}",
        f"verdict={verdict or ('unscored' if answer.unscored else '-')}",
        f"score={answer.score:.4f}" if answer.score is not None else "score=-",
        f"ms={(time.perf_counter() - started) * 1000:.1f}",
    ]
    if answer.unscored is not None:
        parts.append(f"unscored={answer.unscored.reason}")
    return " ".join(parts)


#: When the connection a thread is serving was accepted (see Handler.parse_request).
_accepted = threading.local()


class PooledMixIn:
    """Connections served by reused threads, at most :data:`MAX_THREADS` at once.

    socketserver's ThreadingMixIn starts a thread per connection: ~0.1 ms of the daemon's
    time per message (a client such as ``filter --connect`` opens one connection per
    message, as spamc does), and no bound on how many a flood of connections makes. Here a
    thread is started only when none is free; past the cap, accepted connections wait
    their turn in order. The cap is high on purpose: a connection that stalls holds its
    thread for up to the I/O timeout, so a low cap would let a few stalled clients hold up
    everyone (the socket's mode already limits who can connect). The threads are daemonic:
    a client stalled mid-request never holds up shutdown."""

    MAX_THREADS = 512
    #: The listen backlog: socketserver's default of 5 refuses (EAGAIN on a unix socket)
    #: the sixth client that connects before the server thread has accepted the others,
    #: a burst that a busy MX makes; the kernel caps it at net.core.somaxconn.
    request_queue_size = socket.SOMAXCONN

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._requests: queue.SimpleQueue[tuple[Any, Any, float] | None] = queue.SimpleQueue()
        self._pool_lock = threading.Lock()
        self._free = 0  # threads waiting for a connection that no queued one is promised to
        self._backlog = 0  # queued connections past the cap, promised to no thread
        self._threads: list[threading.Thread] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        """Promise the connection to a waiting thread, else to a new one, else (past the
        cap) to the next thread that finishes; then queue it."""
        with self._pool_lock:
            if self._free:
                self._free -= 1
            elif len(self._threads) < self.MAX_THREADS:
                thread = threading.Thread(target=self._serve, name="connection", daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._backlog += 1
        self._requests.put((request, client_address, time.perf_counter()))

    def _serve(self) -> None:
        while (item := self._requests.get()) is not None:
            request, client_address, _accepted.at = item
            try:
                self.finish_request(request, client_address)  # type: ignore[attr-defined]
            except Exception:
                self.handle_error(request, client_address)  # type: ignore[attr-defined]
            finally:
                self.shutdown_request(request)  # type: ignore[attr-defined]
            with self._pool_lock:
                if self._backlog:
                    self._backlog -= 1
                else:
                    self._free += 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line, not socketserver's traceback on stderr: what escapes a handler
        here is a client that went away between requests, or a malformed request head."""
        import sys

        kind, error = sys.exc_info()[:2]
        name = kind.__name__ if kind is not None else "error"
        log.warning("connection ended: %s: %s", name, error)

    def server_close(self) -> None:
        super().server_close()  # type: ignore[misc]
        for _ in self._threads:
            self._requests.put(None)


class UnixHTTPServer(PooledMixIn, socketserver.UnixStreamServer):
    pass


class LoopbackHTTPServer(PooledMixIn, HTTPServer):
    def server_bind(self) -> None:
        """As HTTPServer's, without its reverse DNS lookup of our own address."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


def bind_unix(path: Path, mode: int, gid: int | None, handler: type[Handler]) -> UnixHTTPServer:
    """The listening socket at ``path`` with ``mode`` (and group): created under a tight
    umask, so it is never reachable by more than asked. A stale socket file (nobody
    listening) is replaced; a live one is refused, as is any other kind of file."""
    import os

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
    previous = os.umask(0o177)
    try:
        server = UnixHTTPServer(str(path), handler)
    except OSError as exc:
        raise BackscatterError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(previous)
    try:
        if gid is not None:
            os.chown(path, -1, gid)
        os.chmod(path, mode)
    except OSError as exc:
        server.server_close()
        path.unlink(missing_ok=True)
        raise BackscatterError(f"cannot set the mode/group of {path}: {exc.strerror}") from None
    return server


def bind_http(host: str, port: int, handler: type[Handler]) -> LoopbackHTTPServer:
    from backscatter.errors import BackscatterError

    try:
        return LoopbackHTTPServer((host, port), handler)
    except OSError as exc:
        raise BackscatterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class Daemon:
    """The servers, their threads and the shutdown. Create the pool before this (it forks)."""

    def __init__(self, service: ScoringService, model_path: Path | None = None) -> None:
        self.service = service
        self.model_path = model_path  # what SIGHUP reloads: the file it was started with
        self._reloading = threading.Lock()
        self.handler = type("BoundHandler", (Handler,), {"service": service})
        self.servers: list[socketserver.BaseServer] = []
        self.socket_path: Path | None = None
        self._stop = threading.Event()
        self._signal: str | None = None

    def listen_unix(self, path: Path, mode: int, gid: int | None) -> None:
        self.servers.append(bind_unix(path, mode, gid, self.handler))
        self.socket_path = path

    def listen_http(self, host: str, port: int) -> int:
        """Listen on HOST:PORT too; the port bound (PORT 0 picks a free one)."""
        server = bind_http(host, port, self.handler)
        self.servers.append(server)
        return int(server.server_address[1])

    def reload(self) -> None:
        """The hook SIGHUP calls (issue 13): reload the model from the file the daemon was
        started with, in a thread of its own (a signal handler must return at once). The
        pool's zygote loads and checks it; a new generation of workers takes over and the
        old ones finish what they are scoring: no connection is dropped. A bad file is one
        error line and the old model keeps serving."""
        if self.model_path is None:
            log.warning("SIGHUP: no model file to reload; still serving the old model")
            return
        threading.Thread(target=self._reload, name="reload", daemon=True).start()

    def _reload(self) -> None:
        from backscatter.errors import BackscatterError

        with self._reloading:  # two quick SIGHUPs: one reload after the other
            try:
                described = self.service.pool.reload(self.model_path)  # type: ignore[arg-type]
            except BackscatterError as exc:
                log.error("SIGHUP: kept the old model (%s): %s", self.service.pool.model, exc)
                return
            log.info("SIGHUP: reloaded the model: %s", described)

    def run(self, on_start: Callable[[], None] | None = None) -> str:
        """Serve until SIGTERM or SIGINT; returns the signal's name. Servers stop, the socket
        file is removed and the pool is closed, whatever happens."""
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._on_signal)
        signal.signal(signal.SIGHUP, lambda number, frame: self.reload())
        threads = [
            threading.Thread(target=s.serve_forever, name="serve", daemon=True)
            for s in self.servers
        ]
        try:
            for thread in threads:
                thread.start()
            if on_start is not None:
                on_start()
            while not self._stop.wait(1.0):
                pass
        finally:
            for server in self.servers:
                server.shutdown()
                server.server_close()
            if self.socket_path is not None:
                with contextlib.suppress(OSError):
                    self.socket_path.unlink()
            self.service.pool.close()
        return self._signal or "stop"

    def _on_signal(self, number: int, frame: object) -> None:
        self._signal = signal.Signals(number).name
        self._stop.set()
