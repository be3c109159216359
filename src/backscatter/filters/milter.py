"""The libmilter adapter (pymilter): callbacks in, a MessageSession's Decision carried out.

pymilter is the Python milter library that held up against a real Postfix here (the issue
records why not purepythonmilter or python-libmilter). Every callback is guarded: an
exception becomes the configured fault answer, never a stuck or lost message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

import Milter

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


class BackscatterMilter(Milter.Base):
    """One SMTP connection (libmilter runs each in its own thread)."""

    core: MilterCore  # set by serve() before the first connection

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

    @Milter.decode("bytes")
    @Milter.noreply
    @_boundary(_remember_failure)
    def header(self, name: Any, value: bytes) -> int:
        if self.session is not None:
            text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
            self.session.add_header(text, value)
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
        if self.broken:
            return self.fault()
        if session is None:
            return Milter.ACCEPT
        decision = session.finish()
        answer = self._carry_out(decision)
        log.info(session.summary(self.getsymval("i"), decision))
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


def serve(core: MilterCore, socket: str, name: str = "backscatter", timeout: int = 600) -> None:
    """Run until stopped (SIGTERM/SIGINT); libmilter removes a stale socket file first."""
    BackscatterMilter.core = core
    Milter.factory = milter_class(core)
    Milter.set_flags(FLAGS)
    Milter.runmilter(name, libmilter_socket(socket), timeout)
