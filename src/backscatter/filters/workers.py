"""A pool of scoring processes whose time budget stops the work it abandons.

Issue 12, item 3: with threads, a message over its budget was let through while its scoring
thread ran on; eight slow messages burnt 37 s of CPU and left the next ordinary messages
untagged. Here each message is scored in a worker *process*; one over its budget is killed
(SIGKILL) and replaced, and its caller gets :class:`Unscored` ``("budget")`` at once.

How the processes are made, and why:

- A *zygote* is forked once, when the pool is created, from a process that has already loaded
  the Detector and has not started any thread yet (create the pool before the servers).
  It forks every worker on request, so a worker starts with the model in memory
  (copy-on-write; a fork takes a few milliseconds) and never inherits the daemon's listening
  sockets, its threads or their locks.
- One spare worker is kept forked: a killed worker's place is taken at once, and a burst of
  hostile messages does not leave the pool empty while forks catch up.
- The zygote ignores SIGCHLD, so the kernel reaps killed workers at once: no zombies. Every
  process reads a socket to its parent and exits at end-of-file: when the daemon dies,
  however it dies, the zygote and the workers go too (no orphans).
- A worker reopens the sent-log after the fork (SQLite connections must not cross a fork).

A request is a length-prefixed pickle of (message, source, envelope, shape); a reply the
pickled Verdict, or ``shape(verdict)`` when the caller named a module-level function: the
daemon has its workers build the headers or the JSON record, so that what crosses back is a
few hundred bytes, not a Verdict to unpickle (both ends are this module, in processes forked
from the same parent).

Before the zygote is forked, what scoring imports lazily is imported and the heap is frozen
(``gc.freeze``): a new worker neither pays an import on some message's budget nor has the
collector walk (and so copy) the model's pages that it shares with its parent.

Reloading the model (issue 13, SIGHUP): the *zygote* loads the new file (the allowlisted
skops load, the feature contract, one warm-up message scored to a probability) and says so;
the pool then forks a new generation of workers from it and retires the old ones: an idle
one at once, a busy one when its message is answered. Nothing is forked from the daemon,
which by then runs threads; no connection waits for more than a fork. A model that fails
any check leaves the zygote, and so every worker, with the old one.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
import pickle
import queue
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from backscatter.filters.unscored import BUDGET, ERROR, Unscored

if TYPE_CHECKING:
    from backscatter.detector import Detector, Envelope, Verdict

log = logging.getLogger("backscatter.workers")

_LENGTH = struct.Struct("!I")
_CHUNK = 1 << 20
_RELOAD_S = 60.0  # a model load in the zygote that takes longer is a failed reload

#: Scored once before the zygote forks, so that what the first message imports lazily is
#: already in every worker (the first message otherwise takes ~0.5 s).
_WARM_UP = b"""Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: alice@example.org
Subject: Undelivered Mail Returned to Sender
Date: Mon, 3 Mar 2025 10:15:02 +0100
Message-Id: <warm-up@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain; charset=us-ascii

<bob@example.com>: host mx.example.com[192.0.2.7] said: 550 5.1.1
    <bob@example.com>: Recipient address rejected: User unknown

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; bob@example.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: User unknown

--b
Content-Type: message/rfc822

From: Alice <alice@example.org>
To: bob@example.com
Subject: Figures
Message-ID: <figures@example.org>

