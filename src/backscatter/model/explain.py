"""Evidence sentences and rule names: the facts that drove a verdict, for operators and tools.

A feature's contribution is its (averaged, calibrated-fold) weight times its scaled value;
the largest contributions towards the verdict are rendered from the evidence itself. The
rules that fired (``Feature.rule``: stable names, SpamAssassin style) are listed in the same
order of strength, for headers and records that users grep and graph.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.pipeline import Pipeline

from backscatter.features import CATALOG, Evidence
from backscatter.features.content import _domains
from backscatter.features.feature import Feature
from backscatter.features.structure import status_consistency


def _links(e: Evidence) -> str:
    return f"{len(e.links)} link(s) to {len(_domains(e))} domain(s) in the report"


_SENTENCES: dict[str, Callable[[Evidence], str]] = {
    "is_bounce": lambda e: (
        f"a delivery report ({e.bounce.format})"
        if e.bounce.is_bounce
        else "no delivery report a mail system would write"
    ),
    "has_dsn_part": lambda e: (
        "an RFC 3464 delivery-status part" if e.has_dsn_part else "no delivery-status part"
    ),
    "html_only": lambda e: (
        "HTML only, no plain-text report" if e.html_only else "a plain-text report"
    ),
    "null_sender": lambda e: (
        "sent with a null envelope sender" if e.null_sender else "not sent with a null sender"
    ),
    "returns_original": lambda e: (
        "returns the original's headers"
        if e.bounce.original_message_id
        else "does not return the original message"
    ),
    "status_consistent": lambda e: {
        1.0: "status and action agree",
        -1.0: "status and action contradict each other",
    }.get(status_consistency(e), "no status to check"),
    "reporter_is_last_hop": lambda e: (
        f"reported by {e.reporting_domain}, delivered by {e.top_hop_domain}"
    ),
    "sent_message_id": lambda e: e.sent.detail if e.sent else "Message-ID not in the sent-log",
    "sent_recipient": lambda e: e.sent.detail if e.sent else "recipient not in the sent-log",
    "sent_id_unknown": lambda e: (
        f"the sent-log covers the time but never sent <{e.sent.quoted_ids[0]}>"
        + (
            f" (nor {len(e.sent.quoted_ids) - 1} other quoted Message-ID(s))"
            if len(e.sent.quoted_ids) > 1
            else ""
        )
        + ", nor to the failed recipient"
        if e.sent is not None and e.sent.quoted_ids
        else "no quoted Message-ID was looked up"
    ),
    "sent_unmatched": lambda e: (
        "the sent-log covers the time, but no failed recipient is in it"
        if e.sentlog_given
        else "no sent-log given"
    ),
    "our_relay_in_chain": lambda e: (
        "our relay is in the returned Received chain"
        if e.our_relay_in_chain
        else "none of our relays is in the returned Received chain"
    ),
    "foreign_chain": lambda e: "the original claims our domain but never passed our relays",
    "our_dkim": lambda e: (
        "the original is a bounce our mail system sent, with our DKIM signature"
        if e.returns_our_bounce
        else "the original carries our DKIM signature"
        if e.our_dkim
        else "the original has no DKIM signature of ours"
    ),
    "batv_valid": lambda e: "the envelope recipient has a valid BATV tag",
    "batv_invalid": lambda e: f"BATV check failed: {e.batv.reason}" if e.batv else "no BATV tag",
    "batv_tagged": lambda e: (
        "the envelope recipient carries a tag" if e.batv_tagged else "untagged envelope recipient"
    ),
    "urls": _links,
    "url_domains": _links,
    "unrelated_url_domains": lambda e: f"{_links(e)}, unrelated to the reporting server",
    "lures": lambda e: "asks to release, verify or log in",
    "link_with_lure": lambda e: f"{_links(e)}, with wording that asks to release, verify or log in",
    "shortener_url": lambda e: "a link through a URL shortener",
    "ip_url": lambda e: "a link to a bare IP address",
    "href_text_mismatch": lambda e: "a link whose text shows another domain than its target",
    "html_attachment": lambda e: "an HTML attachment",
    "executable_attachment": lambda e: "an executable attachment",
    "archive_attachment": lambda e: "an archive attachment",
    "html_form": lambda e: "an HTML form",
}


# What a sent-log's coverage means when it cannot speak for a bounce (see SentMatch.coverage).
_OUTSIDE_SENT_LOG = {
    "before_log": "the sent-log starts after the original was sent: no evidence either way",
    "after_log": "the sent-log ends before the original was sent (is it still fed?): "
    "no evidence either way",
    "undated": "neither the bounce nor its original is dated: the sent-log cannot say "
    "whether it covers it",
}


def outside_sent_log(coverage: str | None) -> str | None:
    """The sentence for a sent-log that cannot speak for a bounce; None when it can (or when
    there is no sent-log at all)."""
    return _OUTSIDE_SENT_LOG.get(coverage or "")


def mean_weights(model: Pipeline) -> np.ndarray:
    """The calibrated folds' logistic weights, averaged: how hard each scaled feature pushes."""
    calibrated = model.named_steps["classifier"]
    return np.mean([c.estimator.coef_[0] for c in calibrated.calibrated_classifiers_], axis=0)


