"""hMailServer delivery failure notices (its SEND_FAILED_NOTIFICATION server message).

The wording borrows Exchange 2003's ("Your message did not reach some or all of the intended
recipients." / "The following recipient(s) could not be reached:"), so this family must be
asked before ``exchange``. What sets it apart is the per-recipient block it writes from the
SMTP session (hMailServer source, ``SMTPClientConnection``/``ServerMessages``)::

    user@example.net
       Error Type: SMTP
       Remote server (192.0.2.1) issued an error.
       hMailServer sent: RCPT TO:<user@example.net>
       Remote server replied: 550 5.1.1 User unknown

No copy of the message comes back.
"""

from backscatter.mail.formats.text import TextFormat, body_says

RECOGNISER = TextFormat(
    "hmailserver",
    detect=body_says("hmailserver sent:"),
    starts=("the following recipient(s) could not be reached",),
)
