"""``backscatter score`` as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import re

from typer.testing import CliRunner, Result

from backscatter.render import VERDICT_CSV_COLUMNS, fit_source, write_verdict_table
from tests.conftest import DATA
from tests.test_cli import run

EXAMPLES = DATA.parent.parent / "data" / "examples" / "bounces.mbox"


def invoke(*args: str) -> Result:
    """The command in this process (typer's runner): no interpreter start-up per call."""
    from backscatter.cli import app

    return CliRunner().invoke(app, list(args))


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
    assert re.match(r"1 messages in [\d.]+ s \([\d,]+ msg/s\): 0 genuine, 1 spoofed", result.stderr)


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


def test_the_summary_gives_time_rate_and_says_backscatter_needs_a_sent_log():
    result = invoke("score", "-f", "jsonl", str(EXAMPLES))
    assert result.exit_code == 0
    first, *rest = result.stderr.splitlines()
    assert re.fullmatch(
        r"9 messages in [\d.]+ s \([\d,]+ msg/s\): 6 genuine, 2 spoofed, 0 unknown, "
        r"1 not_bounce; 4 hard-bounced recipients in genuine bounces",
        first,
    )
    assert rest == [
        "warning: backscatter cannot be detected without a sent-log; 6 bounce(s) counted "
        "genuine may be backscatter (give --sent-log)"
    ]
    assert invoke("score", "-q", "-f", "jsonl", str(EXAMPLES)).stderr == ""


def test_a_sent_log_that_ends_before_the_bounces_is_named_in_the_summary(store):
    from datetime import UTC, datetime, timedelta

    from backscatter.sentlog import SentRecipient

    start = datetime(2024, 1, 1, tzinfo=UTC)
    store.add(
        [
            SentRecipient(
                f"old-{n}@sender.example",
                start + timedelta(days=n),
                "alice@sender.example",
                f"r{n}@elsewhere.example",
            )
            for n in range(30)
        ]
    )
    store.close()
    result = invoke("score", "-f", "jsonl", "--sent-log", str(store.path), str(EXAMPLES))
    assert result.exit_code == 0, result.stderr
    [line] = [x for x in result.stderr.splitlines() if "cannot speak for" in x]
    assert re.fullmatch(
        r"warning: \d+ bounce\(s\) the sent-log cannot speak for: \d+ postdate it.* "
        r"\(it covers 2024-01-01 to 2024-01-30\); for them it is no evidence either way",
        line,
    )
    assert "without a sent-log" not in result.stderr


def test_only_writes_the_chosen_verdicts_and_the_summary_still_counts_all():
    result = invoke(
        "score", "-f", "jsonl", "--only", "spoofed", "--only", "not_bounce", str(EXAMPLES)
    )
    verdicts = [json.loads(line)["verdict"] for line in result.stdout.splitlines()]
    assert sorted(verdicts) == ["not_bounce", "spoofed", "spoofed"]
    assert result.stderr.startswith("9 messages in ")
    assert "3 written (--only not_bounce, spoofed)" in result.stderr
    bad = invoke("score", "--only", "maybe", str(EXAMPLES))
    assert bad.exit_code == 2


def test_csv_is_one_row_per_recipient_with_one_value_per_cell():
    two = DATA / "formats" / "yandex_dsn_full_and_timeout.eml"  # two failed recipients
    none = DATA / "formats" / "fake_ndr_html_quarantine.eml"  # names no recipient
    result = invoke("score", "-f", "csv", str(two), str(none))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == ",".join(VERDICT_CSV_COLUMNS)
    read = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["message"], r["recipient"], r["status"], r["hard"]) for r in read] == [
        ("1", "zoya@full.example", "5.2.2", "hard"),
        ("1", "timur@slow.example", "4.4.1", "soft"),
        ("2", "", "", ""),
    ]
    assert read[0]["reason"] == "mailbox_full" and read[1]["reason"] == "expired"
    assert read[0]["source"] == read[1]["source"] == str(two)
    assert read[2]["verdict"] == "spoofed" and " | " in read[2]["evidence"]
    assert {r["reporting_mta"] for r in read[:2]} != {""}


def test_a_table_written_to_a_pipe_or_file_keeps_every_value_whole(tmp_path):
    deep = tmp_path.joinpath(*["a-long-directory-name"] * 6)
    deep.mkdir(parents=True)
    source = deep / "a-mailbox-with-a-long-name.mbox"
    source.write_bytes(EXAMPLES.read_bytes())
    result = invoke("score", str(source))
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["SOURCE", "VERDICT", "P_SPOOF", "RECIPIENTS", "STATUS", "EVIDENCE"]
    assert all(line.startswith(f"{source}#") for line in lines[1:])
    assert "…" not in result.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_table_on_a_terminal_fits_its_width_and_keeps_the_file_name(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    record = {
        "source": "/var/mail/" + "deeply/nested/" * 8 + "bounces-2025.mbox#12",
        "verdict": "genuine",
        "spoofed_probability": 0.0123,
        "recipients": [
            {"address": "first@receiver.example", "status": "5.1.1"},
            {"address": "second@receiver.example", "status": "5.1.1"},
        ],
        "evidence": ["a delivery report (rfc3464)"] * 10,
    }
    out = _Terminal()
    write_verdict_table([record], out)
    header, row = out.getvalue().splitlines()
    assert len(header) <= 120 and len(row) <= 120
    assert "bounces-2025.mbox#12" in row and "…/" in row
    assert "(+1)" in row  # all recipients counted in the one line


def test_a_long_source_loses_its_directories_first_then_the_middle_of_its_name():
    source = "/srv/mail/archive/2025/bounces.mbox#7"
    assert fit_source(source, 60) == source
    assert fit_source(source, 24) == "/srv/mai…/bounces.mbox#7"
    cut = fit_source("/srv/" + "x" * 40 + ".mbox#7", 15)
    assert len(cut) == 15 and cut.startswith("xxxx") and cut.endswith(".mbox#7") and "…" in cut