def contributions(weights: np.ndarray, scaled: np.ndarray) -> np.ndarray:
    """Per-feature push towards 'spoofed' (positive) or 'genuine' (negative), row by row,
    from feature rows already scaled by the pipeline's scaler."""
    return weights * np.atleast_2d(scaled)


#: (vector index, feature) of every feature that has a rule name, in catalogue order.
RULES: tuple[tuple[int, Feature], ...] = tuple(
    (index, feature) for index, feature in enumerate(CATALOG) if feature.rule is not None
)


_RULE_INDEX = np.array([index for index, _ in RULES], dtype=np.intp)


def fired_rules(row: np.ndarray, pushes: np.ndarray) -> tuple[str, ...]:
    """The rules that fire for one unscaled feature row, strongest contribution (absolute
    push, whichever way) first; ties keep catalogue order so the output is stable."""
    values, strengths = row[_RULE_INDEX].tolist(), np.abs(pushes[_RULE_INDEX]).tolist()
    fired = [
        (-strengths[position], position, str(feature.rule))
        for position, (_, feature) in enumerate(RULES)
        if feature.fires(values[position])
    ]
    return tuple(rule for _, _, rule in sorted(fired))


def rule_weights(weights: np.ndarray) -> dict[str, float]:
    """Each rule's weight in a model (``weights`` from :func:`mean_weights`): the averaged
    coefficient on its standardized feature, signed so that a positive weight pushes towards
    spoofed when the rule fires (a rule that fires on a failed check, -1, flips the sign)."""
    return {str(f.rule): float(weights[index]) * f.polarity for index, f in RULES}


# Facts that are only ever a warning: "21 links" is no reason to trust a report, whatever
# weight a linear model gave it next to its siblings.
_WARNINGS_ONLY = frozenset(
    {"urls", "url_domains", "unrelated_url_domains", "lures", "shortener_url", "ip_url"}
    | {"link_with_lure"}
    | {"href_text_mismatch", "html_attachment", "executable_attachment", "archive_attachment"}
    | {"html_form"}
)


def explain(evidence: Evidence, pushes: np.ndarray, spoofed: bool, most: int = 3) -> list[str]:
    """The few largest pushes towards the verdict, in words."""
    order = np.argsort(-pushes if spoofed else pushes).tolist()
    # Python floats: indexing the array gives a numpy scalar per read, ten times slower.
    values = pushes.tolist()
    sentences: list[str] = []
    for index in order:
        push = values[index]
        if (push > 0) != spoofed or abs(push) < 0.05:
            break
        name = CATALOG[index].name
        render = _SENTENCES.get(name)
        if render is None or (not spoofed and name in _WARNINGS_ONLY):
            continue
        sentence = render(evidence)
        # "3 links to 2 domains" or "asks to log in" is said once: not again beside "3 links
        # to 2 domains, with wording that asks to log in" (link_with_lure), whichever comes
        # first.
        if any(sentence in said for said in sentences):
            continue
        longer = [i for i, said in enumerate(sentences) if said in sentence]
        if longer:
            sentences[longer[0]] = sentence
            continue
        sentences.append(sentence)
        if len(sentences) == most:
            break
    return sentences
