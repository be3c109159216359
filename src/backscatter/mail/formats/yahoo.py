"""Yahoo! Mail's own failure notices (qmail-based wording with its own preamble)."""

from backscatter.mail.formats.text import TextFormat, body_says

RECOGNISER = TextFormat(
    "yahoo",
    detect=body_says(
        "sorry, we were unable to deliver your message to the following address",
        "this is a warning message only",
    ),
    starts=("sorry, we were unable to deliver your message", "following address"),
    ends=("--- below this line is a copy of the message",),
)
