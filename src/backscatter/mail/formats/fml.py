"""fml, the mailing-list manager (fml.org): its refusal notices to a poster.

fml answers a post it will not distribute (from a non-member, a loop, a duplicate
Message-ID, a spammer) with a notice from ``<list>-admin@``; Sisimai ``Lhost/FML.pm`` reads
these as bounces. Markers: an ``X-MLServer: fml ...`` header, a From of ``*-admin@`` or a
Message-ID holding ``.FML``; the text names the list in angle brackets ("You are not a member
of this mailing list <list@example.org>.", "Duplicated Message-ID in <list@example.org>.")
and the post follows "Original mail as follows:". The refused recipient is that list
address; the Subject ("NOT MEMBER article from ...", "Loop Alert: ...") says why.
"""

from __future__ import annotations

from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import MAX_RECIPIENTS, FoundRecipient, Report
from backscatter.mail.formats.text import find_marker, lower_lines, returned_headers
from backscatter.mail.message import MessageView

_COPY = "original mail as follows:"


class FML:
    name = "fml"

    def recognise(self, view: MessageView) -> Report | None:
        if view.text_is_html or not view.header("x-mlserver").lower().startswith("fml"):
            return None
        if (
            "-admin@" not in view.header("from").lower()
            and ".fml" not in view.header("message-id").lower()
        ):
            return None
        lines, lowered = lower_lines(view.plain_text)
        copy = find_marker(lowered, (_COPY,))
        end = copy + 1 if copy is not None else min(len(lines), 60)
        subject = view.header("subject")
        recipients: dict[str, FoundRecipient] = {}
        for line, lowered_line in zip(lines[:end], lowered[:end], strict=True):
            # Bounded per line (issue 12): a hostile line naming thousands of addresses.
            text = line[:2000].strip()
            for address in addresses_in_text(line):
                if len(recipients) >= MAX_RECIPIENTS:
                    break
                if f"<{address.lower()}>" in lowered_line:
                    key = normalise(address)
                    diagnostic = f"{subject}: {text}" if subject else text
                    recipients.setdefault(
                        key.lower(), FoundRecipient(key, diagnostic, action="failed")
                    )
        if not recipients:
            return None
        returned = returned_headers(lines, copy + 1) if copy is not None else None
        capped = len(recipients) >= MAX_RECIPIENTS
        return Report(
            self.name,
            recipients=list(recipients.values()),
            returned=returned,
            recipients_capped=capped,
        )


RECOGNISER = FML()
