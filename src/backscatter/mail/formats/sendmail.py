"""Sendmail's text reports when no DSN part is attached (V5, V8 with DSNs disabled)."""

from backscatter.mail.formats.text import TextFormat, body_says

RECOGNISER = TextFormat(
    "sendmail",
    detect=body_says(
        "----- transcript of session follows -----",
        "----- the following addresses had permanent fatal errors -----",
        "---the following addresses had delivery errors---",
        "----- the following addresses had delivery problems -----",
    ),
    starts=(
        "the following addresses had",
        "transcript of session follows",
    ),
    ends=(
        "----- unsent message follows -----",
        "----- original message follows -----",
        "----- returned message follows",
        "----- message header follows -----",
    ),
)
