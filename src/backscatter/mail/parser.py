"""Turning one raw message into its :class:`Bounce` anatomy. Never raises on mail.

The registry's recognisers are asked in order and the first answer wins; this module then
settles what every format shares: status codes read from diagnostics, reasons, hardness,
and the returned message's headers, from whichever of the three places the report keeps
them (an attached ``message/rfc822``, a ``text/rfc822-headers`` part, or quoted text).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from email.message import Message

from backscatter.errors import InputError
from backscatter.mail import status as codes
from backscatter.mail.addresses import addresses_in_text, first_header_address, header_addresses
from backscatter.mail.anatomy import Bounce, FailedRecipient
from backscatter.mail.formats import JSON_FAMILIES, RECOGNISERS, FoundRecipient, Recogniser, Report
from backscatter.mail.formats.base import MAX_RECIPIENTS
from backscatter.mail.identifiers import normalise_message_id
from backscatter.mail.message import MessageView, header_text, parse_headers
from backscatter.mail.nonbounce import is_auto_reply, not_bounce_kind
from backscatter.mail.sources import RawMessage, SourceError

_MAX_DIAGNOSTIC = 1000


def parse(
    data: bytes | RawMessage | SourceError,
    source: str = "-",
    recognisers: Sequence[Recogniser] = RECOGNISERS,
) -> Bounce:
    """The anatomy of one message; on any internal failure, a record with ``error`` set.
    Given an iter_messages SourceError instead of a message, raises InputError.

    ``recognisers`` is the registry to ask (``formats.registry(...)`` narrows it, to measure
    what some families add)."""
    return analyse(data, source, recognisers)[0]


def analyse(
    data: bytes | RawMessage | SourceError,
    source: str = "-",
    recognisers: Sequence[Recogniser] = RECOGNISERS,
) -> tuple[Bounce, MessageView | None]:
    """The anatomy and the parsed view it came from, for layers that read more of the message
    (features) without parsing it twice. The view is None when parsing failed.

    A :class:`SourceError` (what ``iter_messages`` yields for an unreadable input) is no
    message: it raises InputError naming the input, rather than a TypeError from deep inside.
    """
    if isinstance(data, SourceError):
        raise InputError(f"cannot read {data.source}: {data.message}")
    raw = data if isinstance(data, RawMessage) else RawMessage(source, data, len(data))
    try:
        view = MessageView(_as_message(raw.data))
        return _parse(raw, view, recognisers), view
    except Exception as exc:  # mail is hostile: one bad message must not stop a batch
        failed = Bounce(
            source=raw.source,
            is_bounce=False,
            size=raw.size,
            error=f"could not parse message: {type(exc).__name__}: {exc}"[:300],
        )
        return failed, None


def _as_message(data: bytes) -> bytes:
    """A bare JSON document (an ESP's bounce webhook saved as a .json file) read as the body
    of a message with no header fields, so the ESP families find it where a mailed copy
    keeps it."""
    if data[:256].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return b"\n" + data
    return data


def _parse(raw: RawMessage, view: MessageView, recognisers: Sequence[Recogniser]) -> Bounce:
    report = _recognise(view, recognisers)
    returned = _returned_message(view, report)
    outer = _outer_fields(view, raw, report)
    if report is None or not report.is_bounce:
        return Bounce(
            is_bounce=False,
            format=report.format if report else None,
            **_original_fields(returned, None),
            **outer,
        )
    if report.original_message_id is None and (returned is None or not returned.get("message-id")):
        # Exchange and Office 365 name the original in the report's own In-Reply-To.
        report.original_message_id = normalise_message_id(view.header("in-reply-to"))
    return Bounce(
        is_bounce=True,
        format=report.format,
        recipients=tuple(_settle(r) for r in report.recipients),
        reporting_mta=report.reporting_mta or _reporting_mta_from_received(view),
        arrival_date=report.arrival_date,
        **_original_fields(returned, report.original_message_id),
        **outer,
    )


def _recognise(view: MessageView, recognisers: Sequence[Recogniser]) -> Report | None:
    kind = not_bounce_kind(view)
    if kind is not None:
        return Report(kind, is_bounce=False)
    for recogniser in recognisers:
        report = recogniser.recognise(view)
        if report is not None:
            return report
    if is_auto_reply(view):
        return Report("auto-reply", is_bounce=False)
    return None


def _settle(found: FoundRecipient) -> FailedRecipient:
    """Fill status, reason and hardness the same way for every format."""
    diagnostic = " ".join(found.diagnostic.split())[:_MAX_DIAGNOSTIC] if found.diagnostic else None
    status = found.status if found.status and found.status[:1] in "245" else None
    stated = codes.enhanced_status(diagnostic or "")
    reply = codes.reply_code(diagnostic or "")
    if stated and stated[0] == (status or stated)[0]:
        # The remote server's own code is more specific than the reporting MTA's summary
        # (Sendmail writes Status: 4.4.7 for a "450 4.7.1 Access denied" it gave up on).
        status = stated
    status = status or stated or codes.status_from_reply(reply)
    reason = codes.classify_reason(diagnostic, status, found.action)
    return FailedRecipient(
        address=found.address,
        status=status,
        action=found.action,
        diagnostic_code=diagnostic,
        remote_mta=found.remote_mta,
        reason=reason,
        hard=codes.is_hard(status, found.action, reply, reason),
    )


def _returned_message(view: MessageView, report: Report | None) -> Message | None:
    """The returned original's headers, from the first place that holds them with a Message-ID.

    Reports keep them in an attached part, quoted in the text after a marker, or quoted
    anywhere; the first candidate with a Message-ID wins, else the first candidate at all.
    Candidates are looked for lazily, so the text is scanned only when the parts fall short.
    """
    first = None
    for candidate in _returned_candidates(view, report):
        if candidate is not None:
            if candidate.get("message-id"):
                return candidate
            first = first or candidate
    return first


def _returned_candidates(view: MessageView, report: Report | None) -> Iterator[Message | None]:
    if report is not None:
        yield report.returned
    yield view.attached_original
    if report is not None and report.is_bounce:
        yield _headers_after_message_id((view.plain_text or view.text).splitlines())


def _headers_after_message_id(lines: list[str]) -> Message | None:
    """Last resort: a quoted header block somewhere in the text that holds a Message-ID."""
    for index, line in enumerate(lines):
        if line.lstrip("> \t").lower().startswith("message-id:"):
            start = index
            while start > 0 and index - start < 60 and lines[start - 1].strip():
                start -= 1
            block: list[str] = []
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            for text in lines[start : index + 60]:
                if indent and text.startswith(indent):
                    text = text[len(indent) :]  # a quoted, indented summary of the fields
                text = text.lstrip("> ") if text.startswith(">") else text
                if not text.strip():
                    break
                # Keep fields and their continuations; drop lines a mailer wrapped unindented.
                if text[:1] in " \t" or _is_field(text.strip()):
                    block.append(text if text[:1] in " \t" else text.strip())
            return parse_headers("\n".join(block) + "\n\n")
    return None


def _is_field(line: str) -> bool:
    name, colon, _ = line.partition(":")
    return bool(colon) and bool(name) and " " not in name and len(name) < 80


def _original_fields(returned: Message | None, message_id: str | None) -> dict[str, object]:
    if returned is None:
        return {"original_message_id": message_id}
    mid = message_id or normalise_message_id(header_text(returned.get("message-id")))
    return {
        "original_message_id": mid,
        "original_from": first_header_address(header_text(returned.get("from"))),
        "original_to": ", ".join(header_addresses(header_text(returned.get("to")))) or None,
        "original_subject": header_text(returned.get("subject")) or None,
        "original_date": header_text(returned.get("date")) or None,
        "original_received": tuple(header_text(v) for v in returned.get_all("received") or ()),
    }


def _outer_fields(view: MessageView, raw: RawMessage, report: Report | None) -> dict[str, object]:
    error = None
    # A bounce event posted by an ESP (JSON, no header fields) is mail for our purposes.
    is_mail = bool(view.message.keys()) or (report is not None and report.format in JSON_FAMILIES)
    if raw.truncated:
        error = f"message is {raw.size} bytes; only the first {len(raw.data)} were read"
    elif not is_mail:
        error = "no header fields: not an e-mail message"
    elif report is not None and report.recipients_capped:
        error = f"the report names more than {MAX_RECIPIENTS} recipients; the first were kept"
    return {
        "source": raw.source,
        "message_id": normalise_message_id(view.header("message-id")),
        "from_": first_header_address(view.header("from")),
        "subject": view.header("subject") or None,
        "date": view.header("date") or None,
        "return_path": view.header("return-path") or None,
        "size": raw.size,
        "mime_defects": view.defects,
        "error": error,
        "is_mail": is_mail,
    }


def _reporting_mta_from_received(view: MessageView) -> str | None:
    """Free-text bounces name no Reporting-MTA: the earliest (bottom) Received header was
    added where the report was written; failing that, the host in the From address."""
    for value in reversed(view.message.get_all("received") or ()):
        text = header_text(value)
        by = text.find("by ")
        if by != -1 and (by == 0 or text[by - 1].isspace()):
            host = text[by + 3 :].split(None, 1)
            if host and "." in host[0]:
                return host[0].strip("();")
    for address in addresses_in_text(view.header("from")):
        return address.split("@", 1)[1]
    return None
