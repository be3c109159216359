"""``backscatter score`` as a user runs it."""

from __future__ import annotations

import csv
import io
import json

from tests.conftest import DATA
from tests.test_cli import run

EXAMPLES = DATA.parent.parent / "data" / "examples" / "bounces.mbox"


def test_score_jsonl_has_parse_fields_verdict_and_evidence():
    result = run(
        "score", "--format", "jsonl", str(DATA / "formats" / "fake_ndr_html_quarantine.eml")
    )
    assert result.returncode == 0
    record = json.loads(result.stdout)
    assert record["verdict"] == "spoofed"
    assert 0.5 <= record["spoofed_probability"] <= 1.0
    assert record["evidence"] and all(isinstance(e, str) for e in record["evidence"])
    assert record["rules"] == ["HTML_ONLY", "LINK_WITH_LURE"]  # strongest first
    assert {"source", "is_bounce", "recipients", "original_message_id"} <= set(record)
    assert result.stderr.startswith("1 messages: 0 genuine, 1 spoofed, 0 unknown, 0 not_bounce")


def test_score_the_bundled_example_as_csv():
    result = run("score", "--format", "csv", str(EXAMPLES))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    verdicts = {row["source"].rsplit("#", 1)[1]: row["verdict"] for row in rows}
    assert verdicts["7"] == "not_bounce"  # the auto-reply
    assert verdicts["8"] == verdicts["9"] == "spoofed"  # the two fake NDRs
    assert verdicts["1"] == verdicts["2"] == verdicts["3"] == "genuine"
    rules = {row["source"].rsplit("#", 1)[1]: row["rules"] for row in rows}
    assert "LINK_WITH_LURE" in rules["8"].split(",")  # one column, SpamAssassin's commas
    assert rules["7"] == ""  # not a bounce: no rule is evaluated


def test_a_spoofed_bounce_never_counts_its_recipients_as_hard_bounced():
    result = run("score", str(DATA / "formats" / "fake_ndr_plain_release_link.eml"))
    assert "0 hard-bounced recipients in genuine bounces" in result.stderr


def test_bad_threshold_and_bad_model_are_one_line_errors(tmp_path):
    bad = run("score", "--threshold", "1.5", str(EXAMPLES))
    assert (
        bad.returncode == 2
        and bad.stderr == "backscatter: --threshold is a probability between 0 and 1\n"
    )
    missing = run("score", "--model", str(tmp_path / "m.skops"), str(EXAMPLES))
    assert missing.returncode == 2 and missing.stderr.startswith("backscatter: no model file at")


def test_two_workers_give_the_same_records_in_the_same_order(tmp_path):
    mbox = tmp_path / "many.mbox"
    mbox.write_bytes(EXAMPLES.read_bytes() * 60)  # 540 messages: three batches
    one = run("score", "-j", "1", "--format", "jsonl", str(mbox))
    two = run("score", "-j", "2", "--format", "jsonl", str(mbox))
    assert one.returncode == two.returncode == 0
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == 540
