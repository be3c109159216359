"""One client connection of ``backscatter serve``: HTTP/1.1 on an asyncio loop.

httptools (llhttp, Node's parser, in C) reads the requests: request line, fields, chunked
bodies, keep-alive; this module only routes them and writes the answers. Requests on a
connection are answered in order, one at a time; reading pauses when a request is complete
while another is being answered, so a client pipelining requests holds at most one read's
worth of them.

- ``POST /score``   raw message -> the JSON record of ``backscatter score -f jsonl``
- ``POST /headers`` raw message -> the header block to add (CRLF lines, long ones folded)
- ``POST /filter``  raw message -> the message with the headers, as ``backscatter filter``
- ``GET /health``   -> JSON: worker pids, the spare, idle workers, killed, version

The envelope goes in the query (``?sender=&recipient=a@x&recipient=b@y``; ``sender=`` empty
is the null sender); ``budget_ms=`` may lower the budget, never raise it. A body over
``max_bytes`` is scored on its head and, for ``/filter``, the rest is spooled (to disk past
1 MiB) and sent back unread: the pipe filter's semantics.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import tempfile
import time
from collections import deque
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, cast
from urllib.parse import parse_qs

import httptools

from backscatter import __version__
from backscatter.filters.pipe import field_lines
from backscatter.filters.service import record_of, summary, to_json

if TYPE_CHECKING:
    from backscatter.detector import Envelope
    from backscatter.filters.service import ScoringService

log = logging.getLogger("backscatter.serve")

_CHUNK = 1 << 16
_SPOOL_IN_MEMORY = 1 << 20  # a body past the cap waits on disk beyond this
#: The request line and fields together: llhttp sets no limit and httptools gathers a field
#: whole before it is handed over, so without one a client could grow the daemon's memory
#: for as long as it sends. http.server's limits were 64 KiB a line and 100 fields.
MAX_HEAD = 1 << 16
IO_TIMEOUT = 30.0  # seconds a connection may go without a byte in or out before it is closed
_POSTS = (b"/score", b"/headers", b"/filter")
_NOT_FOUND = b"not found: GET /health, POST /score, /headers or /filter\n"
_SERVER = f"backscatter/{__version__}"
_LENGTH_REQUIRED = b"a Content-Length or chunked body is required\n"
#: PUT is read as POST: ``curl -T -`` streams a message from a pipe (chunked) with it.
_POST = (b"POST", b"PUT")


class _Request:
    """A request as it arrives: the head's facts, the body's first ``max_bytes``, the rest
    counted (and, for /filter, spooled)."""

    __slots__ = ("expect", "framed", "head_bytes", "keep_alive", "method", "parts", "path",
                 "query", "rest", "size", "spool", "started", "target")  # fmt: skip

    def __init__(self, started: float) -> None:
        self.target = b""
        self.method = b""  # set when the head is complete
        self.head_bytes = 0  # received while the head was incomplete
        self.path = b""
        self.query = b""
        self.framed = False  # a Content-Length or chunked: a body the parser can delimit
        self.expect = False  # Expect: 100-continue
        self.parts: list[bytes] = []
        self.size = 0
        self.rest = 0
        self.spool: IO[bytes] | None = None
        self.started = started
        self.keep_alive = False

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


class Connection(asyncio.Protocol):
    """The parser's callbacks collect a request; a task answers the complete ones."""

    transport: asyncio.Transport  # from connection_made on: nothing is called before it

    def __init__(self, service: ScoringService) -> None:
        self.service = service
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.accepted: float | None = None
        self.current: _Request | None = None
        self.pending: deque[_Request] = deque()
        self.answering: asyncio.Task[None] | None = None
        self.writable: asyncio.Future[None] | None = None  # set while the transport's full
        self.closed = False
        self.eof = False
        self.paused = False
        self.active = 0.0  # loop time of the last byte in or out (the I/O timeout)
        self.timer: asyncio.TimerHandle | None = None

    # -- the transport's side ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass of it
        self.accepted = time.perf_counter()
        self.active = self.loop.time()
        self.timer = self.loop.call_at(self.active + IO_TIMEOUT, self._timeout)

    def data_received(self, data: bytes) -> None:
        self.active = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(HTTPStatus.NOT_IMPLEMENTED, b"protocol upgrades are not served\n")
        except httptools.HttpParserError as exc:
            log.warning("request failed: not HTTP/1.1: %s", str(exc)[:100])
            self._refuse(HTTPStatus.BAD_REQUEST, b"bad request\n")
        else:
            request = self.current
            if request is not None and not request.method:  # its head is still coming
                request.head_bytes += len(data)
                if request.head_bytes > MAX_HEAD:
                    log.warning("request failed: a request head over %d bytes", MAX_HEAD)
                    self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, b"head too long\n")

    def eof_received(self) -> bool:
        """The client has sent all it will (a half-close): answer what it asked, then close.
        Mid-request, there is nothing to answer."""
        self.eof = True
        if self.current is not None or (not self.pending and self.answering is None):
            if self.current is not None:
                log.warning("request failed: the client closed the connection mid-request")
            return False
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        for request in (self.current, *self.pending):
            if request is not None:
                request.close()
        self.pending.clear()
        self._writable()

    def pause_writing(self) -> None:
        self.writable = self.loop.create_future()

    def resume_writing(self) -> None:
        self.active = self.loop.time()
        self._writable()

    def _writable(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    def _timeout(self) -> None:
        """Closes a connection silent for IO_TIMEOUT: a client stalled mid-request, idle
        between requests, or not reading its answer. One timer per connection, re-armed."""
        if self.closed:
            return
        if self.answering is not None and self.writable is None:
            self.active = self.loop.time()  # scoring: the budget bounds that, not this
        if self.loop.time() - self.active < IO_TIMEOUT:
            self.timer = self.loop.call_at(self.active + IO_TIMEOUT, self._timeout)
            return
        if self.current is not None or self.writable is not None:
            log.warning("request failed: the client stalled for %.0f s", IO_TIMEOUT)
        self.transport.abort()

    # -- the parser's callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        """A request's time (its log line's ``ms=``) starts here; the first on a connection
        counts from the accept, a later one from its first byte (the wait before it is the
        client's)."""
        started = self.accepted if self.accepted is not None else time.perf_counter()
        self.accepted = None
        self.current = _Request(started)

    def on_url(self, url: bytes) -> None:
        if self.current is not None:
            self.current.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.current
        if request is None:
            return
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding"):
            request.framed = True  # bad values are the parser's error
        elif name == b"expect" and value.strip().lower() == b"100-continue":
            request.expect = True

    def on_headers_complete(self) -> None:
        request = self.current
        if request is None:
            return
        request.method = self.parser.get_method()
        url = httptools.parse_url(request.target)  # a bad target: the parser's error, a 400
        request.path, request.query = url.path or b"", url.query or b""
        if request.expect and request.framed and request.method in _POST:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        request = self.current
        if request is None:
            return
        room = self.service.max_bytes - request.size
        if room >= len(body):
            request.parts.append(body)
            request.size += len(body)
            return
        if room > 0:
            request.parts.append(body[:room])
            request.size += room
            body = body[room:]
        request.rest += len(body)
        if request.path == b"/filter":
            if request.spool is None:
                request.spool = tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY)  # noqa: SIM115
            request.spool.write(body)

    def on_message_complete(self) -> None:
        request, self.current = self.current, None
        if request is None:
            return
        request.keep_alive = self.parser.should_keep_alive() and not self.eof
        self.pending.append(request)
        if self.answering is None:
            self.answering = self.loop.create_task(self._answer_pending())
        elif not self.paused:  # pipelined: read no more until these are answered
            self.paused = True
            self.transport.pause_reading()

    # -- answering --------------------------------------------------------------------------
    async def _answer_pending(self) -> None:
        try:
            while self.pending and not self.closed:
                request = self.pending.popleft()
                try:
                    await self._answer(request)
                finally:
                    request.close()
                if not request.keep_alive:
                    self.transport.close()
                    return
            if not self.closed:
                if self.eof:
                    self.transport.close()
                elif self.paused:
                    self.paused = False
                    self.transport.resume_reading()
        finally:
            self.answering = None

    async def _answer(self, request: _Request) -> None:
        """The boundary: whatever goes wrong in here is one log line and a 500, and the
        client (``filter --connect``) passes the message through untouched."""
        try:
            await self._route(request)
        except Exception as exc:
            request.keep_alive = False
            log.error("internal error: %s: %s", type(exc).__name__, exc)
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n", True)

    async def _route(self, request: _Request) -> None:
        path, close = request.path, not request.keep_alive
        if request.method == b"GET":
            if path == b"/health":
                health = to_json(self.service.health())
                self._reply(HTTPStatus.OK, health, close, b"application/json")
            else:
                self._reply(HTTPStatus.NOT_FOUND, _NOT_FOUND, close)
            return
        if request.method not in _POST:
            self._reply(HTTPStatus.NOT_IMPLEMENTED, b"GET /health; POST a message\n", close)
            return
        if not request.framed:
            request.keep_alive = False
            self._reply(HTTPStatus.LENGTH_REQUIRED, _LENGTH_REQUIRED, True)
            return
        if path not in _POSTS:
            self._reply(HTTPStatus.NOT_FOUND, _NOT_FOUND, close)
            return
        query = parse_qs(request.query.decode("latin-1"), keep_blank_values=True)
        envelope = _envelope(query)
        budget_s = self.service.budget_s
        with contextlib.suppress(KeyError, ValueError, IndexError):  # less, never more
            budget_s = min(budget_s, int(query["budget_ms"][0]) / 1000) or budget_s
        head = b"".join(request.parts)
        if path == b"/filter":
            output, answer = await self.service.filtered(head, envelope, budget_s)
            await self._reply_streaming(output, request.spool, request.rest, close)
        elif path == b"/score":
            answer = await self.service.answer(head, envelope, budget_s, record=True)
            self._reply(HTTPStatus.OK, record_of(answer), close, b"application/json")
        else:
            answer = await self.service.answer(head, envelope, budget_s)
            self._reply(HTTPStatus.OK, field_lines(answer.headers, b"\r\n"), close)
        log.info(summary(path.decode("latin-1"), request.size + request.rest, answer,
                         request.started))  # fmt: skip

    def _refuse(self, status: HTTPStatus, body: bytes) -> None:
        """A request that cannot be read any further: answered (if nothing else is being
        answered on the connection) and the connection closed."""
        if self.current is not None:
            self.current.close()
            self.current = None
        if self.answering is None and not self.closed:
            self._reply(status, body, True)
        self.closed = True
        self.transport.close()

    def _head(self, status: HTTPStatus, length: int, content_type: bytes, close: bool) -> bytes:
        return b"HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\nContent-Type: %s\r\n" \
            b"Content-Length: %d\r\n%s\r\n" % (
                status, status.phrase.encode(), _SERVER.encode(), _date().encode(),
                content_type, length, b"Connection: close\r\n" if close else b"",
            )  # fmt: skip

    def _reply(
        self, status: HTTPStatus, body: bytes, close: bool, content_type: bytes = b"text/plain"
    ) -> None:
        if self.closed:
            return  # the client has gone; its answer has nowhere to go
        self.transport.write(self._head(status, len(body), content_type, close) + body)
        self.active = self.loop.time()

    async def _reply_streaming(
        self, output: bytes, spool: IO[bytes] | None, rest: int, close: bool
    ) -> None:
        """The filtered head, then the part of the body past the cap, copied unread; the
        copy waits whenever the client reads slower than we write (bounded memory)."""
        if spool is None:
            self._reply(HTTPStatus.OK, output, close, b"message/rfc822")
            return
        if self.closed:
            return
        head = self._head(HTTPStatus.OK, len(output) + rest, b"message/rfc822", close)
        self.transport.write(head + output)
        spool.seek(0)
        while not self.closed and (chunk := spool.read(_CHUNK)):
            if self.writable is not None:
                await self.writable
            if not self.closed:
                self.transport.write(chunk)
        self.active = self.loop.time()


def _envelope(query: dict[str, list[str]]) -> Envelope | None:
    from backscatter.detector import Envelope

    sender = query["sender"][0] if "sender" in query else None
    recipients = tuple(r for r in query.get("recipient", ()) if r)
    if sender is None and not recipients:
        return None
    return Envelope(sender.strip("<>") if sender is not None else None, recipients)


_dated: tuple[int, str] = (0, "")


def _date() -> str:
    """The Date field, formatted once a second rather than once a response."""
    global _dated
    now = int(time.time())
    if _dated[0] != now:
        _dated = (now, email.utils.formatdate(now, usegmt=True))
    return _dated[1]
