"""qmail-send bounces and the qmail derivatives (netqmail, s/qmail, notqmail)."""

from backscatter.mail.formats.text import TextFormat, any_of, body_says, header_says

RECOGNISER = TextFormat(
    "qmail",
    detect=any_of(
        body_says("this is the qmail-send program", "this is the notqmail-send program"),
        header_says("received", "invoked for bounce"),
    ),
    starts=("i'm afraid i wasn't able to deliver", "i'm not going to try again"),
    ends=("--- below this line is a copy of the message", "--- enclosed are the original headers"),
)
