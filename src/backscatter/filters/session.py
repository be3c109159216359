"""One message through the milter, protocol-free: envelope and content in, a Decision out.

The libmilter adapter (``milter.py``) only feeds callbacks in here and carries out the
Decision, so everything a message can do to us is decided in plain Python.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from backscatter.detector import NOT_BOUNCE, Detector, Envelope, Verdict
from backscatter.filters.headers import is_ours, unscored_headers, verdict_headers
from backscatter.filters.outbound import OutboundRecorder
from backscatter.filters.policy import ACCEPT, REJECT, TAG, TEMPFAIL, MilterPolicy
from backscatter.filters.unscored import HEADERS, Unscored, claims_bounce
from backscatter.filters.workers import ScoringPool
from backscatter.mail.identifiers import normalise_address
from backscatter.mail.message import header_text
from backscatter.sentlog import SentLogUnavailable

log = logging.getLogger("backscatter.milter")

REJECT_REPLY = ("550", "5.7.1", "Bounce rejected: we did not send the message it returns")
TEMPFAIL_REPLY = ("451", "4.7.1", "Bounce check unavailable, try again later")
UNSCORED_REPLY = ("550", "5.7.1", "Bounce rejected: it could not be checked")
NEVER_SEND_REPLY = ("550", "5.7.1", "Bounce rejected: this address never sends mail")
#: RFC 5321 4.5.3.1.10: "too many recipients" is 452, a client retries in a new transaction.
MULTI_RCPT_REPLY = ("452", "4.5.3", "Too many recipients for a bounce, one per transaction")

#: Header fields kept per message. No MTA writes more than a few dozen (Postfix refuses a
#: 51st Received, ``hopcount_limit``); a flood past this is counted, not kept (issue 12).
MAX_HEADER_FIELDS = 1000


@dataclass
class Decision:
    """What the MTA is to do with one message."""

    action: str  # tag | reject | quarantine | discard | accept | tempfail
    add_headers: list[tuple[str, str]] = field(default_factory=list)
    remove_headers: list[tuple[str, int]] = field(default_factory=list)  # (name, 1-based index)
    new_sender: str | None = None
    recipient_changes: list[tuple[str, str]] = field(default_factory=list)  # (old, new)
    reply: tuple[str, str, str] | None = None
    verdict: Verdict | None = None
    note: str = ""


class MilterCore:
    """What all connections share: the Detector, the policy, the recorder, the scoring pool.

    Scoring runs in worker processes (:class:`ScoringPool`): a message over its time budget
    has its worker killed, so an attacker's slow messages cannot pile up abandoned work and
    starve the next ones (issue 12, item 3). Create the core before libmilter starts its
    threads: the pool forks.
    """

    def __init__(
        self, detector: Detector, policy: MilterPolicy, recorder: OutboundRecorder
    ) -> None:
        self.detector = detector
        self.policy = policy
        self.recorder = recorder
        self.pool = ScoringPool(detector, policy.workers or None)

    def close(self) -> None:
        self.pool.close()


class MessageSession:
    """Collects one message; ``finish`` decides. Bounded: content beyond the policy's size
    cap is not kept (the report and the returned headers come first in a bounce)."""

    def __init__(self, core: MilterCore, client_ip: str | None, daemon: str | None) -> None:
        self.core = core
        self.client_ip = client_ip
        self.daemon = daemon
        self.sender: str | None = None
        self.authenticated = False
        self.recipients: list[str] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.seen: dict[str, int] = {}  # our header names (lower) -> occurrences so far
        self.header_fields = 0
        self.forged: list[tuple[str, int]] = []
        self.message_id: str | None = None
        self.subject: str | None = None
        self.took_ms = 0.0

    def begin(self, sender: str, authenticated: bool) -> None:
        self.sender = normalise_address(sender)
        self.authenticated = authenticated

    def add_recipient(self, recipient: str) -> None:
        self.recipients.append(normalise_address(recipient))

    def add_header(self, name: str, value: bytes) -> None:
        """Called once per field, so kept cheap: past MAX_HEADER_FIELDS a field costs a
        count, and a name test so that a forged header of ours is still found."""
        self.header_fields += 1
        if is_ours(name):
            # Counted by the name without the white space an MTA may leave around it (a
            # fold before the colon): the index the MTA deletes by counts that name's fields.
            lowered = name.strip().lower()
            self.seen[lowered] = self.seen.get(lowered, 0) + 1
            self.forged.append((name, self.seen[lowered]))
            return  # a forged verdict must not reach the scorer either
        if self.header_fields > MAX_HEADER_FIELDS:
            return
        lowered = name.strip().lower()
        if lowered == "message-id" and self.message_id is None:
            self.message_id = header_text(value.decode("utf-8", "surrogateescape"))
        elif lowered == "subject" and self.subject is None:
            self.subject = header_text(value.decode("utf-8", "surrogateescape"))
        self._keep(name.encode("ascii", "replace") + b": " + value + b"\n")

    def flooded(self) -> Decision | None:
        """For a message with more than MAX_HEADER_FIELDS fields, the unscored decision
        (``unscored=headers``, the policy's unscored_action for a bounce claimer); else None.

        Not scored: what was kept of its header is not all of it, and a verdict on the first
        fields would let a forger hide the fields that count after them. Forged headers of
        ours are still removed (they are counted past the cap)."""
        if self.header_fields <= MAX_HEADER_FIELDS or self.outbound:
            return None
        why = f"{self.header_fields} header fields, over {MAX_HEADER_FIELDS}"
        decision = self._unscored(Unscored(HEADERS, why), b"".join(self.chunks))
        decision.remove_headers = list(self.forged)
        return decision

    def end_headers(self) -> None:
        self._keep(b"\n")

    def add_body(self, chunk: bytes) -> None:
        self._keep(chunk)

    def _keep(self, data: bytes) -> None:
        room = self.core.policy.max_message_kb * 1024 - self.size
        if room > 0:
            self.chunks.append(data[:room])
            self.size += min(len(data), room)

    @property
    def outbound(self) -> bool:
        return self.core.policy.is_outbound(self.daemon, self.client_ip, self.authenticated)

    def finish(self) -> Decision:
        """Never raises: an internal error or a budget overrun becomes the fault action."""
        started = time.perf_counter()
        try:
            decision = self._outbound() if self.outbound else self._inbound()
        except SentLogUnavailable as exc:  # the store logs the outage once, not per message
            decision = self._fault(f"sent-log unavailable: {exc}")
        except Exception as exc:  # the boundary: mail must flow whatever went wrong in here
            log.exception("internal error, applying on_error=%s", self.core.policy.on_error)
            decision = self._fault(f"error: {type(exc).__name__}: {exc}")
        decision.remove_headers = list(self.forged)
        self.took_ms = (time.perf_counter() - started) * 1000
        return decision

    def _outbound(self) -> Decision:
        recorder = self.core.recorder
        added = recorder.record(self.message_id, self.sender or "", self.recipients, self.subject)
        signed = recorder.signed_sender(self.sender or "")
        return Decision(ACCEPT, new_sender=signed, note=f"outbound recorded={added}")

    def _inbound(self) -> Decision:
        data = b"".join(self.chunks)
        envelope = Envelope(self.sender, tuple(self.recipients))
        budget = self.core.policy.time_budget_ms / 1000
        verdict = self.core.pool.score(data, "milter", envelope, budget)
        if isinstance(verdict, Unscored):
            return self._unscored(verdict, data)
        changes = [(r, plain) for r in self.recipients if (plain := self.core.recorder.untagged(r))]
        if verdict.verdict == NOT_BOUNCE:
            return Decision(ACCEPT, recipient_changes=changes, verdict=verdict)
        action = self.core.policy.action_for(verdict.verdict, verdict.spoofed_probability)
        return Decision(
            action,
            add_headers=verdict_headers(verdict),
            recipient_changes=changes,
            reply=REJECT_REPLY if action == REJECT else None,
            verdict=verdict,
        )

    def _unscored(self, unscored: Unscored, data: bytes) -> Decision:
        """Over budget or a failed worker: visible headers instead of silence. on_error =
        tempfail still asks for a retry; otherwise the message is tagged ``unscored`` and one
        that claims to be a bounce gets the policy's ``unscored_action``."""
        policy = self.core.policy
        note = f"unscored={unscored.reason} {unscored.detail}".strip()
        if policy.on_error == TEMPFAIL:
            return Decision(TEMPFAIL, reply=TEMPFAIL_REPLY, note=note)
        bounce = claims_bounce(data, self.sender)
        action = policy.unscored_action if bounce else TAG
        if action == TEMPFAIL:
            return Decision(TEMPFAIL, reply=TEMPFAIL_REPLY, note=note)
        return Decision(
            action,
            add_headers=unscored_headers(unscored.reason, bounce, self.core.detector.threshold),
            reply=UNSCORED_REPLY if action == REJECT else None,
            note=note,
        )

    def _fault(self, why: str) -> Decision:
        if self.core.policy.on_error == TEMPFAIL:
            return Decision(TEMPFAIL, reply=TEMPFAIL_REPLY, note=why)
        return Decision(ACCEPT, note=why)

    def recipient_refusal(self, recipient: str) -> tuple[str, str, str] | None:
        """The reply refusing ``recipient`` at RCPT time, or None to take it (then added).

        Only for an inbound null-sender transaction, and only as the ``[milter]`` policy
        asks (``reject_never_send_rcpt``, ``reject_null_sender_multi_rcpt``): a bounce to
        an address that never sends, or a second recipient, which no bounce has."""
        policy = self.core.policy
        if self.sender != "" or not policy.checks_recipients or self.outbound:
            return None
        address = normalise_address(recipient)
        never_send = self.core.detector.config.never_send
        if policy.reject_never_send_rcpt and never_send.match(address) is not None:
            return NEVER_SEND_REPLY
        known = {r.lower() for r in self.recipients}
        if policy.reject_null_sender_multi_rcpt and known and address.lower() not in known:
            return MULTI_RCPT_REPLY
        return None

    def summary(self, queue_id: str | None, decision: Decision) -> str:
        """The one log line per message."""
        verdict = decision.verdict
        parts = [
            f"queue_id={queue_id or '-'}",
            f"direction={'outbound' if self.outbound else 'inbound'}",
            f"verdict={verdict.verdict if verdict else '-'}",
            f"score={verdict.spoofed_probability:.4f}" if verdict else "score=-",
            f"action={decision.action}",
            f"ms={self.took_ms:.1f}",
        ]
        if decision.note:
            parts.append(f"note={decision.note!r}")
        return " ".join(parts)
