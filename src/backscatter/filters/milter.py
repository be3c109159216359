"""The libmilter adapter (pymilter): callbacks in, a MessageSession's Decision carried out.

pymilter is the Python milter library that held up against a real Postfix here (the issue
records why not purepythonmilter or python-libmilter). Every callback is guarded: an
exception becomes the configured fault answer, never a stuck or lost message.

``serve`` is pymilter's ``Milter.runmilter`` (Milter/__init__.py, pymilter 1.0.5) taken
apart at one seam: libmilter creates the socket in ``smfi_opensocket``, before
``smfi_main`` accepts anything, so the caller can set its owner and mode and check that the
MTA can reach it in between, instead of racing libmilter from a thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import Milter
import milter as libmilter

from backscatter.filters.policy import ACCEPT, DISCARD, QUARANTINE, REJECT, TEMPFAIL
from backscatter.filters.session import TEMPFAIL_REPLY, Decision, MessageSession, MilterCore

log = logging.getLogger("backscatter.milter")

FLAGS = Milter.ADDHDRS | Milter.CHGHDRS | Milter.QUARANTINE | Milter.CHGFROM
FLAGS |= Milter.ADDRCPT | Milter.DELRCPT


def _boundary(on_failure: Callable[[BackscatterMilter], int]) -> Callable[..., Any]:
    """Catch what a callback raises, log it, and answer what ``on_failure`` says."""

    def decorate(callback: Callable[..., int]) -> Callable[..., int]:
        @wraps(callback)
        def wrapper(self: BackscatterMilter, *args: Any) -> int:
            try:
                return callback(self, *args)
            except Exception:
                log.exception("milter callback %s failed", callback.__name__)
                self.counters.error()
                return on_failure(self)

        return wrapper

    return decorate


def _answer_fault(milter: BackscatterMilter) -> int:
    return milter.fault()


def _remember_failure(milter: BackscatterMilter) -> int:
    """No-reply callbacks (headers, body): Postfix does not wait for their answer, so a
    failure is remembered and answered at end of message."""
    milter.session, milter.broken = None, True
    return Milter.CONTINUE


@dataclass
class Counters:
    """What the stop line reports; updated from every connection's thread."""

    started: float = field(default_factory=time.monotonic)
    messages: int = 0
    tagged: int = 0
    rejected: int = 0
    unscored: int = 0  # inbound mail let through (or tempfailed) without a verdict
    errors: int = 0  # callbacks that raised
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, decision: Decision | None, unscored: bool) -> None:
        with self._lock:
            self.messages += 1
            if decision is not None:
                self.tagged += bool(decision.add_headers) and decision.action not in (
                    REJECT,
                    TEMPFAIL,
                )
                self.rejected += decision.action == REJECT
            self.unscored += unscored

    def error(self) -> None:
        with self._lock:
            self.errors += 1

    def summary(self) -> str:
        uptime = time.monotonic() - self.started
        return (
            f"messages={self.messages} tagged={self.tagged} rejected={self.rejected} "
            f"unscored={self.unscored} errors={self.errors} uptime={uptime:.0f}s"
        )


