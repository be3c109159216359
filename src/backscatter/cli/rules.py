"""``backscatter rules``: every rule name the headers and records use, its meaning and weight.

The names are those of ``X-Backscatter-Status: ... tests=`` and of the ``rules`` field of
``backscatter score`` records, as SpamAssassin lists its tests: what users grep for, graph
and re-weight in their own filters. The model stack is imported inside the command only.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from backscatter.cli.app import app
from backscatter.errors import BackscatterError


class RulesFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


_EXAMPLE = "Example: backscatter rules --format json | jq -r '.[] | select(.forgery_sign) | .rule'"


@app.command("rules", epilog=_EXAMPLE)
def rules_command(
    output_format: Annotated[
        RulesFormat,
        typer.Option(
            "--format",
            "-f",
            help="table (aligned text), json (a list of objects) or markdown (the README's "
            "rule list, without weights).",
        ),
    ] = RulesFormat.table,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Model whose weights to show (default: the shipped one)."),
    ] = None,
) -> None:
    """List the rules: name, whether it is a sign of forgery, weight in the model, meaning.

    A positive weight pushes a bounce towards spoofed when the rule fires, a negative one
    towards genuine (the coefficient on the standardized feature, averaged over the model's
    calibrated folds). A message is called spoofed only when at least one forgery sign fired.
    The last rules are decided without the model (weight "fixed"): when one fires, the
    verdict is spoofed with probability 1.0.
    """
    rows = rule_rows(None if output_format is RulesFormat.markdown else _weights(model))
    if output_format is RulesFormat.json:
        typer.echo(json.dumps(rows, indent=2))
    elif output_format is RulesFormat.markdown:
        typer.echo(markdown(rows), nl=False)
    else:
        typer.echo(table(rows), nl=False)


def _weights(model: Path | None) -> dict[str, float]:
    from backscatter.model.explain import mean_weights, rule_weights
    from backscatter.model.persist import load, shipped_model_path

    pipeline = load(model or shipped_model_path())
    try:
        return rule_weights(mean_weights(pipeline))
    except (AttributeError, KeyError, IndexError, ValueError) as exc:
        raise BackscatterError(f"model {model} has no linear weights to show ({exc})") from None


def rule_rows(weights: dict[str, float] | None) -> list[dict[str, Any]]:
    """One row per rule, in the registry's order, then the rules decided without the model
    (``feature`` and ``weight`` None); ``weight`` only when weights are given."""
    from backscatter.certain import CERTAIN_RULES
    from backscatter.model.explain import RULES

    rows = []
    for _, feature in RULES:
        row: dict[str, Any] = {
            "rule": feature.rule,
            "forgery_sign": feature.forgery is not None,
            "meaning": feature.meaning,
            "feature": feature.name,
        }
        if weights is not None:
            row["weight"] = round(weights[str(feature.rule)], 3)
        rows.append(row)
    for certain in CERTAIN_RULES:
        row = {"rule": certain.rule, "forgery_sign": True, "meaning": certain.meaning}
        row["feature"] = None
        if weights is not None:
            row["weight"] = None
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'RULE':<22}  {'SIGN':<4}  {'WEIGHT':>6}  MEANING"]
    for row in rows:
        sign = "yes" if row["forgery_sign"] else "no"
        weight = "fixed" if row["weight"] is None else f"{row['weight']:+.3f}"
        lines.append(f"{row['rule']:<22}  {sign:<4}  {weight:>6}  {row['meaning']}")
    return "\n".join(lines) + "\n"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The README's rule list: generated here, compared there by a test."""
    lines = ["| rule | forgery sign | meaning |", "|---|---|---|"]
    for row in rows:
        sign = "yes" if row["forgery_sign"] else "no"
        lines.append(f"| `{row['rule']}` | {sign} | {row['meaning'].replace('|', '/')} |")
    return "\n".join(lines) + "\n"
