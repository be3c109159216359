"""A message that could not be scored, and whether it claims to be a bounce anyway.

Issue 12: a budget that stops abandoned work must still give the message a visible outcome
(``X-Backscatter-Status: ... unscored=budget``), and "spoofed-looking and unscorable" must be
something a site can act on. Whether a message *claims* to be a bounce is read from its header
alone, with the mail-system signals of :mod:`backscatter.mail.signals` (null sender, a daemon
From, multipart/report, a bounce Subject): cheap and bounded, since it runs exactly when the
full parse has just proved too slow or broken.
"""

from __future__ import annotations

from dataclasses import dataclass

BUDGET, ERROR, SIZE = "budget", "error", "size"
HEADERS = "headers"  # more header fields than any MTA writes (the milter counts them)

#: How much of a message the header-only look reads: enough for any real header block.
HEAD_BYTES = 8192


@dataclass(frozen=True)
class Unscored:
    """Why a message got no verdict: ``budget`` (over its time budget, the work was stopped),
    ``error`` (the scoring process died or failed), ``size``. ``detail`` is for the log."""

    reason: str
    detail: str = ""


def claims_bounce(message: bytes, envelope_sender: str | None = None) -> bool:
    """True when the header says "I am a delivery report": a null envelope sender (given, or
    a ``Return-Path: <>``), a mail-system From (MAILER-DAEMON, postmaster...), a
    multipart/report, or a bounce Subject in any language the parser knows.

    Reads at most :data:`HEAD_BYTES`, up to the end of the header; never raises."""
    if envelope_sender == "":
        return True
    from backscatter.filters.pipe import header_end
    from backscatter.mail import signals
    from backscatter.mail.message import MessageView

    head = message[:HEAD_BYTES]
    try:
        view = MessageView(head[: header_end(head)] + b"\n\n")
        return (
            signals.null_sender(view)
            or signals.from_mail_system(view)
            or signals.is_report(view)
            or signals.bounce_subject(view)
        )
    except Exception:  # a header the email package cannot read claims nothing we can trust
        return False
