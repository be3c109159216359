"""KDDI (au, formerly EZweb / DION) mobile carrier notices in Japan.

Markers as Sisimai documents them (``Sisimai::Lhost::KDDI`` and ``Sisimai::Lhost::EZweb``,
lib/Sisimai/Lhost/{KDDI,EZweb}.pm): From ``Postmaster@ezweb.ne.jp`` / ``@au.com`` or a
``.dion.ne.jp`` host, Subject "Mail System Error - Returned Mail", and one of these
openings above the recipients:

- "Your mail sent on: <date>" ... "could not be delivered to:" (KDDI/DION);
- "The following recipients did not receive this message:";
- "Each of the following recipients was rejected by a remote mail server." then indented
  "Recipient: <addr>", ">>> RCPT TO:<addr>", "<<< 550 ..." lines;
- "The user(s) account is disabled." / "is temporarily limited." / "is temporarily over
  quota." above a ``<addr>`` line (the reason is stated above the address);
- "Your message was not delivered within N days and N hours." (expired).
"""

from backscatter.mail.formats.text import TextFormat, any_of, body_says, header_says

RECOGNISER = TextFormat(
    "kddi",
    detect=any_of(
        header_says("from", ".dion.ne.jp", "@ezweb.ne.jp", ".au.com", "@au.com"),
        body_says("your mail sent on:"),
    ),
    starts=(
        "could not be delivered to:",
        "the following recipients did not receive this message",
        "each of the following recipients was rejected",
        "the user(s) account is",
        "your message was not delivered within",
    ),
)
