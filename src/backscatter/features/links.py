"""Links and attachments of a report, read from the text only: nothing is fetched or opened.

Only the report's own parts count: a genuine bounce returning a newsletter carries the
newsletter's links inside the returned original, which says nothing about the bounce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser
from urllib.parse import urlsplit

from backscatter.mail.message import MessageView, content_type, decode_payload

_MAX_URLS = 300
_URL_STARTS = ("http://", "https://", "www.")
_URL_STOP = frozenset(" \t\r\n\"'<>()[]{}|\\^`")
#: A run of characters that are not _URL_STOP (each escaped): a URL's end, found in C.
_URL_RUN = re.compile("[^" + "".join(re.escape(char) for char in sorted(_URL_STOP)) + "]*")


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    host: str
    text: str | None = None  # the anchor text, for HTML links


@dataclass(frozen=True, slots=True)
class Attachment:
    content_type: str
    filename: str


class _Anchors(HTMLParser):
    """Collects (href, visible text) pairs and whether there is a form."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.has_form = False
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.has_form = True
        elif tag == "a" and len(self.links) < _MAX_URLS:
            self._href = dict(attrs).get("href") or None
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def urls_in_text(text: str) -> list[str]:
    """URLs in plain text, by a linear scan: str.find for each start, a character-class run
    for each end (nothing that can backtrack)."""
    found: list[str] = []
    lowered = text.lower()
    position = 0
    while len(found) < _MAX_URLS:
        starts = [i for i in (lowered.find(s, position) for s in _URL_STARTS) if i != -1]
        if not starts:
            break
        start = min(starts)
        end = _URL_RUN.match(text, start).end()
        found.append(text[start:end].rstrip(".,;:!?"))
        position = max(end, start + 1)
    return found


def host_of(url: str) -> str:
    candidate = url if "://" in url else f"http://{url}"
    try:
        return (urlsplit(candidate).hostname or "").lower().strip(".")
    except ValueError:
        return ""


def report_links(view: MessageView, report_text: str) -> tuple[list[Link], bool]:
    """Links in the report's HTML parts (with anchor text) and its plain report text."""
    links: list[Link] = []
    has_form = False
    for part in view.parts:
        if not part.is_multipart() and content_type(part) == "text/html":
            parser = _Anchors()
            try:
                parser.feed(decode_payload(part)[:500_000])
                parser.close()
            except Exception:  # HTMLParser is lenient; anything else is hostile markup
                pass
            has_form = has_form or parser.has_form
            links.extend(Link(href, host_of(href), text) for href, text in parser.links)
    links.extend(Link(url, host_of(url)) for url in urls_in_text(report_text))
    return [link for link in links if link.host][:_MAX_URLS], has_form


def report_attachments(view: MessageView) -> list[Attachment]:
    """Attachments of the report itself, by declared type and name (never opened)."""
    found: list[Attachment] = []
    for part in view.parts[1:]:
        if part.is_multipart() or part is view.returned_part:
            continue
        field = part.get("content-disposition")
        filename = part.get_filename() if field is not None or _may_name(part) else None
        disposition = str(field or "").lower()
        if filename or disposition.startswith("attachment"):
            found.append(Attachment(content_type(part), str(filename or "").lower()))
    return found


def _may_name(part: Message) -> bool:
    """Whether the Content-Type field can hold a ``name`` parameter, the only place
    get_filename looks when there is no Content-Disposition: most report parts have none, and
    get_filename parses every parameter to say so (a parameter's name, RFC 2231 ``name*0*``
    included, is text of the field)."""
    value = part.get("content-type")
    return value is not None and (not isinstance(value, str) or "name" in value.lower())
