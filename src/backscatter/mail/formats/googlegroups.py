"""Google Groups refusals: a post to a group that does not exist or does not accept it.

Written by Google's mailer-daemon (Subject "Delivery Status Notification (Failure)") with
no DSN part and no address in the text: the group's address is only in the
``X-Failed-Recipients`` header. The wording ("We're writing to let you know that the group
you tried to contact (<name>) may not exist, or you may not have permission to post
messages to the group.") and the header are as Sisimai's ``Sisimai::Lhost::GoogleGroups``
(lib/Sisimai/Lhost/GoogleGroups.pm) documents them; the copy follows
"----- Original message -----".
"""

from __future__ import annotations

from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import FoundRecipient, Report
from backscatter.mail.formats.text import (
    RETURNED_MARKERS,
    find_marker,
    lower_lines,
    returned_headers,
)
from backscatter.mail.message import MessageView

_OPENING = "the group you tried to contact"


class GoogleGroups:
    name = "googlegroups"

    def recognise(self, view: MessageView) -> Report | None:
        failed = view.header("x-failed-recipients")
        if not failed or view.text_is_html or _OPENING not in view.plain_text_head:
            return None
        lines, lowered = lower_lines(view.plain_text)
        start = find_marker(lowered, (_OPENING,)) or 0
        copy = find_marker(lowered, RETURNED_MARKERS, start)
        end = copy if copy is not None else min(len(lines), start + 20)
        diagnostic = " ".join(" ".join(lines[start:end]).split())[:1000] or None
        returned = returned_headers(lines, copy + 1) if copy is not None else None
        recipients = [
            FoundRecipient(address=normalise(a), diagnostic=diagnostic, action="failed")
            for a in dict.fromkeys(addresses_in_text(failed))
        ]
        if not recipients:
            return None
        return Report(self.name, recipients=recipients, returned=returned)


RECOGNISER = GoogleGroups()
