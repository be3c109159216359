"""RFC 3464 delivery status notifications: the backbone every other format falls back on.

Postfix, Sendmail, Exchange, Office 365, Amazon SES and most modern MTAs attach a
``message/delivery-status`` part; its per-recipient field blocks are the most reliable
source of recipient, action, status and diagnostic, so this recogniser is tried first.
"""

from __future__ import annotations

from email.message import Message

from backscatter.mail.addresses import addresses_in_text, normalise
from backscatter.mail.formats.base import MAX_RECIPIENTS, FoundRecipient, Report
from backscatter.mail.message import MessageView, decode_payload, header_text, payload_of

_FAILURE_ACTIONS = frozenset({"failed", "delayed", "failure", "delay"})
_SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded", "deliverable"})


def field_blocks(part: Message) -> list[dict[str, str]]:
    """The field groups of a delivery-status part, lower-cased names, values decoded."""
    payload = payload_of(part)
    encoding = str(part.get("content-transfer-encoding", "")).lower()
    if isinstance(payload, list) and encoding not in ("base64", "quoted-printable"):
        return [{k.lower(): _field_text(k, v) for k, v in block.items()} for block in payload]
    return parse_blocks(decode_payload(part))


_ADDRESS_FIELDS = frozenset({"final-recipient", "original-recipient", "x-actual-recipient"})


def _field_text(name: str, value: object) -> str:
    """Field values decoded for reading; address fields kept as written (RFC 2047 words are
    not allowed in an address, and decoding one would invent a different mailbox)."""
    if name.lower() in _ADDRESS_FIELDS:
        return " ".join(str(value).split())
    return header_text(value)


def parse_blocks(text: str) -> list[dict[str, str]]:
    """Split ``Name: value`` groups separated by blank lines (continuations folded in)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current, last = {}, ""
            continue
        if line[0] in " \t" and last:
            current[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if colon and name and " " not in name.strip():
            last = name.strip().lower()
            current.setdefault(last, value.strip())
    if current:
        blocks.append(current)
    return blocks


def typed_value(value: str | None) -> str | None:
    """A typed field's value without its type: ``rfc822; a@b`` -> ``a@b``."""
    if not value:
        return None
    kind, semi, rest = value.partition(";")
    if semi and " " not in kind.strip() and len(kind) < 20:
        value = rest
    return value.strip() or None


def _mailbox(value: str | None) -> str | None:
    """An addr-spec from a recipient field: source routes (``@relay:a@b``) dropped."""
    if not value:
        return None
    value = value.strip().strip("<>")
    if value.startswith("@") and ":" in value:
        value = value.split(":", 1)[1]
    return value or None


def _usable(address: str | None) -> bool:
    """False for pipe and file deliveries (``|/usr/bin/x``) that some MTAs put here."""
    return bool(address) and "@" in address and address[0] not in "|/" and " " not in address


def _name_pipe_deliveries(report: Report, view: MessageView) -> None:
    """Exim reports a pipe or file delivery as Final-Recipient; X-Failed-Recipients names
    the address it was generated for, which is the recipient the sender knows."""
    named = [normalise(a) for a in addresses_in_text(view.header("x-failed-recipients"))]
    unusable = [r for r in report.recipients if not _usable(r.address)]
    if named and len(unusable) <= len(named):
        for recipient, address in zip(unusable, named, strict=False):
            recipient.address = address


class Rfc3464:
    """Reads ``message/delivery-status`` parts (RFC 3464; RFC 6533 global variant)."""

    name = "rfc3464"

    def recognise(self, view: MessageView) -> Report | None:
        if view.status_parts:
            groups = [field_blocks(part) for part in view.status_parts]
        elif "final-recipient:" in view.plain_text.lower():
            # Delivery-status fields written into a text part, or a multipart/report whose
            # boundaries are broken (older Sendmail, PMDF): the fields are still there.
            groups = [parse_blocks(view.plain_text)]
        else:
            return None
        report = Report(self.name)
        seen_success = False
        for blocks in groups:
            for block in blocks:
                if "reporting-mta" in block or "arrival-date" in block:
                    report.reporting_mta = report.reporting_mta or typed_value(
                        block.get("reporting-mta")
                    )
                    report.arrival_date = report.arrival_date or block.get("arrival-date")
                    if not ("final-recipient" in block or "original-recipient" in block):
                        continue
                recipient = self._recipient(block)
                if recipient is None:
                    continue
                if (recipient.action or "") in _SUCCESS_ACTIONS:
                    seen_success = True
                    continue
                if len(report.recipients) < MAX_RECIPIENTS:
                    report.recipients.append(recipient)
                else:
                    report.recipients_capped = True
        _name_pipe_deliveries(report, view)
        if not report.recipients:
            if not seen_success:
                return None  # status fields name nobody: let the text formats read the report
            report.is_bounce = False
            report.format = "rfc3464-success"
        return report

    @staticmethod
    def _recipient(block: dict[str, str]) -> FoundRecipient | None:
        final_field = typed_value(block.get("final-recipient")) or ""
        final = _mailbox(final_field)
        original = _mailbox(typed_value(block.get("original-recipient")))
        routed = final_field.lstrip("<").startswith("@")
        address = final if _usable(final) and not (routed and original) else original or final
        if not address:
            return None
        action = (block.get("action") or "").strip().lower().split(" ")[0] or None
        if action and action not in _FAILURE_ACTIONS | _SUCCESS_ACTIONS:
            action = None
        if action == "failure":
            action = "failed"
        if action == "delay":
            action = "delayed"
        status = (block.get("status") or "").strip().split(" ")[0] or None
        return FoundRecipient(
            address=normalise(address),
            diagnostic=typed_value(block.get("diagnostic-code")),
            status=status,
            action=action,
            remote_mta=typed_value(block.get("remote-mta")),
        )


RECOGNISER = Rfc3464()
