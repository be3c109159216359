"""The command line as a user runs it: a real subprocess, real files, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import DATA

EXAMPLES = DATA.parent.parent / "data" / "examples" / "bounces.mbox"

RECORD_FIELDS = {
    "source",
    "is_bounce",
    "recipients",
    "original_message_id",
    "original_from",
    "original_to",
    "original_subject",
    "original_date",
    "original_received",
    "reporting_mta",
    "arrival_date",
    "format",
    "error",
}
RECIPIENT_FIELDS = {
    "address",
    "status",
    "action",
    "diagnostic_code",
    "remote_mta",
    "reason",
    "hard",
}


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backscatter", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_parse_jsonl_has_the_documented_fields():
    result = run("parse", str(DATA / "formats" / "qmail_host_unknown.eml"))
    assert result.returncode == 0
    assert result.stderr == ""  # flanker's parser-table noise never reaches the user
    [line] = result.stdout.splitlines()
    record = json.loads(line)
    assert set(record) >= RECORD_FIELDS
    assert set(record["recipients"][0]) == RECIPIENT_FIELDS
    assert record["recipients"][0]["address"] == "grace@no-such-domain.example"
    assert record["format"] == "qmail"


def test_parse_a_directory_as_json(tmp_path):
    out = tmp_path / "out.json"
    result = run("parse", str(DATA / "formats"), "--format", "json", "--output", str(out))
    assert result.returncode == 0
    records = json.loads(out.read_text())
    names = sorted(p.name for p in (DATA / "formats").iterdir())  # .eml, and ESP .json events
    assert [Path(r["source"]).name for r in records] == names  # in name order, one each
    # Fixtures are named for what they are: every bounce is read as one, nothing else is.
    wanted = {n: not n.startswith(("not_bounce_", "fake_ndr_")) for n in names}
    assert {Path(r["source"]).name: r["is_bounce"] for r in records} == wanted


def test_parse_table():
    result = run("parse", "--format", "table", str(DATA / "formats" / "exim_mailbox_full.eml"))
    assert result.returncode == 0
    header, row = result.stdout.splitlines()
    assert header.split()[:4] == ["SOURCE", "BOUNCE", "FORMAT", "RECIPIENT"]
    assert "erin@full.example" in row and "mailbox_full" in row and "hard" in row


def test_stdin():
    data = (DATA / "formats" / "exim_mailbox_full.eml").read_bytes()
    result = run("parse", "-", stdin=data)
    assert result.returncode == 0
    assert json.loads(result.stdout)["source"] == "-"


def test_unreadable_path_is_one_line_and_the_rest_is_processed(tmp_path):
    missing = tmp_path / "nope.mbox"
    result = run("parse", str(missing), str(DATA / "formats" / "exim_mailbox_full.eml"))
    assert result.returncode == 1
    assert result.stderr == f"backscatter: cannot read {missing}: no such file or directory\n"
    assert json.loads(result.stdout)["format"] == "exim"


def test_bad_option_is_a_usage_error():
    result = run("parse", "--format", "xml", str(DATA))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_unwritable_output_is_one_plain_line(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "out.jsonl"
    result = run("parse", str(DATA / "formats"), "--output", str(target))
    assert result.returncode == 2
    assert result.stderr.startswith(f"backscatter: cannot write {target}")
    assert len(result.stderr.splitlines()) == 1


def test_bundled_example_mailbox_parses():
    example = Path(__file__).resolve().parents[1] / "data" / "examples" / "bounces.mbox"
    result = run("parse", str(example))
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["source"] for r in records] == [f"{example}#{n}" for n in range(1, len(records) + 1)]
    assert any(r["is_bounce"] for r in records) and not all(r["is_bounce"] for r in records)


def test_every_scoring_command_takes_a_postgresql_dsn_as_written(tmp_path):
    """--sent-log is one shared option: a DSN reaches the store as typed (a Path would fold
    its '//' and look for a file named 'postgresql:/...')."""
    dsn = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    for command in (["score"], ["report", "-o", str(tmp_path / "r.html")], ["suppressions"]):
        result = run(*command, "--sent-log", dsn, str(EXAMPLES))
        assert result.returncode == 2, (command, result.stderr)
        assert "postgresql://nobody@127.0.0.1:1/none" in result.stderr, (command, result.stderr)
