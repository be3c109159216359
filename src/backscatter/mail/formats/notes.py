"""Lotus Notes / HCL Domino SMTP MTA reports (the older text layout)."""

from backscatter.mail.formats.text import TextFormat, body_says

RECOGNISER = TextFormat(
    "notes",
    detect=body_says("------- failure reasons"),
    starts=("------- failure reasons",),
    ends=("------- returned message",),
)
