"""``backscatter sentlog`` and ``backscatter batv`` as a user runs them."""

from __future__ import annotations

import json

from tests.conftest import DATA
from tests.test_cli import run

LOGS = DATA / "sentlog"


def test_import_is_idempotent_and_stats_are_json(tmp_path):
    db = str(tmp_path / "sent.db")
    first = run("sentlog", "import", "--db", db, "--format", "csv", str(LOGS / "sent.csv"))
    assert first.returncode == 0
    assert first.stdout == "read 3 recipient rows, 3 new; 2 malformed lines\n"
    assert "malformed: " in first.stderr and "yesterday" in first.stderr
    again = run("sentlog", "import", "--db", db, "--format", "csv", str(LOGS / "sent.csv"))
    assert again.stdout.startswith("read 3 recipient rows, 0 new")
    stats = json.loads(run("sentlog", "stats", "--db", db, "--format", "json").stdout)
    assert stats == {
        "messages": 2,
        "recipients": 3,
        "id_only": 0,
        "first_sent": "2025-05-26T08:00:00+00:00",
        "last_sent": "2025-05-27T06:00:00+00:00",
        "span_days": 0.9,
    }


def test_message_id_only_rows_import_and_count(tmp_path):
    db = str(tmp_path / "sent.db")
    first = run("sentlog", "import", "--db", db, "--format", "csv", str(LOGS / "sent_id_only.csv"))
    assert first.stdout == "read 3 recipient rows, 3 new; 2 malformed lines\n"
    again = run("sentlog", "import", "--db", db, "--format", "csv", str(LOGS / "sent_id_only.csv"))
    assert again.stdout.startswith("read 3 recipient rows, 0 new")
    table = run("sentlog", "stats", "--db", db).stdout.splitlines()
    assert table == [
        "messages     3",
        "recipients   1",
        "id_only      2",
        "first_sent   2025-05-26T08:00:00+00:00",
        "last_sent    2025-05-26T10:00:00+00:00",
        "span_days    0.1",
    ]


def test_import_exim_and_a_missing_file(tmp_path):
    db = str(tmp_path / "sent.db")
    missing = tmp_path / "mainlog.1"
    result = run(
        "sentlog", "import", "--db", db, "--format", "exim", str(missing), str(LOGS / "mainlog")
    )
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[0]
        == f"backscatter: cannot read {missing}: No such file or directory"
    )
    assert result.stdout.startswith("read 5 recipient rows, 5 new")


def test_prune(tmp_path):
    db = str(tmp_path / "sent.db")
    run("sentlog", "import", "--db", db, "--format", "csv", str(LOGS / "sent.csv"))
    result = run("sentlog", "prune", "--db", db, "--older-than", "30d")
    assert result.returncode == 0 and result.stdout.startswith("removed 3 recipient rows")
    bad = run("sentlog", "prune", "--db", db, "--older-than", "a month")
    assert bad.returncode == 2
    assert bad.stderr.startswith("backscatter: --older-than takes a number and a unit")


def test_stats_of_a_missing_database_is_one_line(tmp_path):
    result = run("sentlog", "stats", "--db", str(tmp_path / "none.db"))
    assert result.returncode == 2
    assert result.stderr == f"backscatter: no sent-log at {tmp_path / 'none.db'}\n"


def test_batv_sign_and_verify_exit_codes():
    tagged = run("batv", "sign", "--secret", "s3cret", "--key", "5", "alice@sender.example")
    assert tagged.returncode == 0 and tagged.stdout.startswith("prvs=5")
    address = tagged.stdout.strip()
    assert run("batv", "verify", "--secret", "s3cret", address).returncode == 0
    wrong = run("batv", "verify", "--secret", "other", address)
    assert (wrong.returncode, wrong.stdout) == (1, "invalid: the tag's signature does not match\n")
    bad_key = run("batv", "sign", "--secret", "s", "--key", "12", "a@b.example")
    assert bad_key.returncode == 2 and "one digit" in bad_key.stderr


def test_malformed_lines_reach_the_terminal_without_their_escape_sequences(tmp_path):
    """A log line is data from the network (a Subject, an address): an ESC in it must not
    retitle or recolour the operator's terminal when import shows it as malformed."""
    log = tmp_path / "sent.csv"
    log.write_text(
        "message_id,sent_at,sender,recipient\n"
        "a1@ours.example,2025-06-01T10:00:00Z,ann@ours.example,kim@far.example\n"
        "\x1b]0;owned\x07\x1b[31mnot,a,row\n",
        encoding="utf-8",
    )
    result = run("sentlog", "import", "--format", "csv", "--db", str(tmp_path / "s.db"), str(log))
    assert "malformed" in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
