"""What parse, score and suppressions share in a batch run: exit status through a real shell
pipe, what is skipped and how that counts, the progress bar, and a terminal-safe output."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.test_cli import run
from tests.test_cli_score import EXAMPLES, invoke

BOUNCE = DATA / "formats" / "postfix_dsn_user_unknown.eml"


def piped(command: str, reader: str) -> subprocess.CompletedProcess[str]:
    """``backscatter COMMAND | READER`` under ``set -o pipefail``, as a cron job runs it."""
    line = f"set -o pipefail; {shlex.quote(sys.executable)} -m backscatter {command} | {reader}"
    return subprocess.run(
        ["bash", "-c", line], capture_output=True, text=True, timeout=300, env=os.environ
    )


@pytest.mark.parametrize(
    "command",
    ["parse -f table", "score -f csv", "suppressions --reasons all"],
)
def test_a_reader_that_has_gone_is_exit_0_without_a_traceback(command):
    # `true` exits at once: the first write meets a closed pipe, whatever the output size.
    result = piped(f"{command} {shlex.quote(str(EXAMPLES))}", "true")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_head_on_a_long_output_is_exit_0(tmp_path):
    mbox = tmp_path / "many.mbox"
    mbox.write_bytes(EXAMPLES.read_bytes() * 40)  # 360 records: far more than a pipe buffer
    result = piped(f"parse {shlex.quote(str(mbox))}", "head -1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"] == f"{mbox}#1"
    assert result.stderr == ""


def _folder_with_odd_entries(tmp_path: Path) -> Path:
    """A folder holding one bounce, a README, a FIFO and a link to a file outside it."""
    folder = tmp_path / "bounces"
    folder.mkdir()
    (folder / "1.eml").write_bytes(BOUNCE.read_bytes())
    (folder / "README").write_text("Bounces collected by the list server.\n")
    os.mkfifo(folder / "pipe")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for reading\n")
    (folder / "link.eml").symlink_to(secret)
    return folder


def test_what_a_scanned_folder_holds_besides_mail_is_a_warning_and_exit_0(tmp_path):
    folder = _folder_with_odd_entries(tmp_path)
    parsed = run("parse", str(folder))
    assert parsed.returncode == 0
    assert sorted(parsed.stderr.splitlines()) == [
        f"warning: skipped {folder}/link.eml: a symbolic link inside a scanned directory",
        f"warning: skipped {folder}/pipe: not a regular file (a FIFO)",
    ]
    scored = run("score", "-f", "jsonl", str(folder))
    assert scored.returncode == 0
    assert [json.loads(line)["source"] for line in scored.stdout.splitlines()] == [
        f"{folder}/1.eml"
    ]
    assert (
        "warning: 3 input(s) skipped (1 not a regular file, 1 not mail, 1 symbolic link)"
        in scored.stderr.splitlines()
    )


def test_a_named_path_that_cannot_be_read_is_exit_1_and_the_rest_is_processed(tmp_path):
    fifo = tmp_path / "named-pipe"
    os.mkfifo(fifo)
    for command in ("parse", "score", "suppressions"):
        result = run(command, "-q", str(fifo), str(BOUNCE))
        assert result.returncode == 1, command
        assert result.stderr == f"backscatter: cannot read {fifo}: not a regular file (a FIFO)\n"
        assert "nobody@receiver.example" in result.stdout


def _with_stderr_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run with standard error on a pseudo-terminal (stdout a pipe); what the terminal got."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "backscatter", *args],
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(terminal)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    status = process.wait(timeout=300)
    reader.join(timeout=10)
    os.close(controller)
    return status, b"".join(chunks).decode("utf-8", "replace")


def test_the_progress_bar_shows_on_a_terminal_only(tmp_path):
    mbox = tmp_path / "many.mbox"
    mbox.write_bytes(EXAMPLES.read_bytes() * 30)
    status, screen = _with_stderr_on_a_terminal("score", "-j", "1", "-f", "jsonl", str(mbox))
    assert status == 0
    assert "scoring" in screen and "ETA" in screen and "msg/s" in screen
    assert "270 messages in" in screen  # the summary follows the bar
    status, screen = _with_stderr_on_a_terminal("score", "-q", "-f", "jsonl", str(mbox))
    assert status == 0 and screen == ""
    piped_run = run("score", "-f", "jsonl", str(mbox))  # stderr is a pipe here
    assert "ETA" not in piped_run.stderr and "\x1b" not in piped_run.stderr
    assert "\r" not in piped_run.stderr


def test_escape_sequences_in_file_names_never_reach_the_output(tmp_path):
    hostile = tmp_path / "x\x1b]0;owned\x07\x1b[2J\u202egnp.eml"
    hostile.write_bytes(BOUNCE.read_bytes())
    c1 = tmp_path / "csi\x9b31m.eml"
    c1.write_bytes(BOUNCE.read_bytes())
    for args in (
        ("parse", "-f", "table"),
        ("parse", "-f", "csv"),
        ("score", "-f", "table"),
        ("score", "-f", "csv"),
        ("parse", "-f", "jsonl"),
        ("score", "-f", "jsonl"),
    ):
        result = invoke(*args, str(hostile), str(c1))
        assert result.exit_code == 0, args
        for text in (result.stdout, result.stderr):
            assert not any(c in text for c in "\x1b\x07\x9b\u202e"), args
    jsonl = invoke("parse", str(hostile), str(c1)).stdout.splitlines()
    assert "\\u001b]0;owned\\u0007" in jsonl[0] and "\\u202e" in jsonl[0]
    assert "csi\\u009b31m.eml" in jsonl[1]
    assert json.loads(jsonl[0])["source"] == str(hostile)  # escaped, not lost


def test_an_undecodable_file_name_is_written_with_a_replacement_character(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (Path(os.fsdecode(bytes(folder) + b"/caf\xe9.eml"))).write_bytes(BOUNCE.read_bytes())
    for fmt in ("jsonl", "csv", "table"):
        result = run("score", "-f", fmt, str(folder))
        assert result.returncode == 0, result.stderr
        assert "caf\ufffd.eml" in result.stdout


def test_parse_csv_is_one_row_per_failed_recipient():
    from backscatter.render import PARSE_CSV_COLUMNS

    two = DATA / "formats" / "yandex_dsn_full_and_timeout.eml"
    result = invoke("parse", "-f", "csv", str(two), str(BOUNCE))
    assert result.exit_code == 0
    read = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(read[0]) == list(PARSE_CSV_COLUMNS)
    assert [(r["message"], r["recipient"], r["hard"]) for r in read] == [
        ("1", "zoya@full.example", "hard"),
        ("1", "timur@slow.example", "soft"),
        ("2", "nobody@receiver.example", "hard"),
    ]
    assert {r["is_bounce"] for r in read} == {"yes"}


def test_csv_cells_from_the_mail_cannot_run_as_spreadsheet_formulas(tmp_path):
    """A forged report's Reporting-MTA is the forger's text, and CSV files get opened in
    spreadsheets: a cell that would start a formula is written with an apostrophe first."""
    forged = tmp_path / "forged.eml"
    forged.write_bytes(
        BOUNCE.read_bytes().replace(
            b"Reporting-MTA: dns; ", b"Reporting-MTA: dns; =HYPERLINK(\"http://x.example\")", 1
        )
    )
    assert forged.read_bytes() != BOUNCE.read_bytes()
    result = invoke("parse", "-f", "csv", str(forged), str(BOUNCE))
    assert result.exit_code == 0
    read = list(csv.DictReader(io.StringIO(result.stdout)))
    assert read[0]["reporting_mta"].startswith("'=HYPERLINK(")
    assert not read[1]["reporting_mta"].startswith("'")