class BackscatterMilter(Milter.Base):
    """One SMTP connection (libmilter runs each in its own thread)."""

    core: MilterCore  # set by serve() before the first connection
    counters: Counters = Counters()

    def __init__(self) -> None:
        self.client_ip: str | None = None
        self.session: MessageSession | None = None
        self.broken = False

    def fault(self) -> int:
        self.session, self.broken = None, False
        if self.core.policy.on_error == TEMPFAIL:
            self.setreply(*TEMPFAIL_REPLY)
            return Milter.TEMPFAIL
        return Milter.ACCEPT

    @_boundary(_answer_fault)
    def connect(self, hostname: str, family: int, hostaddr: Any) -> int:
        self.client_ip = hostaddr[0] if isinstance(hostaddr, tuple) and hostaddr else None
        return Milter.CONTINUE

    @_boundary(_answer_fault)
    def envfrom(self, sender: str, *params: str) -> int:
        self.broken = False
        self.session = MessageSession(self.core, self.client_ip, self.getsymval("{daemon_name}"))
        self.session.begin(sender, bool(self.getsymval("{auth_authen}")))
        return Milter.CONTINUE

    @Milter.noreply
    @_boundary(_remember_failure)
    def envrcpt(self, recipient: str, *params: str) -> int:
        if self.session is not None:
            self.session.add_recipient(recipient)
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name: Any, value: bytes) -> int:
        """The hot path of a header flood (issue 12: 100,000 fields): serve() registers this
        straight with libmilter (value as bytes, no per-call decoding), and it catches its own
        exceptions instead of another wrapper layer."""
        if self.session is not None:
            try:
                text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
                self.session.add_header(text, value)
            except Exception:
                log.exception("milter callback header failed")
                self.counters.error()
                _remember_failure(self)
        return Milter.CONTINUE

    @Milter.noreply
    @_boundary(_remember_failure)
    def eoh(self) -> int:
        if self.session is not None:
            self.session.end_headers()
        return Milter.CONTINUE

    @Milter.noreply
    @_boundary(_remember_failure)
    def body(self, chunk: bytes) -> int:
        if self.session is not None:
            self.session.add_body(chunk)
        return Milter.CONTINUE

    @_boundary(_answer_fault)
    def eom(self) -> int:
        session, self.session = self.session, None
        if self.broken or session is None:
            self.counters.count(None, unscored=self.broken)
            return self.fault() if self.broken else Milter.ACCEPT
        decision = session.flooded() or session.finish()
        answer = self._carry_out(decision)
        unscored = decision.verdict is None and not session.outbound
        self.counters.count(decision, unscored)
        line = session.summary(self.getsymval("i"), decision)
        if unscored:
            log.warning("%s (not scored)", line)
        else:
            log.info(line)
        if decision.verdict is not None and decision.verdict.evidence:
            log.debug("evidence: %s", "; ".join(decision.verdict.evidence))
        return answer

    def _carry_out(self, decision: Decision) -> int:
        if decision.action == TEMPFAIL:
            if decision.reply:
                self.setreply(*decision.reply)
            return Milter.TEMPFAIL
        if decision.action == REJECT and decision.reply:
            self.setreply(*decision.reply)
            return Milter.REJECT
        # Highest index first, so the indexes of the ones still to go stay right.
        for name, index in sorted(decision.remove_headers, key=lambda h: -h[1]):
            self.chgheader(name, index, None)
        for name, value in decision.add_headers:
            self.addheader(name, value)
        if decision.new_sender:
            self.chgfrom(f"<{decision.new_sender}>")
        for old, new in decision.recipient_changes:
            self.delrcpt(f"<{old}>")
            self.addrcpt(f"<{new}>")
        if decision.action == DISCARD:
            return Milter.DISCARD
        if decision.action == QUARANTINE:
            self.quarantine("backscatter: spoofed bounce")
        return Milter.ACCEPT if decision.action == ACCEPT else Milter.CONTINUE

    def abort(self) -> int:
        self.session, self.broken = None, False
        return Milter.CONTINUE

    def close(self) -> int:
        self.session = None
        return Milter.CONTINUE


class RecipientCheckingMilter(BackscatterMilter):
    """The milter when the policy refuses recipients at RCPT time (``reject_never_send_rcpt``,
    ``reject_null_sender_multi_rcpt``). Its ``envrcpt`` is not ``@Milter.noreply``: the MTA
    then waits for an answer to every RCPT (one more round trip on the milter socket per
    recipient), which only sites that turn these options on pay."""

    @_boundary(_remember_failure)
    def envrcpt(self, recipient: str, *params: str) -> int:
        refusal = self.session.recipient_refusal(recipient) if self.session else None
        if refusal is None:
            return super().envrcpt(recipient, *params)
        self.setreply(*refusal)
        return Milter.TEMPFAIL if refusal[0].startswith("4") else Milter.REJECT


# pymilter caches each class's protocol mask on first use, and a subclass finds its parent's
# cached one: computed here first, the subclass keeps its own (RCPT answered, not noreply).
RecipientCheckingMilter.protocol_mask()


