"""Exim's bounce and delay messages (also what many hosting providers run)."""

from backscatter.mail.formats.text import TextFormat, any_of, body_says, header_says

RECOGNISER = TextFormat(
    "exim",
    detect=any_of(
        lambda view: bool(view.message.get("x-failed-recipients")),
        body_says("this message was created automatically by mail delivery software"),
        header_says("received", "(exim "),
    ),
    starts=(
        "following address(es) failed",
        "following addresses failed",
        "could not be delivered to one or more of its",
        "message has not yet been delivered",
        "delivery to the following recipient",
    ),
    ends=(
        "------ this is a copy of the message",
        "------ the body of the message is",
        "--- the header of the original message is following",
    ),
)
