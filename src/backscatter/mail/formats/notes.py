"""Lotus Notes / IBM Domino / HCL Domino SMTP MTA reports, both text layouts.

- The older Lotus SMTP MTA layout: "------- Failure Reasons --------", the reason above each
  address, then "------- Returned Message --------" and the copy.
- Domino R5 and later (``Subject: DELIVERY FAILURE: <reason>``; Sisimai ``Lhost/Domino.pm``;
  phrases "not listed in Domino Directory", "not listed in public Name & Address Book")::

      Your message
        Subject: ...
      was not delivered to:
        user@example.net
      because:
        User user (user@example.net) not listed in Domino Directory

  The copy is attached as ``message/rfc822``.
"""

from backscatter.mail.formats.text import TextFormat, all_of, any_of, body_says, header_says

RECOGNISER = TextFormat(
    "notes",
    detect=any_of(
        body_says("------- failure reasons"),
        all_of(header_says("subject", "delivery failure:"), body_says("was not delivered to:")),
    ),
    starts=("------- failure reasons", "was not delivered to:"),
    ends=("------- returned message",),
)
