"""KDDI (au, formerly EZweb / DION) mobile carrier notices in Japan."""

from backscatter.mail.formats.text import TextFormat, any_of, body_says, header_says

RECOGNISER = TextFormat(
    "kddi",
    detect=any_of(
        header_says("from", ".dion.ne.jp", "@ezweb.ne.jp", ".au.com"),
        body_says("your mail sent on:"),
    ),
    starts=("could not be delivered to:", "the following recipients did not receive this message"),
)
