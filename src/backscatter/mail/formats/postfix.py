"""Postfix reports written without a DSN part (old versions, custom bounce templates)."""

from backscatter.mail.formats.text import TextFormat, body_says

RECOGNISER = TextFormat(
    "postfix",
    detect=body_says("this is the postfix program at host", "this is the mail system at host"),
    starts=("the mail system", "the postfix program"),
    skip_start_line=True,
)
