"""Evidence that needs no model: facts that make a bounce forged whatever its content says.

These rules are decided outside the linear model, by the :class:`~backscatter.detector.
Detector`, and set the verdict ``spoofed`` with probability 1.0 and a sentence of their own.
They are not features: a feature would change the model's input (the model contract checks
``feature_names_`` at load) and force retraining the shipped model, and a weight is the wrong
tool for a fact that leaves no doubt.

- ``NEVER_SEND_RCPT``: the bounce was sent back to an address of the config's ``never_send``
  list (role addresses such as webmaster@ or noreply@, published in WHOIS and RIR records,
  that receive mail and never send any). A bounce returns a message to its sender; an
  address that never sends cannot have sent it. The recipient is the SMTP envelope's when it
  is known (milter, or a caller-given Envelope), else the delivery agent's X-Original-To,
  Delivered-To, Envelope-To, or the To header.
- ``NULL_SENDER_MULTI_RCPT``: ``MAIL FROM:<>`` with two or more distinct ``RCPT TO``. A
  notification with a null reverse-path (non-delivery report, DSN, MDN) "is sent to the
  reverse-path of the previous mail message" (RFC 5321 section 4.5.5; RFC 3461 section 6.2:
  the DSN goes to the MAIL FROM address of the original); a message has one reverse-path,
  so a bounce has one recipient: Postfix's bounce(8) and Exim both send one report per
  failed message, to its sender. Only the SMTP envelope can show this; headers never count.
"""

from __future__ import annotations

from dataclasses import dataclass

from backscatter.features.config import OurInfrastructure
from backscatter.features.evidence import Evidence

NEVER_SEND_RCPT = "NEVER_SEND_RCPT"
NULL_SENDER_MULTI_RCPT = "NULL_SENDER_MULTI_RCPT"


@dataclass(frozen=True)
class CertainRule:
    """A rule decided without the model (listed by ``backscatter rules`` beside the model's)."""

    rule: str
    meaning: str


CERTAIN_RULES: tuple[CertainRule, ...] = (
    CertainRule(
        NEVER_SEND_RCPT,
        "sent back to an address that never sends mail (config never_send): spoofed, "
        "decided without the model",
    ),
    CertainRule(
        NULL_SENDER_MULTI_RCPT,
        "null envelope sender with two or more envelope recipients, which no bounce has "
        "(RFC 5321 4.5.5): spoofed, decided without the model",
    ),
)


@dataclass(frozen=True)
class Certainty:
    """A rule that fired, and the sentence that says why, for the verdict's evidence."""

    rule: str
    sentence: str


def certain_forgery(
    evidence: Evidence,
    config: OurInfrastructure,
    sender: str | None = None,
    recipients: tuple[str, ...] = (),
) -> Certainty | None:
    """The first no-model rule that holds for a message that claims to be a bounce.

    ``sender``/``recipients`` are the SMTP envelope when known (``sender`` "" is the null
    sender, None unknown); without envelope recipients the bounce's delivery headers speak.
    """
    if sender == "":
        distinct = list(dict.fromkeys(r.lower() for r in recipients if r))
        if len(distinct) >= 2:
            shown = ", ".join(distinct[:3]) + (", ..." if len(distinct) > 3 else "")
            return Certainty(
                NULL_SENDER_MULTI_RCPT,
                f"sent with a null envelope sender to {len(distinct)} recipients ({shown}): "
                "a bounce goes back to the one sender of the message it returns",
            )
    if config.never_send:
        for address in recipients or (evidence.envelope_recipient or "",):
            pattern = config.never_send.match(address)
            if pattern is not None:
                return Certainty(
                    NEVER_SEND_RCPT,
                    f"sent to {address}, which never sends mail (never_send: {pattern})",
                )
    return None
