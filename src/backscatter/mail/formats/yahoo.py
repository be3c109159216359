"""Yahoo! Mail's own failure notices, old and current (qmail-derived wording).

Current notices (Sisimai ``Sisimai::Lhost::Yahoo``, lib/Sisimai/Lhost/Yahoo.pm; header
``X-YMailISG``): "Sorry, we were unable to deliver your message to the following address.",
then ``<addr>:`` and "Remote host said: ..." (sometimes split over lines, with the SMTP stage
such as ``[RCPT_TO]``), and the copy after "--- Below this line is a copy of the message.".

Older Yahoo! (its qmail fork) wrote "Message from yahoo.com. Unable to deliver message to the
following address(es)." with the same ``<addr>:`` blocks and "--- Original message follows.";
that opening is qmail's too, so it is claimed here only when the From names Yahoo.
"""

from backscatter.mail.formats.text import TextFormat, all_of, any_of, body_says, header_says

#: The older opening is qmail's too: Yahoo's only when the From names Yahoo.
_OLD_YAHOO = all_of(
    header_says("from", "yahoo"), body_says("unable to deliver message to the following address")
)


RECOGNISER = TextFormat(
    "yahoo",
    detect=any_of(
        body_says(
            "sorry, we were unable to deliver your message to the following address",
            "this is a warning message only",
        ),
        _OLD_YAHOO,
    ),
    starts=(
        "sorry, we were unable to deliver your message",
        "following address",
        "unable to deliver message to the following address",
    ),
    ends=("--- below this line is a copy of the message", "--- original message follows"),
)
