"""Everything the features read about one message, gathered once.

The transformer turns an :class:`Evidence` into numbers; evidence sentences for people are
written from the same facts, so what the model saw and what the user is told agree.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from email.message import Message
from functools import lru_cache

from tld import get_fld

from backscatter.features.config import OurInfrastructure
from backscatter.features.links import Attachment, Link, report_attachments, report_links
from backscatter.mail.addresses import addresses_in_text
from backscatter.mail.anatomy import Bounce
from backscatter.mail.formats.text import RETURNED_MARKERS, first_marker_line
from backscatter.mail.identifiers import message_ids_in_text, message_ids_in_value
from backscatter.mail.message import MessageView, header_text
from backscatter.mail.signals import (
    DAEMON_LOCALS,
    claims_to_be_a_bounce,
    from_mail_system,
    null_sender,
)
from backscatter.sentlog import SentLogStore, SentMatch, match_bounce
from backscatter.sentlog.batv import BatvCheck, recognise, verify


@dataclass(frozen=True)
class Evidence:
    """The facts about one message that features and explanations are made from."""

    bounce: Bounce
    claims_bounce: bool
    has_dsn_part: bool = False
    multipart_report: bool = False
    null_sender: bool = False
    from_mail_system: bool = False
    auto_submitted: bool = False
    html_only: bool = False
    subject: str = ""
    report_text: str = ""
    top_hop_domain: str | None = None
    reporting_domain: str | None = None
    auth: dict[str, int] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    has_form: bool = False
    attachments: tuple[Attachment, ...] = ()
    returned_dkim_domains: tuple[str, ...] = ()
    returned_hosts: tuple[str, ...] = ()
    returned_ips: tuple[str, ...] = ()
    envelope_recipient: str | None = None
    sentlog_given: bool = False
    sent: SentMatch | None = None
    config_given: bool = False
    our_relay_in_chain: bool = False
    our_dkim: bool = False
    returns_our_bounce: bool = False  # the returned original is a bounce we signed
    original_from_ours: bool = False
    batv_tagged: bool = False
    batv: BatvCheck | None = None


@lru_cache(maxsize=8192)
def registered_domain(host: str | None) -> str | None:
    """``mx1.mail.example.co.uk`` -> ``example.co.uk`` (Public Suffix List, via tld)."""
    if not host or "." not in host:
        return None
    host = host.lower().strip(".[]")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    return get_fld(host, fix_protocol=True, fail_silently=True) or host


def collect(
    bounce: Bounce,
    view: MessageView | None,
    store: SentLogStore | None = None,
    ours: OurInfrastructure | None = None,
) -> Evidence:
    """Gather the evidence for one parsed message (``view`` None: it could not be parsed)."""
    ours = ours or OurInfrastructure()
    if view is None:
        return Evidence(bounce=bounce, claims_bounce=False, sentlog_given=store is not None)
    subject = view.header("subject")
    report_text = _report_region(view)
    claims = bounce.is_bounce or claims_to_be_a_bounce(view, report_text)
    returned = view.attached_original
    envelope = _envelope_recipient(view)
    tagged = recognise(envelope) if envelope else None
    links, has_form = report_links(view, report_text)
    relay_hosts, relay_ips = _received_hosts(returned)
    dkim = _dkim_domains(returned)
    original_domain = (bounce.original_from or "").rpartition("@")[2].lower()
    our_dkim = any(_within(d, ours.signing_domains) for d in dkim)
    return Evidence(
        bounce=bounce,
        claims_bounce=claims,
        has_dsn_part=bool(view.status_parts),
        multipart_report=view.content_type == "multipart/report",
        null_sender=null_sender(view),
        from_mail_system=from_mail_system(view),
        auto_submitted=view.header("auto-submitted").lower().startswith("auto-"),
        html_only=view.text_is_html,
        subject=subject,
        report_text=report_text[:20000],
        top_hop_domain=registered_domain(_top_hop_host(view)),
        reporting_domain=registered_domain(bounce.reporting_mta),
        auth=_authentication(view),
        links=tuple(links),
        has_form=has_form,
        attachments=tuple(report_attachments(view)),
        returned_dkim_domains=dkim,
        returned_hosts=relay_hosts,
        returned_ips=relay_ips,
        envelope_recipient=envelope,
        sentlog_given=store is not None,
        sent=(
            match_bounce(store, bounce, message_ids=quoted_message_ids(view, returned))
            if store is not None and claims
            else None
        ),
        config_given=ours.given,
        our_relay_in_chain=_ours_in_chain(ours, relay_hosts, relay_ips),
        our_dkim=our_dkim,
        returns_our_bounce=our_dkim and _is_a_bounce(returned),
        original_from_ours=_within(original_domain, ours.our_domains),
        batv_tagged=tagged is not None,
        batv=verify(envelope, ours.batv_secrets) if envelope and ours.batv_secrets else None,
    )


def quoted_message_ids(view: MessageView, returned: Message | None) -> list[str]:
    """Every Message-ID the bounce quotes, wherever its layout keeps it: the report's own
    In-Reply-To/References (Exchange, Office 365), the returned copy's ID fields, and
    ``Message-ID:``/``References:`` lines anywhere in the text, quoted or indented. The
    sent-log then matches on what the message says, not only on what a recogniser read."""
    found: list[str] = []
    for name in ("in-reply-to", "references"):
        found.extend(message_ids_in_value(view.header(name)))
    if returned is not None:
        for name in ("message-id", "in-reply-to", "references"):
            found.extend(message_ids_in_value(header_text(returned.get(name))))
    found.extend(message_ids_in_text(view.plain_text or view.text))
    return list(dict.fromkeys(found))


def _report_region(view: MessageView) -> str:
    """The report's own text: plain (or HTML-as-text), cut where a returned copy begins."""
    lines = (view.plain_text or view.text)[:60000].splitlines()
    text = "\n".join(lines)
    # One lower() of the joined lines, not one per line joined again for the search.
    end = first_marker_line(text.lower(), RETURNED_MARKERS)
    return "\n".join(lines[:end]) if end is not None else text


