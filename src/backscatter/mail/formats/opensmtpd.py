"""OpenSMTPD's MAILER-DAEMON reports."""

from backscatter.mail.formats.text import TextFormat, body_says

RECOGNISER = TextFormat(
    "opensmtpd",
    detect=body_says(
        "this is the mailer-daemon, please do not reply",
        "an error has occurred while attempting to deliver a message for",
    ),
    starts=("following list of recipients", "following recipients"),
    ends=("below is a copy of the original message",),
)