Hello
--b--
"""


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, pid: int, channel: socket.socket, generation: int = 0) -> None:
        self.pid = pid
        self.channel = channel
        self.generation = generation  # of the model it holds (see ScoringPool.reload)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.channel.close()


class ScoringPool:
    """``size`` worker processes (default: one per core), each with the loaded Detector.

    Create it before starting any thread (it forks). :meth:`score` is thread-safe; at most
    ``size`` messages are scored at once and the others wait for a free worker, at most
    their budget."""

    def __init__(self, detector: Detector, size: int | None = None) -> None:
        self.size = max(1, size or os.cpu_count() or 1)
        self.threshold = detector.threshold
        self.killed = 0  # workers stopped for overrunning their budget
        self.died = 0  # workers that died on their own (a crash, the OOM killer)
        self._idle = self._idle_workers()
        self._live: dict[int, _Worker] = {}
        self._lock = threading.Lock()  # the zygote channel and the live set
        self._closed = False
        self._generation = 0
        self.model = ""  # what /health and the log call the model (set by the daemon)
        _warm(detector)
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the zygote
            ours.close()
            _zygote(theirs, detector)
        theirs.close()
        self._zygote_pid, self._control = pid, ours
        for _ in range(self.size):
            self._idle.put(self._spawn())
        # One spare, forked in advance: a killed worker's place is taken at once (a fork of
        # the loaded model takes ~50 ms on a busy machine), then the spare is re-made.
        self._spare: _Worker | None = self._spawn()

    def _idle_workers(self) -> queue.Queue[_Worker]:
        """Where idle workers wait: a FIFO for the threads that wait for them (fair)."""
        return queue.Queue()

    @property
    def pids(self) -> list[int]:
        """The scoring workers' process ids, the spare not included (for /health, tests)."""
        with self._lock:
            spare = self._spare.pid if self._spare is not None else None
            return sorted(pid for pid in self._live if pid != spare)

    @property
    def spare_pid(self) -> int | None:
        with self._lock:
            return self._spare.pid if self._spare is not None else None

    @property
    def zygote_pid(self) -> int:
        return self._zygote_pid

    @property
    def idle(self) -> int:
        return self._idle.qsize()

    def score(
        self,
        data: bytes,
        source: str = "-",
        envelope: Envelope | None = None,
        budget_s: float | None = None,
        shape: Callable[[Verdict], Any] | None = None,
    ) -> Any:
        """The message's Verdict (or ``shape(verdict)``, computed in the worker; ``shape``
        must be a module-level function), or :class:`Unscored` when it overran ``budget_s``
        (waiting for a free worker included; None or <= 0: no budget) or its worker failed."""
        deadline = time.monotonic() + budget_s if budget_s and budget_s > 0 else None
        request = _request(data, source, envelope, shape)
        while True:
            worker = self._take(deadline)
            if worker is None:
                return NO_FREE_WORKER
            try:
                _send(worker.channel, request)
            except OSError:  # it died while idle: not this message's doing, try another
                self._replace(worker, killed=False)
                continue
            try:
                reply = pickle.loads(_receive(worker.channel, deadline))
            except Exception as exc:  # the deadline, or it died on this message
                return self._lost(worker, exc)
            self._release(worker)
            return reply

    def _take(self, deadline: float | None) -> _Worker | None:
        while True:
            try:
                if deadline is None:
                    worker = self._idle.get()
                else:
                    worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if self._current(worker):
                return worker

    def _current(self, worker: _Worker) -> bool:
        """Whether an idle worker holds the current model; one left idle by a reload is
        retired here, when it is next taken."""
        if worker.generation == self._generation:
            return True
        self._retire(worker)
        return False

    def _lost(self, worker: _Worker, error: Exception) -> Unscored:
        """A reply that did not come: at the deadline (TimeoutError) the worker is killed for
        the budget, on anything else (EOF, a bad reply) it died on this message; either way
        it is replaced, and the caller gets what to say of the message."""
        if isinstance(error, TimeoutError):
            self._replace(worker, killed=True)
            return Unscored(BUDGET, f"worker {worker.pid} killed after the budget")
        self._replace(worker, killed=False)
        return Unscored(ERROR, f"worker {worker.pid} failed: {type(error).__name__}")

    def _release(self, worker: _Worker) -> None:
        """Back to the idle queue, or, if a reload happened meanwhile, retired."""
        if worker.generation == self._generation:
            self._idle.put(worker)
        else:
            self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        """End a worker of an old model: closing its channel ends its loop (exit 0)."""
        with self._lock:
            self._live.pop(worker.pid, None)
        with contextlib.suppress(OSError):
            worker.channel.close()

    def reload(self, path: str | Path) -> str:
        """Load the model at ``path`` into the zygote and replace every worker with one
        holding it; returns the model's description (name and hash). BackscatterError,
        with the old model still serving, when the file fails the checks."""
        return self._swap(*self._load(path))

    def _load(self, path: str | Path) -> tuple[str, int, list[_Worker]]:
        """The blocking half of :meth:`reload`: the zygote loads and checks the model, and a
        new generation of workers (and a spare) is forked from it; none is in service yet."""
        from backscatter.errors import BackscatterError

        encoded = os.fsencode(str(path))
        with self._lock:
            if self._closed:
                raise BackscatterError("the pool is closed")
            try:
                self._control.sendall(b"r" + _LENGTH.pack(len(encoded)) + encoded)
                reply = _receive(self._control, time.monotonic() + _RELOAD_S).decode()
            except (OSError, EOFError) as exc:
                raise BackscatterError(f"the scoring zygote did not answer: {exc}") from None
            finally:
                self._control.settimeout(None)
        status, _, detail = reply.partition(":")
        if status != "ok":
            raise BackscatterError(detail)
        generation = self._generation + 1  # forked first: no caller waits for a fork
        return detail, generation, [self._spawn(generation) for _ in range(self.size + 1)]

    def _swap(self, detail: str, generation: int, fresh: list[_Worker]) -> str:
        """The quick half of :meth:`reload`: the new workers in service, the old retired."""
        with self._lock:
            self._generation = generation
            old_spare, self._spare = self._spare, fresh.pop()
        if old_spare is not None:
            self._retire(old_spare)
        for worker in fresh:
            self._idle.put(worker)
        drained: list[_Worker] = []  # the old idle workers go now, not when next taken
        with contextlib.suppress(queue.Empty):
            while True:
                drained.append(self._idle.get_nowait())
        for worker in drained:
            self._release(worker)
        self.model = detail
        return detail

    def _replace(self, worker: _Worker, killed: bool) -> None:
        """Kill the worker and start another in the background: the caller answers at once."""
        worker.kill()
        with self._lock:
            self._live.pop(worker.pid, None)
            if killed:
                self.killed += 1
            else:
                self.died += 1
            if self._closed or worker.generation != self._generation:
                return  # a reload has already put a new worker in its place
            spare, self._spare = self._spare, None
        if spare is not None:
            self._idle.put(spare)  # in service at once; the new process becomes the spare
        threading.Thread(
            target=self._respawn, args=(spare is None,), name="respawn", daemon=True
        ).start()

    def _respawn(self, into_service: bool) -> None:
        try:
            worker = self._spawn()
        except OSError as exc:
            log.error("cannot start a scoring worker (%s): the pool has shrunk", exc)
            return
        with self._lock:
            if not into_service and self._spare is None:
                self._spare = worker
                return
        self._idle.put(worker)

    def _spawn(self, generation: int | None = None) -> _Worker:
        with self._lock:
            if self._closed:
                raise OSError("the pool is closed")
            self._control.sendall(b"s")
            message, fds, _flags, _address = socket.recv_fds(self._control, _LENGTH.size, 1)
            if len(message) != _LENGTH.size or len(fds) != 1:
                raise OSError("the scoring zygote is gone")
            worker = _Worker(
                _LENGTH.unpack(message)[0],
                socket.socket(fileno=fds[0]),
                self._generation if generation is None else generation,
            )
            self._live[worker.pid] = worker
            return worker

    @staticmethod
    def describe(path: str | Path) -> str:
        """A model as the log and /health name it: file name and the start of its hash."""
        try:
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()[:12]
        except OSError:
            digest = "?"
        return f"{Path(path).name} sha256:{digest}"

    def close(self) -> None:
        """Stop every worker and the zygote, and reap the zygote: nothing left behind."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers, self._live = list(self._live.values()), {}
            self._control.close()  # the zygote reads end-of-file and exits
        for worker in workers:
            worker.kill()
        _reap(self._zygote_pid)


def reload_on_signal(
    pool: ScoringPool, path: str | Path, logger: logging.Logger, signum: int = signal.SIGUSR1
) -> threading.Thread:
    """Reload the model at ``path`` into ``pool`` whenever ``signum`` arrives, from a thread
    that waits for it (``sigwait``): for the milter, where a handler cannot work.

    libmilter (pymilter's, 1.0.1 here) starts a signal thread that ``sigwait``s SIGHUP,
    SIGTERM and SIGINT and answers SIGHUP by stopping the milter (libmilter/signal.c,
    ``mi_signal_thread``: SIGHUP and SIGTERM are MILTER_STOP); while ``runmilter`` blocks
    the main thread no Python handler runs either. So the milter reloads on SIGUSR1. Call
    this before libmilter starts its threads: the signal is blocked in the calling thread,
    every thread started afterwards inherits the block, and only this thread takes it."""
    from backscatter.errors import BackscatterError

    signal.pthread_sigmask(signal.SIG_BLOCK, {signum})

    def wait() -> None:
        while True:
            signal.sigwait({signum})
            name = signal.Signals(signum).name
            try:
                described = pool.reload(path)
            except BackscatterError as exc:
                logger.error("%s: kept the old model (%s): %s", name, pool.model, exc)
                continue
            logger.info("%s: reloaded the model: %s", name, described)

    thread = threading.Thread(target=wait, name="reload-on-signal", daemon=True)
    thread.start()
    return thread


def _warm(detector: Detector) -> None:
    """Before the first fork: import what scoring imports lazily, compile the families'
    marker patterns, score one message (what it imports on first use is then in every
    worker; the first message otherwise takes ~0.5 s), and freeze the heap, so that the
    collector in a worker never walks the objects it shares with its parent (walking them
    writes to their pages, which copies them)."""
    from backscatter.mail.addresses import preload
    from backscatter.mail.formats.text import precompile_markers

    preload()
    precompile_markers()
    with contextlib.suppress(Exception):  # a failed warm-up only costs the first message
        detector.score(_WARM_UP, "warm-up")
    gc.collect()
    gc.freeze()


#: What a message gets when every worker stayed busy until its budget ran out.
NO_FREE_WORKER = Unscored(BUDGET, "no free scoring worker within the budget")


def _request(
    data: bytes, source: str, envelope: Envelope | None, shape: Callable[[Verdict], Any] | None
) -> bytes:
    """One message as a worker reads it (see :func:`_work`)."""
    return pickle.dumps((data, source, envelope, shape), protocol=pickle.HIGHEST_PROTOCOL)


def _reap(pid: int, wait_s: float = 5.0) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            return
        time.sleep(0.01)


def _send(channel: socket.socket, payload: bytes) -> None:
    """The length and the payload in one system call (``sendmsg`` gathers them) where the
    payload fits the socket buffer, as a message and its answer almost always do."""
    if channel.gettimeout() is not None:
        channel.settimeout(None)
    header = _LENGTH.pack(len(payload))
    sent = channel.sendmsg([header, payload])
    if sent < len(header) + len(payload):
        channel.sendall((header + payload)[sent:])


def _receive(channel: socket.socket, deadline: float | None) -> bytes:
    """One length-prefixed payload, or TimeoutError at the deadline, or EOFError when the
    peer is gone. Requests and replies alternate on a channel, so nothing past this payload
    can be in the socket: the first read takes as much as there is (usually all of it)."""
    received = _read(channel, _CHUNK, deadline)
    while len(received) < _LENGTH.size:
        received += _read(channel, _CHUNK, deadline)
    (size,) = _LENGTH.unpack_from(received)
    total = _LENGTH.size + size
    if len(received) >= total:
        return received[_LENGTH.size : total]
    buffer = bytearray(received)
    while len(buffer) < total:
        buffer += _read(channel, min(total - len(buffer), _CHUNK), deadline)
    return bytes(buffer[_LENGTH.size :])


def _read(channel: socket.socket, size: int, deadline: float | None) -> bytes:
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        channel.settimeout(remaining)
    elif channel.gettimeout() is not None:
        channel.settimeout(None)
    chunk = channel.recv(size)
    if not chunk:
        raise EOFError("the other end closed the channel")
    return chunk


def _quiet_signals() -> None:
    """Ctrl-C reaches the whole process group: only the daemon decides when workers stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


def _zygote(control: socket.socket, detector: Detector) -> NoReturn:
    """Fork a worker per request byte; exit when the pool's end of ``control`` closes."""
    status, children = 1, []
    try:
        _quiet_signals()
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps workers: no zombies
        while command := control.recv(1):
            if command == b"r":
                detector = _reloaded(control, detector)
                continue
            ours, theirs = socket.socketpair()
            pid = os.fork()
            if pid == 0:
                control.close()
                theirs.close()
                _work(ours, detector)
            children.append(pid)
            ours.close()
            socket.send_fds(control, [_LENGTH.pack(pid)], [theirs.fileno()])
            theirs.close()
        status = 0
    finally:
        _end_children(children)
        os._exit(status)


def _reloaded(control: socket.socket, detector: Detector) -> Detector:
    """In the zygote: the model named on ``control`` checked and loaded, or the old one;
    either way one reply, ``ok:<name> sha256:<hash>`` or ``error:<why>``."""
    from backscatter.detector import Detector as Loaded
    from backscatter.model.persist import load

    path = os.fsdecode(_receive(control, None))
    try:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()[:12]
        model = load(path)  # the skops allowlist, the archive caps, the feature contract
        checked = Loaded(model, None, detector.config, detector.threshold).score(_WARM_UP)
        if not 0.0 <= checked.spoofed_probability <= 1.0 or checked.verdict == "unknown":
            raise ValueError(f"it scores a plain bounce {checked.verdict}")
        fresh = Loaded(model, detector.sent_log, detector.config, detector.threshold)
        reply = f"ok:{Path(path).name} sha256:{digest}"
        gc.collect()
        gc.freeze()  # as _warm: the new model's pages stay shared with the new workers
    except Exception as exc:  # whatever is wrong with the file, the old model stays
        why = str(exc) if path in str(exc) else f"{path}: {exc}"
        fresh, reply = detector, f"error:{why}".replace("\n", " ")[:500]
    _send(control, reply.encode())
    return fresh


def _end_children(children: list[int]) -> None:
    """Kill what is left and wait until it is gone, so no worker outlives the zygote (an
    orphan, or a zombie under an init that does not reap). With SIGCHLD ignored, waitpid
    returns only when every child has exited."""
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.waitpid(-1, 0)


def _work(channel: socket.socket, detector: Detector) -> NoReturn:
    """Score requests until the pool closes the channel."""
    status = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _reopen_sent_log(detector)
        while True:
            try:
                request = _receive(channel, None)
            except EOFError:
                break
            data, source, envelope, shape = pickle.loads(request)
            try:
                reply: object = detector.score(data, source, envelope)
                if shape is not None:
                    reply = shape(reply)
            except Exception as exc:  # Detector.score does not raise on mail; be sure
                reply = Unscored(ERROR, f"{type(exc).__name__}: {exc}"[:200])
            _send(channel, pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        status = 0
    finally:
        os._exit(status)


def _reopen_sent_log(detector: Detector) -> None:
    """A connection of its own: SQLite forbids using one opened before the fork, and a
    PostgreSQL connection's socket must not be shared with the parent."""
    from backscatter.sentlog import SqliteSentLog

    store = detector.sent_log
    if isinstance(store, SqliteSentLog):
        detector.sent_log = SqliteSentLog(store.path, readonly=True)
    elif store is not None and hasattr(store, "after_fork"):
        store.after_fork()