def _envelope_recipient(view: MessageView) -> str | None:
    """Who the bounce was delivered to: the envelope, not the (forgeable) To header."""
    for name in ("x-original-to", "delivered-to", "envelope-to", "to"):
        first = next(addresses_in_text(view.header(name)), None)
        if first is not None:
            return first
    return None


def _top_hop_host(view: MessageView) -> str | None:
    """The host that handed the message to us: the ``from`` of the topmost Received."""
    for value in (view.message.get_all("received") or ())[:1]:
        text = header_text(value)
        if text.startswith("from "):
            parts = text[5:].split()
            if parts:
                return parts[0].strip("()[]")
    return None


def _authentication(view: MessageView) -> dict[str, int]:
    """SPF, DKIM and DMARC as our receiving server recorded them: 1 pass, -1 fail, 0 none."""
    results = " ".join(view.headers("authentication-results")).lower()
    received_spf = view.header("received-spf").lower()
    verdicts: dict[str, int] = {}
    for method in ("spf", "dkim", "dmarc"):
        text = results
        value = 0
        if f"{method}=pass" in text:
            value = 1
        elif any(f"{method}={bad}" in text for bad in ("fail", "softfail", "permerror")):
            value = -1
        verdicts[method] = value
    if verdicts["spf"] == 0 and received_spf:
        verdicts["spf"] = (
            1 if received_spf.startswith("pass") else -1 if "fail" in received_spf[:10] else 0
        )
    return verdicts


def _received_hosts(returned: Message | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Host names and IP literals in the returned original's Received chain."""
    if returned is None:
        return (), ()
    hosts: list[str] = []
    ips: list[str] = []
    for value in (returned.get_all("received") or ())[:30]:
        for token in header_text(value).replace("(", " ").replace(")", " ").split():
            token = token.strip("[];,").lower()
            if not token:
                continue
            if token[0].isdigit() or ":" in token:
                if not _may_be_ip(token):
                    continue
                try:  # only tokens that can be addresses are tried (exceptions are slow)
                    ipaddress.ip_address(token)
                    ips.append(token)
                except ValueError:
                    pass
            elif "." in token and "@" not in token and "=" not in token:
                hosts.append(token)
    return tuple(dict.fromkeys(hosts)), tuple(dict.fromkeys(ips))


_IP_CHARS = frozenset("0123456789abcdef:.")


def _may_be_ip(token: str) -> bool:
    """False for tokens ``ipaddress.ip_address`` is sure to refuse (a Received date's
    ``29``, ``2026``, ``12:34:56``): each refusal raises, which costs more than the rest of
    the chain's reading. Necessary, not sufficient: ``ip_address`` still decides. IPv4 is
    four dotted decimals; IPv6 is hex and colons (a zone after ``%``), eight groups unless
    ``::`` stands for some, and the last two may be dotted IPv4 (so six colons at least)."""
    address = token.partition("%")[0]
    if not _IP_CHARS.issuperset(address):
        return False
    if ":" in address:
        return "::" in address or address.count(":") >= 6
    return address.count(".") == 3


def _dkim_domains(returned: Message | None) -> tuple[str, ...]:
    if returned is None:
        return ()
    domains = []
    for value in returned.get_all("dkim-signature") or ():
        for tag in header_text(value).replace(" ", "").split(";"):
            if tag.startswith("d="):
                domains.append(tag[2:].lower())
    return tuple(domains)


def _is_a_bounce(returned: Message | None) -> bool:
    """The returned original is itself a report a mail system sent: a null Return-Path, a
    mailer-daemon From, or a multipart/report. Where we DKIM-sign the bounces our MTA
    writes, a bounce of one of them (a double bounce, or a report quoting ours) is ours."""
    if returned is None:
        return False
    if header_text(returned.get("return-path")).strip() in ("<>", "<MAILER-DAEMON>"):
        return True
    sender = header_text(returned.get("from")).lower()
    if any(local + "@" in sender for local in DAEMON_LOCALS):
        return True
    return header_text(returned.get("content-type")).lower().startswith("multipart/report")


def _within(domain: str, ours: tuple[str, ...]) -> bool:
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in ours)


def _ours_in_chain(ours: OurInfrastructure, hosts: tuple[str, ...], ips: tuple[str, ...]) -> bool:
    if any(h in ours.relay_hosts for h in hosts):
        return True
    for ip in ips:
        address = ipaddress.ip_address(ip)
        if any(address in network for network in ours.relay_networks):
            return True
    return False