def milter_class(core: MilterCore) -> type[BackscatterMilter]:
    """The class libmilter instantiates per connection: RCPT answered only when needed."""
    return RecipientCheckingMilter if core.policy.checks_recipients else BackscatterMilter


def libmilter_socket(spec: str) -> str:
    """``unix:/path`` as given; ``inet:127.0.0.1:PORT`` (the issue's form) into libmilter's
    ``inet:PORT@127.0.0.1``; ``inet6:[::1]:PORT`` likewise."""
    kind, _, rest = spec.partition(":")
    if kind in ("inet", "inet6") and "@" not in rest:
        host, _, port = rest.rpartition(":")
        if not port.isdigit() or not host:
            raise ValueError(f"expected {kind}:HOST:PORT, got {spec!r}")
        return f"{kind}:{port}@{host.strip('[]')}"
    if kind in ("unix", "local", "inet", "inet6"):
        return spec
    raise ValueError(f"socket must be unix:/path or inet:HOST:PORT, got {spec!r}")


def serve(
    core: MilterCore,
    socket: str,
    on_open: Callable[[], None] = lambda: None,
    name: str = "backscatter",
    timeout: int = 600,
) -> Counters:
    """Run until SIGTERM/SIGINT/SIGHUP (libmilter's own signal thread stops ``smfi_main``);
    returns what was done. ``on_open`` runs once the socket exists and before the first
    connection is accepted; what it raises stops the start. libmilter removes a stale
    socket file first (a milter that was killed leaves one)."""
    BackscatterMilter.core = core
    BackscatterMilter.counters = counters = Counters()
    Milter.factory = milter_class(core)
    Milter.set_flags(FLAGS)
    _register(name, libmilter_socket(socket), timeout)
    libmilter.opensocket(True)
    on_open()
    try:
        libmilter.main()
    except libmilter.error as exc:
        # A stop signal makes libmilter close the listening socket (mi_stop_milters ->
        # mi_closener); a listener inside poll() then sees an invalid descriptor and
        # smfi_main returns MI_FAILURE ("cannot run main"), depending on timing. Its other
        # failures (accept/poll/thread errors, repeated) are logged by libmilter itself.
        log.warning("libmilter's listener ended: %s", exc)
    return counters


def _register(name: str, spec: str, timeout: int) -> None:
    """``Milter.runmilter`` up to (not including) ``opensocket``: the same callbacks,
    except the header one, which goes straight to ``BackscatterMilter.header`` with bytes."""
    libmilter.set_connect_callback(Milter.connect_callback)
    libmilter.set_helo_callback(lambda ctx, host: ctx.getpriv().hello(host))
    libmilter.set_envfrom_callback(lambda ctx, *b: ctx.getpriv().envfrom_bytes(*b))
    libmilter.set_envrcpt_callback(lambda ctx, *b: ctx.getpriv().envrcpt_bytes(*b))
    libmilter.set_header_callback(lambda ctx, f, v: ctx.getpriv().header(f, v))
    libmilter.set_eoh_callback(lambda ctx: ctx.getpriv().eoh())
    libmilter.set_body_callback(lambda ctx, chunk: ctx.getpriv().body(chunk))
    libmilter.set_eom_callback(lambda ctx: ctx.getpriv().eom())
    libmilter.set_abort_callback(lambda ctx: ctx.getpriv().abort())
    libmilter.set_close_callback(Milter.close_callback)
    libmilter.setconn(spec)
    if timeout > 0:
        libmilter.settimeout(timeout)
    libmilter.register(
        name,
        data=lambda ctx: ctx.getpriv().data(),
        unknown=lambda ctx, cmd: ctx.getpriv().unknown(cmd),
        negotiate=Milter.negotiate_callback,
    )


def remove_socket(spec: str) -> None:
    """libmilter leaves its unix socket file behind on exit; a stale one says 'running'."""
    kind, _, path = libmilter_socket(spec).partition(":")
    if kind in ("unix", "local") and path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
