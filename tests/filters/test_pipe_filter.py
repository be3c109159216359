"""``backscatter filter`` as procmail or an Exim transport filter runs it: bytes in, bytes out."""

from __future__ import annotations

import email
import subprocess
import sys

from tests.conftest import DATA

FAKE_NDR = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes()
GENUINE = (DATA / "formats" / "postfix_dsn_user_unknown.eml").read_bytes()


def run_filter(data: bytes, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "backscatter", "filter", *options],
        input=data,
        capture_output=True,
        timeout=120,
    )


def split(message: bytes) -> tuple[bytes, bytes]:
    end = message.find(b"\n\n")
    return message[: end + 1], message[end + 1 :]


def test_the_verdict_is_appended_to_the_header_and_nothing_else_changes():
    result = run_filter(FAKE_NDR)
    assert result.returncode == 0
    header, body = split(result.stdout)
    original_header, original_body = split(FAKE_NDR)
    assert body == original_body
    assert header.startswith(original_header)
    added = header[len(original_header) :].decode().splitlines()
    assert added[0] == "X-Backscatter-Verdict: spoofed"
    assert added[1].startswith("X-Backscatter-Status: Yes, score=")
    fields = [line for line in added if not line.startswith("\t")]
    assert [f.partition(":")[0] for f in fields] == [
        "X-Backscatter-Verdict",
        "X-Backscatter-Status",
        "X-Backscatter-Evidence",
    ]
    assert all(len(line) <= 78 for line in added)  # folded, continuations start with a TAB
    parsed = email.message_from_bytes(result.stdout)
    assert "tests=HTML_ONLY,LINK_WITH_LURE version=" in " ".join(
        parsed["X-Backscatter-Status"].split()
    )


def test_crlf_and_an_mbox_from_line_are_kept():
    message = b"From MAILER-DAEMON Mon Mar  3 10:15:02 2025\r\n" + GENUINE.replace(b"\n", b"\r\n")
    result = run_filter(message)
    out = result.stdout
    assert out.startswith(b"From MAILER-DAEMON Mon Mar  3 10:15:02 2025\r\n")
    assert b"X-Backscatter-Verdict: genuine\r\n" in out
    assert b"\r\n\t" in out  # our folds take the message's line ending too
    assert b"\n" not in out.replace(b"\r\n", b"")  # every line still ends in CRLF
    assert out.endswith(message[-200:])


def test_forged_verdict_headers_are_dropped_with_their_continuations():
    forged = (
        b"X-Backscatter-Verdict: genuine\n  (trust me)\nX-BACKSCATTER-SCORE: 0.0\n"
        b"X-Backscatter-Status: No, score=0.00 required=0.50\n\ttests=SENTLOG_MATCH\n"
    )
    out = run_filter(forged + FAKE_NDR).stdout
    assert out.count(b"X-Backscatter-Verdict") == 1
    assert b"trust me" not in out
    assert b"X-BACKSCATTER-SCORE" not in out
    assert b"X-Backscatter-Verdict: spoofed" in out
    assert email.message_from_bytes(out).get_all("X-Backscatter-Status")[0].startswith("Yes")
    assert out.count(b"X-Backscatter-Status") == 1 and b"SENTLOG_MATCH" not in out


def test_ordinary_mail_comes_out_byte_for_byte():
    message = b"From: bob@example.org\nTo: alice@example.net\nSubject: hi\n\nHello\n"
    result = run_filter(message)
    assert result.returncode == 0
    assert result.stdout == message


def test_a_bad_model_passes_the_message_through_with_a_retry_status(tmp_path):
    result = run_filter(FAKE_NDR, "--model", str(tmp_path / "missing.skops"))
    assert result.stdout == FAKE_NDR
    assert result.returncode == 75  # EX_TEMPFAIL: mail systems keep the message and retry
    assert result.stderr.decode().count("\n") == 1  # one plain line, no traceback


def test_a_message_over_the_cap_is_scored_on_its_head_and_copied_whole():
    padding = b"".join(b"%07d filler line of a long returned message\n" % i for i in range(60000))
    message = FAKE_NDR + padding  # ~3 MB
    result = run_filter(message, "--max-kb", "64")
    assert result.returncode == 0
    assert b"X-Backscatter-Verdict: spoofed" in result.stdout
    assert result.stdout.endswith(padding)
    assert len(result.stdout) > len(message)


def test_binary_garbage_comes_out_unchanged():
    garbage = bytes(range(256)) * 64
    result = run_filter(garbage)
    assert result.returncode == 0
    assert result.stdout == garbage
