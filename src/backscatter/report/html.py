"""The report as one self-contained HTML page: CSS inline, charts embedded as base64 PNG,
no JavaScript, so it opens from a mail attachment or a file share and prints as it shows.

Everything that comes from mail (addresses, domains, MTA names, subjects) and from the
command line passes through :func:`_text` (``html.escape`` with quotes, control characters
made visible) before it reaches the page: a Subject of ``<script>`` is shown, never run.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from backscatter.detector import GENUINE, NOT_BOUNCE, SPOOFED, UNKNOWN, VERDICTS
from backscatter.report import figures
from backscatter.report.data import (
    BOUNCE_VERDICTS,
    CATEGORIES,
    OTHERS,
    AddressTable,
    ReportData,
    TopCounter,
    timeline,
)

_NONE = "\u2013"  # an en dash: no value
TOP = 15  # rows in the top-N tables
LATEST_PERIODS = 12  # rows in the timeline's table

_MEANING = {
    GENUINE: "a real report about mail that was sent",
    SPOOFED: "forged: backscatter or a fake NDR (phishing in a bounce's clothes)",
    UNKNOWN: "claims to be a bounce, without enough evidence either way",
    NOT_BOUNCE: "auto-replies, feedback reports, success notices and other mail",
}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;
 margin:0 auto;max-width:1040px;padding:24px;line-height:1.45;background:#fff}
h1{margin:0 0 4px;font-size:28px}h2{margin:36px 0 8px;font-size:21px;
 border-bottom:2px solid #e4e4e7;padding-bottom:4px}
.meta{color:#5f6368;font-size:14px;margin:0 0 16px}.meta code{font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}
.card{flex:1 1 150px;border:1px solid #e4e4e7;border-radius:8px;padding:10px 14px}
.card b{display:block;font-size:26px;font-variant-numeric:tabular-nums}
.card span{color:#5f6368;font-size:13px}
.banner{border-radius:8px;padding:12px 16px;margin:12px 0;font-size:15px}
.warning{background:#fff4e5;border:1px solid #f0b35a}
.note{background:#eef4fc;border:1px solid #a9c4ec}
table{border-collapse:collapse;margin:8px 0 4px;font-size:14px;min-width:50%}
th,td{padding:5px 10px;border-bottom:1px solid #e4e4e7;text-align:left;vertical-align:top}
th{background:#f6f6f7;font-weight:600}tbody tr:nth-child(even){background:#fafafa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.addresses td:first-child{font-family:ui-monospace,Menlo,Consolas,monospace;
 font-size:13px;word-break:break-all}
tfoot td{font-weight:600;border-top:2px solid #d4d4d8}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px}
.more{color:#5f6368;font-size:14px;margin:4px 0}
figure{margin:12px 0}figure img{max-width:100%;height:auto}
p.explain{color:#3c4043;margin:4px 0 8px;font-size:14px}
"""


@dataclass(frozen=True)
class Context:
    """How the report was made: what it read and with which options."""

    inputs: tuple[str, ...]
    sent_log: str | None = None
    model: str | None = None
    config: str | None = None
    threshold: float = 0.5


def _text(value: object) -> str:
    """Escaped for HTML text and attributes; control and format characters (bidi overrides
    that would reorder an address on screen) shown as U+FFFD."""
    text = str(value)
    text = "".join(c if c.isprintable() or c in "\t " else "\ufffd" for c in text)
    return html.escape(text, quote=True)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}\u202f%" if whole else _NONE


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_text(alt)}"></figure>'


def _swatch(name: str) -> str:
    return f'<span class="sw" style="background:{figures.COLOURS[name]}"></span>'


Cell = tuple[str, bool]  # (HTML, numeric)


def _table(
    headers: Sequence[tuple[str, bool]],
    rows: Iterable[Sequence[Cell]],
    footer: Sequence[Cell] | None = None,
    css: str = "",
) -> str:
    """A table; numeric columns right-aligned. Cells are HTML already escaped by the caller."""

    def cells(row: Sequence[Cell], tag: str) -> str:
        return "".join(
            f'<{tag} class="num">{c}</{tag}>' if num else f"<{tag}>{c}</{tag}>" for c, num in row
        )

    head = cells([(_text(h), num) for h, num in headers], "th")
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    foot = f"<tfoot><tr>{cells(footer, 'td')}</tr></tfoot>" if footer else ""
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table>"


