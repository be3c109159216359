"""Links, attachments and lures: what the message asks the reader to click or open."""

from __future__ import annotations

import ipaddress
import math

from backscatter.features.evidence import Evidence, registered_domain
from backscatter.features.feature import Feature, flag, positive

SHORTENERS = frozenset(
    {
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "t.ly",
        "shorturl.at",
        "rb.gy",
        "tiny.cc",
        "s.id",
        "lnkd.in",
    }
)
LURES = (
    "release",
    "pending",
    "held",
    "quarantine",
    "verify",
    "validate",
    "sign in",
    "log in",
    "login",
    "password",
    "be suspended",
    "been suspended",
    "deactivat",
    "click",
    "review",
    "action required",
    "restore",
    "upgrade",
    "unlock",
    "confirm your",
)
EXECUTABLE = (
    ".exe",
    ".scr",
    ".js",
    ".vbs",
    ".bat",
    ".cmd",
    ".jar",
    ".msi",
    ".ps1",
    ".hta",
    ".lnk",
    ".iso",
    ".img",
    ".wsf",
)
ARCHIVE = (".zip", ".rar", ".7z", ".gz", ".tar", ".cab", ".ace")
HTML_FILES = (".htm", ".html", ".shtml", ".svg")


def _domains(e: Evidence) -> set[str]:
    return {d for d in (registered_domain(link.host) for link in e.links) if d}


def _unrelated(e: Evidence) -> float:
    """Link domains that are neither the reporting MTA's nor the sender's."""
    own = {e.reporting_domain, registered_domain((e.bounce.from_ or "").rpartition("@")[2])}
    return math.log1p(len(_domains(e) - own))


def _ip_links(e: Evidence) -> float:
    for link in e.links:
        try:
            ipaddress.ip_address(link.host)
            return 1.0
        except ValueError:
            continue
    return 0.0


def _text_mismatch(e: Evidence) -> float:
    """An anchor whose visible text names another domain than its target."""
    for link in e.links:
        if link.text and "." in link.text and " " not in link.text.strip():
            shown = registered_domain(link.text.strip().split("://")[-1].split("/")[0])
            if shown and shown != registered_domain(link.host):
                return 1.0
    return 0.0


def _lures(e: Evidence) -> float:
    text = f"{e.subject}\n{e.report_text[:5000]}".lower()
    return math.log1p(sum(map(text.count, LURES)))  # (map: no generator step per lure)


def _attached(e: Evidence, endings: tuple[str, ...]) -> float:
    return flag(any(a.filename.endswith(endings) for a in e.attachments))


FEATURES: tuple[Feature, ...] = (
    Feature(
        "urls",
        "links in the report itself (log-scaled); MTA reports have few or none",
        lambda e: math.log1p(len(e.links)),
    ),
    Feature(
        "url_domains",
        "distinct registered domains linked (log-scaled)",
        lambda e: math.log1p(len(_domains(e))),
    ),
    Feature(
        "unrelated_url_domains",
        "linked domains unrelated to the reporting MTA or sender",
        _unrelated,
        forgery=positive,
        rule="LINK_UNRELATED_DOMAIN",
    ),
    Feature(
        "ip_url",
        "a link to a bare IP address",
        _ip_links,
        forgery=positive,
        rule="LINK_TO_BARE_IP",
    ),
    Feature(
        "shortener_url",
        "a link through a URL shortener",
        lambda e: flag(any(registered_domain(link.host) in SHORTENERS for link in e.links)),
        forgery=positive,
        rule="LINK_SHORTENER",
    ),
    Feature(
        "href_text_mismatch",
        "a link's visible text names another domain than its target",
        _text_mismatch,
        forgery=positive,
        rule="LINK_TEXT_MISMATCH",
    ),
    Feature("lures", "release/verify/login/quarantine wording (log-scaled count)", _lures),
    Feature(
        "link_with_lure",
        "a link in a report that asks to release, verify or log in: what a fake NDR wants "
        "clicked (MTAs say 'held' or 'verify' too, but give no link to act on)",
        lambda e: flag(bool(e.links) and _lures(e) > 0),
        forgery=positive,
        rule="LINK_WITH_LURE",
    ),
    Feature(
        "attachments",
        "attachments of the report itself, not the returned original",
        lambda e: math.log1p(len(e.attachments)),
    ),
    Feature(
        "executable_attachment",
        "an executable or script attached",
        lambda e: _attached(e, EXECUTABLE),
        forgery=positive,
        rule="EXECUTABLE_ATTACHED",
    ),
    Feature(
        "archive_attachment",
        "an archive attached (zip, rar, 7z: how malware travels)",
        lambda e: _attached(e, ARCHIVE),
        forgery=positive,
        rule="ARCHIVE_ATTACHED",
    ),
    Feature(
        "html_attachment",
        "an HTML or SVG attachment (credential pages travel this way)",
        lambda e: _attached(e, HTML_FILES),
        forgery=positive,
        rule="HTML_ATTACHED",
    ),
    Feature(
        "html_form",
        "an HTML form in the message",
        lambda e: flag(e.has_form),
        forgery=positive,
        rule="HTML_FORM",
    ),
)
