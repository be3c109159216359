"""The report's charts as PNG bytes (matplotlib, headless, imported on first use).

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``, drawn by the
Agg canvas): no pyplot state, no display, nothing left open between reports. Every chart has
a title and labelled axes, and uses the same colour for a verdict everywhere in the report.
Labels from mail (domains) are shortened and have ``$`` escaped, so mathtext never parses
what a stranger wrote.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from backscatter.report.data import BOUNCE_VERDICTS, Timeline

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: One colour per verdict and per bounce kind, shared with the HTML (report/html.py).
COLOURS = {
    "genuine": "#3b7dd8",
    "spoofed": "#d64545",
    "unknown": "#9a9a9a",
    "not_bounce": "#c8c8c8",
    "hard": "#b23b3b",
    "soft": "#e8a33d",
}
_DPI = 100
_LABEL_WIDTH = 38
_MAX_BARS = 60  # periods drawn as separate bars; more as a filled step chart


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # a glyph missing from the font is not the user's problem
        warnings.simplefilter("ignore")
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _label(text: str) -> str:
    """A tick label from mail: one line, at most _LABEL_WIDTH characters, no mathtext."""
    text = "".join(c if c.isprintable() else " " for c in text)
    if len(text) > _LABEL_WIDTH:
        text = text[: _LABEL_WIDTH - 1] + "…"
    return text.replace("$", r"\$")


def _hbars(axes: Axes, labels: Sequence[str], stacks: Sequence[tuple[str, Sequence[int]]]) -> None:
    """Horizontal stacked bars, first label on top, each stack named in the legend."""
    positions = range(len(labels))
    left = [0] * len(labels)
    for name, values in stacks:
        axes.barh(positions, values, left=left, color=COLOURS[name], label=name)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(list(positions), [_label(x) for x in labels])
    axes.invert_yaxis()
    _whole_numbers(axes.xaxis)
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)


def _whole_numbers(axis: Any) -> None:
    """Counts are whole: no 0.25-message ticks on a small mailbox."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def verdicts_png(counts: dict[str, int]) -> bytes:
    """Messages per verdict, each bar labelled with its count."""
    figure = _figure(7.0, 2.6)
    axes = figure.add_subplot()
    names = list(counts)
    bars = axes.barh(names, [counts[n] for n in names], color=[COLOURS[n] for n in names])
    axes.bar_label(bars, padding=3)
    _whole_numbers(axes.xaxis)
    axes.invert_yaxis()
    axes.set_xlabel("Messages")
    axes.set_ylabel("Verdict")
    axes.set_title("Verdicts: which bounces are real")
    axes.margins(x=0.12)
    return _png(figure)


def reasons_png(hard: Sequence[int], soft: Sequence[int], categories: Sequence[str]) -> bytes:
    """Failed recipients of genuine bounces per reason, hard and soft stacked."""
    figure = _figure(7.0, 3.4)
    axes = figure.add_subplot()
    _hbars(axes, categories, (("hard", hard), ("soft", soft)))
    axes.set_xlabel("Failed recipients (genuine bounces)")
    axes.set_ylabel("Reason")
    axes.set_title("Why mail bounced: hard vs soft by reason")
    axes.legend(loc="best")
    return _png(figure)


def domains_png(domains: Sequence[str], hard: Sequence[int], soft: Sequence[int]) -> bytes:
    """The top failing recipient domains, hard and soft stacked."""
    figure = _figure(7.0, 0.8 + 0.32 * max(len(domains), 3))
    axes = figure.add_subplot()
    _hbars(axes, domains, (("hard", hard), ("soft", soft)))
    axes.set_xlabel("Failed recipients (genuine bounces)")
    axes.set_ylabel("Recipient domain")
    axes.set_title("Top failing recipient domains")
    axes.legend(loc="best")
    return _png(figure)


def timeline_png(line: Timeline) -> bytes:
    """Bounces per period stacked by verdict, and the spoofed share on a second axis."""
    figure = _figure(9.0, 3.6)
    axes = figure.add_subplot()
    positions = list(range(len(line.starts)))
    bottom = [0] * len(positions)
    for verdict in BOUNCE_VERDICTS:
        values = line.counts[verdict]
        top = [a + b for a, b in zip(bottom, values, strict=True)]
        if len(positions) <= _MAX_BARS:
            axes.bar(positions, values, bottom=bottom, width=0.85, color=COLOURS[verdict])
        else:  # one filled step polygon, not hundreds of rectangles (10x faster to draw)
            edges = [p - 0.5 for p in positions] + [positions[-1] + 0.5]
            axes.stairs(top, edges, baseline=bottom, fill=True, color=COLOURS[verdict])
        bottom = top
    axes.set_xlabel(f"Bounce date ({line.unit} starting)")
    axes.set_ylabel("Bounces")
    _whole_numbers(axes.yaxis)
    axes.set_title(f"Bounces per {line.unit} and spoofed share")
    step = max(1, len(positions) // 12)
    fmt = "%Y-%m" if line.unit == "month" else "%Y-%m-%d"
    ticks = positions[::step]
    axes.set_xticks(ticks, [line.starts[i].strftime(fmt) for i in ticks], rotation=30)
    share = axes.twinx()
    shares = [s * 100 if s is not None else float("nan") for s in line.spoofed_share()]
    # Over many sparse periods a line would zig-zag between 0 and 100 % on single bounces:
    # a dot per period that had bounces reads better there.
    dense = len(positions) <= _MAX_BARS
    share.plot(
        positions,
        shares,
        color="black",
        marker=".",
        markersize=6 if dense else 4,
        linestyle="-" if dense else "none",
        linewidth=1.2,
        label="spoofed share",
    )
    share.set_ylim(0, 105)
    share.set_ylabel("Spoofed share of bounces (%)")
    from matplotlib.patches import Patch

    # one entry per verdict in verdict order, whether drawn as bars or steps, even if empty
    handles = [Patch(color=COLOURS[v], label=v) for v in BOUNCE_VERDICTS]
    handles += share.get_legend_handles_labels()[0]
    figure.legend(handles=handles, loc="outside lower center", ncols=4, fontsize="small")
    return _png(figure)
