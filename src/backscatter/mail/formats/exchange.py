"""Microsoft Exchange 2003-era text reports (later versions attach a DSN part)."""

from backscatter.mail.formats.text import TextFormat, any_of, body_says, header_says

RECOGNISER = TextFormat(
    "exchange",
    detect=any_of(
        body_says("did not reach the following recipient", "msexch:"),
        header_says("x-mailer", "microsoft exchange"),
    ),
    starts=("did not reach the following recipient",),
)
