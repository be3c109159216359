"""What to do with a verdict at SMTP time, and which mail is ours going out.

From the ``[milter]`` table of the same TOML file as our infrastructure::

    [milter]
    on_error = "accept"              # or "tempfail": when scoring fails or overruns its budget
    time_budget_ms = 2000            # over it, scoring is killed: unscored=budget; 0: no budget
    unscored_action = "tag"          # or "tempfail" | "reject": for BOUNCE_UNSCORED (see below)
    workers = 0                      # scoring processes; 0: one per core
    max_message_kb = 10240           # scored on at most this much of a message
    outbound_daemons = ["ORIGINATING", "MSA"]  # Postfix / Sendmail submission daemons
    outbound_networks = ["192.0.2.0/24"] # clients whose mail is ours going out
    outbound_authenticated = true    # SMTP AUTH means ours going out
    batv_sign = false                # sign outbound envelope senders (needs batv_secrets)
    reject_never_send_rcpt = false   # MAIL FROM:<> to a never_send address: 550 at RCPT
    reject_null_sender_multi_rcpt = false  # MAIL FROM:<>: 452 for the 2nd and later RCPT

    [milter.actions]                 # per verdict: tag | reject | quarantine | discard
    genuine = "tag"
    spoofed = "tag"

    [[milter.thresholds]]            # stronger action for surer spoofed verdicts
    above = 0.99
    action = "reject"

A message that could not be scored (over ``time_budget_ms``, or its scoring process died) is
not let through silently: unless ``on_error = "tempfail"``, it gets ``X-Backscatter-Verdict:
unscored`` and ``X-Backscatter-Status: No, score=? ... tests=BOUNCE_UNSCORED unscored=budget``
when its header claims to be a bounce (null sender, MAILER-DAEMON From, multipart/report, a
bounce Subject), ``tests=NONE`` otherwise. ``unscored_action`` applies to the bounce claimers
only: an attacker who makes fake NDRs slow to score gets them tagged (default), retried later
(``tempfail``: a real MTA retries, most bulk senders do not) or refused (``reject``).

At RCPT time, before any content (both off by default; see :mod:`backscatter.certain`):
``reject_never_send_rcpt`` refuses a null-sender message's recipient that the ``never_send``
list names (``550 5.7.1``). ``reject_null_sender_multi_rcpt`` answers the second and later
RCPT of a null-sender transaction with ``452 4.5.3``: the reply RFC 5321 section 4.5.3.1.10
gives for "too many recipients" (the one Postfix's smtpd_recipient_limit sends), which a
client must take as temporary and retry in a new transaction. A real bounce never has two
recipients, but a forwarder expanding an alias can relay one to two of our users in one
transaction: with 452 it delivers them one at a time (each then scored on its own), where a
550 would have it bounce a bounce. Off, such a message is scored spoofed at end of data
(``NULL_SENDER_MULTI_RCPT``) and gets the spoofed action.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from backscatter.detector import SPOOFED
from backscatter.errors import BackscatterError
from backscatter.features.config import Network

TAG, REJECT, QUARANTINE, DISCARD = "tag", "reject", "quarantine", "discard"
ACTIONS = (TAG, REJECT, QUARANTINE, DISCARD)
ACCEPT, TEMPFAIL = "accept", "tempfail"
UNSCORED_ACTIONS = (TAG, TEMPFAIL, REJECT)


@dataclass(frozen=True)
class MilterPolicy:
    actions: dict[str, str] = field(default_factory=lambda: {"genuine": TAG, SPOOFED: TAG})
    thresholds: tuple[tuple[float, str], ...] = ()  # (above, action), for spoofed verdicts
    on_error: str = ACCEPT
    time_budget_ms: int = 2000
    unscored_action: str = TAG  # for a message that claims to be a bounce and is unscored
    workers: int = 0  # scoring processes; 0: one per core
    max_message_kb: int = 10240
    outbound_daemons: tuple[str, ...] = ("ORIGINATING", "MSA")
    outbound_networks: tuple[Network, ...] = ()
    outbound_authenticated: bool = True
    batv_sign: bool = False
    reject_never_send_rcpt: bool = False
    reject_null_sender_multi_rcpt: bool = False

    @property
    def checks_recipients(self) -> bool:
        """Whether the milter must answer RCPT (a reply there costs a round trip each)."""
        return self.reject_never_send_rcpt or self.reject_null_sender_multi_rcpt

    def action_for(self, verdict: str, probability: float) -> str:
        """The action for a verdict: the surest matching threshold wins over the default."""
        action = self.actions.get(verdict, TAG)
        if verdict == SPOOFED:
            for above, stronger in sorted(self.thresholds):
                if probability >= above:
                    action = stronger
        return action

    def is_outbound(self, daemon: str | None, client_ip: str | None, authenticated: bool) -> bool:
        """Mail we send: submitted with SMTP AUTH, on a submission listener, or from our network."""
        if authenticated and self.outbound_authenticated:
            return True
        if daemon and daemon in self.outbound_daemons:
            return True
        if client_ip and self.outbound_networks:
            try:
                address = ipaddress.ip_address(client_ip.strip("[]"))
            except ValueError:
                return False
            return any(address in network for network in self.outbound_networks)
        return False

    def with_options(self, spoofed_action: str | None, on_error: str | None) -> MilterPolicy:
        """The policy with command-line overrides applied."""
        policy = self
        if spoofed_action:
            _check(spoofed_action, ACTIONS, "spoofed action")
            policy = replace(policy, actions={**policy.actions, SPOOFED: spoofed_action})
        if on_error:
            _check(on_error, (ACCEPT, TEMPFAIL), "on_error")
            policy = replace(policy, on_error=on_error)
        return policy


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise BackscatterError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def load_policy(path: str | Path | None) -> MilterPolicy:
    """The ``[milter]`` table of the config file (defaults when there is none)."""
    if path is None:
        return MilterPolicy()
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("milter", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BackscatterError(f"cannot read config {path}: {exc}") from None
    try:
        actions = {**MilterPolicy().actions, **dict(table.get("actions", {}))}
        for action in actions.values():
            _check(action, ACTIONS, "milter action")
        thresholds = tuple(
            (float(t["above"]), str(t["action"])) for t in table.get("thresholds", ())
        )
        for _, action in thresholds:
            _check(action, ACTIONS, "milter threshold action")
        on_error = str(table.get("on_error", ACCEPT))
        _check(on_error, (ACCEPT, TEMPFAIL), "on_error")
        unscored_action = str(table.get("unscored_action", TAG))
        _check(unscored_action, UNSCORED_ACTIONS, "unscored_action")
        workers = int(table.get("workers", 0))
        if workers < 0:
            raise ValueError("workers must be >= 0")
        budget, cap = (
            int(table.get("time_budget_ms", 2000)),
            int(table.get("max_message_kb", 10240)),
        )
        if budget < 0 or cap < 1:
            raise ValueError("time_budget_ms must be >= 0 and max_message_kb >= 1")
        return MilterPolicy(
            actions=actions,
            thresholds=thresholds,
            on_error=on_error,
            time_budget_ms=budget,
            unscored_action=unscored_action,
            workers=workers,
            max_message_kb=cap,
            outbound_daemons=tuple(table.get("outbound_daemons", ("ORIGINATING", "MSA"))),
            outbound_networks=tuple(
                ipaddress.ip_network(n, strict=False) for n in table.get("outbound_networks", ())
            ),
            outbound_authenticated=bool(table.get("outbound_authenticated", True)),
            batv_sign=bool(table.get("batv_sign", False)),
            reject_never_send_rcpt=bool(table.get("reject_never_send_rcpt", False)),
            reject_null_sender_multi_rcpt=bool(table.get("reject_null_sender_multi_rcpt", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackscatterError(f"config {path}: [milter] {exc}") from None
