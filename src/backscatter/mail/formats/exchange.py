"""Microsoft Exchange text NDRs, every generation that writes one without a DSN part.

- Exchange 5.5 IMC / Internet Mail Service (``X-Mailer: Internet Mail Service (5.5.x)``,
  ``X-MS-Embedded-Report``) and Exchange 2000/2003 (``X-MimeOLE: Produced By Microsoft
  Exchange V6.x``): "Your message ... did not reach the following recipient(s):" then
  ``user@domain on <date>`` and the reason, with an ``MSEXCH:IMS:...`` line (Sisimai
  ``Lhost/Exchange2003.pm``).
- Outlook/Exchange 2003 wording: "Your message did not reach some or all of the intended
  recipients." / "The following recipient(s) could not be reached:" then the same
  ``user@domain on <date>`` block ending ``<host #5.1.1>``.
- Exchange 2007 and later (``Subject: Undeliverable:``, ``Content-Language``): "Delivery has
  failed to these recipients or distribution lists:", then "Diagnostic information for
  administrators:" with ``#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##`` and
  "Original message headers:" (Sisimai ``Lhost/Exchange2007.pm``).

Exchange 2000/2003 "Delivery Status Notification" mail and 2010+ mail with a
``message/delivery-status`` part are standard DSNs: ``rfc3464`` reads those first.
hMailServer copies the 2003 wording; ``hmailserver`` is asked before this module.
"""

from backscatter.mail.formats.text import TextFormat, any_of, body_says, header_says

RECOGNISER = TextFormat(
    "exchange",
    detect=any_of(
        body_says(
            "did not reach the following recipient",
            "msexch:",
            "delivery has failed to these recipients or",
            "the following recipient(s) could not be reached",
            "diagnostic information for administrators:",
        ),
        header_says("x-mailer", "microsoft exchange", "internet mail service ("),
        header_says("x-mimeole", "produced by microsoft exchange"),
    ),
    starts=(
        "did not reach the following recipient",
        "the following recipient(s) could not be reached",
        "delivery has failed to these recipients or",
    ),
    ends=("original message headers:",),
)
