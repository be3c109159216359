"""A list-hygiene report: one HTML page a list owner looks at instead of reading JSON.

Three steps, one module each: :mod:`~backscatter.report.data` counts the verdicts in one
pass (bounded memory), :mod:`~backscatter.report.figures` draws the charts (matplotlib,
imported on first use), :mod:`~backscatter.report.html` writes the self-contained page.
``backscatter report`` (cli/report.py) is the command around them.

    data = ReportData(sent_log=False)
    for verdict in detector.score_many(messages):
        data.add(verdict)
    page = render(data, Context(inputs=("bounces.mbox",)))
"""

from __future__ import annotations

from backscatter.report.data import CATEGORIES, ReportData, category
from backscatter.report.html import Context, render

__all__ = ["CATEGORIES", "Context", "ReportData", "category", "render"]
