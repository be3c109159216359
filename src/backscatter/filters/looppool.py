"""The scoring pool driven by an event loop: the daemon's side of :class:`ScoringPool`.

The daemon serves every connection from one asyncio loop (issue 10: a thread per connection
and blocking pool calls cost ~0.35 ms of the daemon's CPU per message, and the hand-offs
between threads were most of its p99). Here a message waits for an idle worker in a FIFO of
futures; its request is written to the worker's channel without blocking, and the reply
is read by a reader the loop polls for the worker's whole life (:class:`_Link`), so a
message costs no poller registration. Everything else (the zygote, forks, kills, the
spare, reloads) is the :class:`ScoringPool`'s own code: only where a worker waits, and how
bytes move, differ.

A budget is a timeout on the loop; at it the worker is killed (SIGKILL) and replaced, as in
the threaded pool. Threads still put workers back (the respawn after a kill, a reload's
blocking half in an executor): :class:`_LoopIdle` hands those to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import queue
import socket
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backscatter.filters.workers import _LENGTH, NO_FREE_WORKER, ScoringPool, _request, _Worker

if TYPE_CHECKING:
    from backscatter.detector import Envelope, Verdict

_RECEIVE = 1 << 18


class _LoopIdle:
    """Idle workers for callers on one loop; waiters are served in order (fair)."""

    def __init__(self) -> None:
        self._workers: deque[_Worker] = deque()
        self._waiters: deque[asyncio.Future[_Worker | None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on, puts from other threads go through ``loop``."""
        self._loop, self._thread = loop, threading.get_ident()

    def put(self, worker: _Worker) -> None:
        if self._loop is not None and threading.get_ident() != self._thread:
            with contextlib.suppress(RuntimeError):  # the loop is closed: so is the pool
                self._loop.call_soon_threadsafe(self._put, worker)
            return
        self._put(worker)

    def _put(self, worker: _Worker) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._workers.append(worker)

    def get_nowait(self) -> _Worker:
        if not self._workers:
            raise queue.Empty
        return self._workers.popleft()

    def qsize(self) -> int:
        return len(self._workers)

    async def get(self, timeout: float | None) -> _Worker | None:
        """The next idle worker, or None after ``timeout`` seconds (None: no limit)."""
        if self._workers:  # then no waiter is left: _put hands a worker to one first
            return self._workers.popleft()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_Worker | None] = loop.create_future()
        self._waiters.append(waiter)
        timer = None
        if timeout is not None:
            timer = loop.call_later(max(0.0, timeout), _expire, waiter)
        try:
            return await waiter
        except asyncio.CancelledError:  # its request was abandoned: a worker handed over
            if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                self._put(waiter.result())  # type: ignore[arg-type]  # goes to the next
            raise
        finally:
            if timer is not None:
                timer.cancel()


def _expire(waiter: asyncio.Future[_Worker | None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class LoopScoringPool(ScoringPool):
    """:class:`ScoringPool` for callers on one asyncio loop: :meth:`score_async`,
    :meth:`reload_async`. Create it before the loop runs (it forks); then :meth:`attach`."""

    _idle: _LoopIdle  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._links: dict[int, _Link] = {}  # by worker pid: the readers the loop polls
        super().__init__(*args, **kwargs)
        self._reloading = asyncio.Lock()

    def _idle_workers(self) -> _LoopIdle:  # type: ignore[override]
        return _LoopIdle()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve callers on ``loop`` (call it from the loop's thread, before the first)."""
        self._idle.attach(loop)

    def _spawn(self, generation: int | None = None) -> _Worker:
        worker = super()._spawn(generation)
        worker.channel.setblocking(False)
        return worker

    async def score_async(
        self,
        data: bytes,
        source: str = "-",
        envelope: Envelope | None = None,
        budget_s: float | None = None,
        shape: Callable[[Verdict], Any] | None = None,
    ) -> Any:
        """As :meth:`ScoringPool.score`, awaited on the loop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget_s if budget_s and budget_s > 0 else None
        request = _request(data, source, envelope, shape)
        while True:
            wait = None if deadline is None else deadline - loop.time()
            worker = await self._idle.get(wait)
            if worker is None:
                return NO_FREE_WORKER
            if not self._current(worker):
                continue
            link = self._links.get(worker.pid) or self._link(loop, worker)
            try:
                await loop.sock_sendall(worker.channel, _LENGTH.pack(len(request)) + request)
            except OSError:  # it died while idle: not this message's doing, try another
                self._replace(worker, killed=False)
                continue
            try:
                reply = pickle.loads(await link.reply(deadline))
            except asyncio.CancelledError:
                self._replace(worker, killed=False)  # mid-message: its reply would be stale
                raise
            except Exception as exc:  # the deadline, or it died on this message
                return self._lost(worker, exc)
            self._release(worker)
            return reply

    def _link(self, loop: asyncio.AbstractEventLoop, worker: _Worker) -> _Link:
        link = self._links[worker.pid] = _Link(loop, worker.channel)
        return link

    def _unlink(self, worker: _Worker) -> None:
        link = self._links.pop(worker.pid, None)
        if link is not None:
            link.close()

    def _retire(self, worker: _Worker) -> None:
        self._unlink(worker)  # before its channel closes: the loop must not poll a stale fd
        super()._retire(worker)

    def _replace(self, worker: _Worker, killed: bool) -> None:
        self._unlink(worker)
        super()._replace(worker, killed)

    async def reload_async(self, path: str | Path) -> str:
        """As :meth:`ScoringPool.reload`: the zygote's load and the forks in a thread, so
        the loop goes on serving; the swap on the loop. One reload at a time."""
        async with self._reloading:
            loaded = await asyncio.get_running_loop().run_in_executor(None, self._load, path)
            return self._swap(*loaded)


class _Link:
    """The loop's reader of one worker's channel, registered once for the worker's life (a
    read per reply, no poller calls per message): it completes the awaited reply."""

    def __init__(self, loop: asyncio.AbstractEventLoop, channel: socket.socket) -> None:
        self.loop = loop
        self.channel = channel
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.ended = False
        loop.add_reader(channel.fileno(), self._readable)

    async def reply(self, deadline: float | None) -> bytes:
        """The next length-prefixed reply; TimeoutError at ``deadline`` (loop time), EOFError
        when the worker is gone."""
        if self.ended:
            raise EOFError("the worker closed its channel")
        waiter = self.waiter = self.loop.create_future()
        if deadline is not None:
            self.timer = self.loop.call_at(deadline, self._fail, TimeoutError())
        try:
            return await waiter
        finally:
            self.waiter = None
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None

    def _readable(self) -> None:
        try:
            chunk = self.channel.recv(_RECEIVE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.close()
            self._fail(EOFError("the worker closed its channel"))
            return
        self.buffer += chunk
        if len(self.buffer) < _LENGTH.size:
            return
        total = _LENGTH.size + _LENGTH.unpack_from(self.buffer)[0]
        if len(self.buffer) >= total and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(bytes(self.buffer[_LENGTH.size : total]))
            del self.buffer[:total]

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    def close(self) -> None:
        if not self.ended:
            self.ended = True
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                self.loop.remove_reader(self.channel.fileno())