def _num(value: int | str) -> Cell:
    return (f"{value:,}" if isinstance(value, int) else value, True)


def _cell(value: object) -> Cell:
    return (_text(value), False)


def _top(counter: TopCounter, count: int = TOP) -> list[tuple[str, int]]:
    """The biggest keys, with the overflow bucket (if any) last whatever its size."""
    ranked = [(k, v) for k, v in counter.most_common(count + 1) if k != OTHERS][:count]
    if counter.get(OTHERS):
        ranked.append((OTHERS, counter[OTHERS]))
    return ranked


def _hidden(counter: TopCounter, shown: list[tuple[str, int]]) -> int:
    """Named keys not in the table (the overflow bucket is a row of its own, not a key)."""
    named = len(counter) - (OTHERS in counter)
    return named - sum(1 for key, _ in shown if key != OTHERS)


class _Page:
    """Builds the sections in order; each is a heading, a sentence, a chart and a table."""

    def __init__(self, data: ReportData, context: Context) -> None:
        self.data = data
        self.context = context
        self.parts: list[str] = []

    def add(self, *parts: str) -> None:
        self.parts.extend(parts)

    def build(self) -> str:
        for section in self._sections():
            section()
        title = "Bounce report"
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{title}</title><style>{_CSS}</style></head><body>"
            + "".join(self.parts)
            + "</body></html>\n"
        )

    def _sections(self) -> list[Callable[[], None]]:
        return [
            self.header,
            self.verdicts,
            self.reasons,
            self.domains,
            self.mtas,
            self.timeline,
            self.suppress,
            self.held_back,
        ]

    def header(self) -> None:
        data, context = self.data, self.context
        inputs = ", ".join(f"<code>{_text(p)}</code>" for p in context.inputs)
        sent_log = f"<code>{_text(context.sent_log)}</code>" if context.sent_log else "none"
        model = f"<code>{_text(context.model)}</code>" if context.model else "the shipped model"
        config = f"; config: <code>{_text(context.config)}</code>" if context.config else ""
        self.add(
            "<h1>Bounce report</h1>",
            f'<p class="meta">Made {data.now:%Y-%m-%d %H:%M} UTC from {inputs}; '
            f"sent-log: {sent_log}; model: {model}{config}; spoofed at or above "
            f"{context.threshold:.2f}.</p>",
        )
        held = data.held_back_only()
        spoofed = data.verdicts[SPOOFED]
        cards = (
            (f"{data.messages:,}", "messages read"),
            (f"{data.bounces:,}", "bounces among them"),
            (_share(spoofed, data.bounces), "of bounces spoofed"),
            (f"{data.suppress.total:,}", "addresses to suppress"),
            (f"{held.total:,}", "addresses held back"),
        )
        self.add(
            '<div class="cards">'
            + "".join(f'<div class="card"><b>{v}</b><span>{t}</span></div>' for v, t in cards)
            + "</div>"
        )
        if not context.sent_log:
            self.add(
                '<div class="banner warning"><strong>No sent-log was given: backscatter cannot '
                "be detected.</strong> Real servers bouncing mail you never sent look exactly "
                "like genuine bounces without a record of what you sent, so they are counted "
                f"genuine here, and the {data.suppress.total:,} addresses to suppress may "
                "include addresses a forger used. Run again with <code>--sent-log</code> "
                "(see <code>backscatter sentlog import</code>).</div>"
            )
        outside = sum(n for k, n in data.coverage.items() if k != "covered")
        if outside:
            self.add(
                f'<div class="banner note">{outside:,} bounce(s) are undated or outside the '
                "span the sent-log covers: for them it is no evidence either way.</div>"
            )
        problems = []
        if data.unreadable:
            problems.append(f"{data.unreadable:,} input(s) could not be read")
        if data.skipped:
            problems.append(f"{data.skipped:,} file(s) skipped because they are not mail")
        if problems:
            self.add(f'<div class="banner note">{"; ".join(problems)}.</div>')

    def verdicts(self) -> None:
        data = self.data
        self.add(
            '<h2 id="verdicts">Verdicts</h2>',
            '<p class="explain">Every message read, by what backscatter made of it.</p>',
        )
        counts = {v: data.verdicts[v] for v in VERDICTS}
        if data.messages:
            self.add(_img(figures.verdicts_png(counts), "Messages per verdict"))
        rows = [
            (
                (_swatch(v) + _text(v), False),
                _num(counts[v]),
                _num(_share(counts[v], data.messages)),
                _cell(_MEANING[v]),
            )
            for v in VERDICTS
        ]
        footer = (
            _cell("all"),
            _num(data.messages),
            _num(_share(data.messages, data.messages)),
            _cell(""),
        )
        self.add(
            _table(
                (("Verdict", False), ("Messages", True), ("Share", True), ("Meaning", False)),
                rows,
                footer,
            )
        )

    def reasons(self) -> None:
        data = self.data
        hard = [data.reasons[(c, True)] for c in CATEGORIES]
        soft = [data.reasons[(c, False)] for c in CATEGORIES]
        total = sum(hard) + sum(soft)
        self.add(
            '<h2 id="reasons">Hard and soft bounces by reason</h2>',
            '<p class="explain">Failed recipients of genuine bounces. Hard: permanent (5.x.x); '
            "soft: temporary or delayed, worth retrying. Reasons in forged bounces are "
            "whatever the forger wrote, so they are not counted here.</p>",
        )
        if total:
            self.add(_img(figures.reasons_png(hard, soft, CATEGORIES), "Bounces by reason"))
        rows = [
            (_cell(c), _num(h), _num(s), _num(h + s), _num(_share(h + s, total)))
            for c, h, s in zip(CATEGORIES, hard, soft, strict=True)
        ]
        footer = (
            _cell("all"),
            _num(sum(hard)),
            _num(sum(soft)),
            _num(total),
            _num(_share(total, total)),
        )
        heads = (
            ("Reason", False),
            ("Hard", True),
            ("Soft", True),
            ("Total", True),
            ("Share", True),
        )
        self.add(_table(heads, rows, footer))

    def domains(self) -> None:
        data = self.data
        top = _top(data.domains)
        total = sum(data.domains.values())
        self.add(
            '<h2 id="domains">Top failing recipient domains</h2>',
            '<p class="explain">Where genuine bounces came from, by the failed recipient\'s '
            "domain: one domain failing for many readers is often a block, not dead "
            "addresses.</p>",
        )
        if not top:
            self.add('<p class="more">No failed recipients in genuine bounces.</p>')
            return
        hard = [data.hard_domains.get(d, 0) for d, _ in top]
        soft = [n - h for (_, n), h in zip(top, hard, strict=True)]
        shown = [(d, h, s) for (d, _), h, s in zip(top, hard, soft, strict=True) if d != OTHERS]
        self.add(
            _img(
                figures.domains_png(
                    [d for d, _, _ in shown], [h for _, h, _ in shown], [s for _, _, s in shown]
                ),
                "Top failing domains",
            )
        )
        rows = [
            (_cell(d), _num(n), _num(h), _num(s), _num(_share(n, total)))
            for (d, n), h, s in zip(top, hard, soft, strict=True)
        ]
        heads = (
            ("Domain", False),
            ("Failed recipients", True),
            ("Hard", True),
            ("Soft", True),
            ("Share", True),
        )
        self.add(_table(heads, rows))
        self._more(_hidden(data.domains, top), "domain")

    def mtas(self) -> None:
        data = self.data
        top = _top(data.mtas)
        self.add(
            '<h2 id="mtas">Top reporting MTAs</h2>',
            '<p class="explain">The mail systems that wrote the bounces (all verdicts), and '
            "how many of theirs were forged: a forger often names a real server.</p>",
        )
        if not top:
            self.add('<p class="more">No bounces.</p>')
            return
        rows = [
            (
                _cell(m),
                _num(n),
                _num(data.spoofed_mtas.get(m, 0)),
                _num(_share(data.spoofed_mtas.get(m, 0), n)),
            )
            for m, n in top
        ]
        heads = (
            ("Reporting MTA", False),
            ("Bounces", True),
            ("Spoofed", True),
            ("Spoofed share", True),
        )
        self.add(_table(heads, rows))
        self._more(_hidden(data.mtas, top), "MTA")
        subjects = _top(data.spoofed_subjects, 10)
        if subjects:
            spoofed = data.verdicts[SPOOFED]
            self.add(
                "<h3>Most common subjects of spoofed bounces</h3>",
                _table(
                    (("Subject", False), ("Spoofed bounces", True), ("Share", True)),
                    [(_cell(s), _num(n), _num(_share(n, spoofed))) for s, n in subjects],
                ),
            )

    def timeline(self) -> None:
        data = self.data
        line = timeline(data.days)
        undated = sum(data.undated.values())
        self.add(
            '<h2 id="timeline">Bounces and spoofed share over time</h2>',
            '<p class="explain">By the bounce\'s Date header (its Arrival-Date when the Date '
            "is missing). A jump in the spoofed share is a backscatter wave or a phishing "
            "campaign; a jump in genuine bounces is a list or delivery problem.</p>",
        )
        if undated:
            by = ", ".join(f"{data.undated[v]:,} {v}" for v in BOUNCE_VERDICTS if data.undated[v])
            self.add(
                f'<p class="more">{undated:,} bounce(s) have no usable date and are not '
                f"charted ({by}).</p>"
            )
        if line is None:
            self.add('<p class="more">No dated bounces.</p>')
            return
        self.add(_img(figures.timeline_png(line), "Bounces over time"))
        fmt = "%Y-%m" if line.unit == "month" else "%Y-%m-%d"
        shares = line.spoofed_share()
        rows = []
        for index in range(len(line.starts))[-LATEST_PERIODS:]:
            counts = [line.counts[v][index] for v in BOUNCE_VERDICTS]
            share = shares[index]
            rows.append(
                (
                    _cell(line.starts[index].strftime(fmt)),
                    _num(sum(counts)),
                    *(_num(c) for c in counts),
                    _num(f"{100 * share:.1f}\u202f%" if share is not None else _NONE),
                )
            )
        heads = (
            (line.unit.capitalize(), False),
            ("Bounces", True),
            *((v.capitalize(), True) for v in BOUNCE_VERDICTS),
            ("Spoofed share", True),
        )
        self.add(f'<p class="more">The latest {len(rows)} {line.unit}(s):</p>', _table(heads, rows))

    def suppress(self) -> None:
        table = self.data.suppress
        self.add(
            '<h2 id="suppress">Addresses to suppress</h2>',
            '<p class="explain">Hard-bounced recipients of genuine bounces only: stop mailing '
            "these. <code>backscatter suppressions</code> writes the full list for your "
            "mailing software.</p>",
        )
        self._addresses(table, with_verdict=False)

    def held_back(self) -> None:
        table = self.data.held_back_only()
        self.add(
            '<h2 id="held-back">Held back: named only by spoofed or unknown bounces</h2>',
            '<p class="explain">A forged bounce can name any address; suppressing on its word '
            "would let a stranger unsubscribe your readers. These stay on the list.</p>",
        )
        self._addresses(table, with_verdict=True)

    def _addresses(self, table: AddressTable, with_verdict: bool) -> None:
        if not table.total:
            self.add('<p class="more">None.</p>')
            return
        rows = []
        for address in sorted(table.shown):
            entry = table.shown[address]
            row = [(_text(address), False)]
            if with_verdict:
                row.append((_swatch(entry.verdict) + _text(entry.verdict), False))
            row += [
                _cell(entry.reason),
                _num(entry.bounces),
                _num(f"{entry.last:%Y-%m-%d}" if entry.last else _NONE),
            ]
            rows.append(row)
        heads = [("Address", False)]
        if with_verdict:
            heads.append(("Verdict", False))
        heads += [
            ("Reason" + (" claimed" if with_verdict else ""), False),
            ("Bounces", True),
            ("Last bounce", True),
        ]
        self.add(_table(heads, rows, css="addresses"))
        self._more(table.total - len(table.shown), "address", "es")

    def _more(self, hidden: int, noun: str, plural: str = "s") -> None:
        if hidden > 0:
            self.add(
                f'<p class="more">… and {hidden:,} more {noun}{plural if hidden > 1 else ""}.</p>'
            )


def render(data: ReportData, context: Context) -> str:
    """The whole page as a string."""
    return _Page(data, context).build()
