"""``backscatter suppressions`` as a list owner runs it: real files, a real sent-log, and the
output read back the way Mailchimp or listmonk would (the csv module)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backscatter.sentlog import SentRecipient, SqliteSentLog
from tests.test_cli import run
from tests.test_cli_score import invoke

_SENT_AT = "Tue, 8 Apr 2025 11:55:00 +0000"


def dsn(recipient: str, status: str, diagnostic: str, date: str, ident: str) -> str:
    """An RFC 3464 report in Postfix's layout (bounce(8): notification, delivery-status,
    returned message), as one mbox entry."""
    return (
        f"From MAILER-DAEMON {date}\n"
        "Return-Path: <>\n"
        f"Date: {date}\n"
        "From: MAILER-DAEMON@mx1.sender.example (Mail Delivery System)\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "To: alice@sender.example\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\n'
        f"Message-Id: <{ident}.report@mx1.sender.example>\n\n"
        "--b1\nContent-Type: text/plain; charset=us-ascii\n\n"
        "This is the mail system at host mx1.sender.example.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        f"<{recipient}>: host mx.receiver.example[198.51.100.7] said: {diagnostic}\n\n"
        "--b1\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx1.sender.example\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: {status}\n"
        f"Remote-MTA: dns; mx.receiver.example\nDiagnostic-Code: smtp; {diagnostic}\n\n"
        "--b1\nContent-Type: message/rfc822\n\n"
        "From: Alice Example <alice@sender.example>\n"
        f"To: {recipient}\nSubject: Newsletter\nDate: {date}\n"
        f"Message-ID: <{ident}@sender.example>\n\nHello.\n\n--b1--\n\n"
    )


#: (ident, recipient, status, diagnostic, bounce date, sent by us?)
# fmt: off
BOUNCES = (
    ("n1", "nobody@receiver.example", "5.1.1", "550 5.1.1 User unknown",
     "Mon, 3 Mar 2025 10:15:02 +0000", True),
    ("n2", "Nobody@receiver.example", "5.1.1", "550 5.1.1 User unknown",
     "Tue, 8 Apr 2025 11:00:00 +0000", True),
    ("n3", '"john smith"@receiver.example', "5.1.1", "550 5.1.1 No such user",
     "Tue, 8 Apr 2025 12:00:00 +0000", True),
    ("n4", "carol@gone.example", "5.1.2", "550 5.1.2 Host or domain name not found",
     "Tue, 8 Apr 2025 12:00:00 +0000", True),
    ("n5", "dave@receiver.example", "5.7.23", "550 5.7.23 SPF validation failed",
     "Tue, 8 Apr 2025 12:00:00 +0000", True),
    # Backscatter: a real-looking report of a message we never sent.
    ("n6", "erin@receiver.example", "5.1.1", "550 5.1.1 User unknown",
     "Tue, 8 Apr 2025 12:00:00 +0000", False),
)
# fmt: on


@pytest.fixture(scope="module")
def bounces(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The mbox above and a sent-log that covers it (the ids we sent, and daily traffic)."""
    folder = tmp_path_factory.mktemp("suppressions")
    mbox = folder / "bounces.mbox"
    mbox.write_text("".join(dsn(r, s, d, when, i) for i, r, s, d, when, _ in BOUNCES))
    start = datetime(2025, 2, 20, tzinfo=UTC)
    rows = [
        SentRecipient(
            f"news-{n}@sender.example",
            start + timedelta(hours=6 * n),
            "alice@sender.example",
            f"reader{n}@elsewhere.example",
        )
        for n in range(4 * 60)
    ]
    sent_at = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
    rows += [
        SentRecipient(
            f"{i}@sender.example",
            sent_at if i == "n1" else datetime(2025, 4, 8, 10, 55, tzinfo=UTC),
            "alice@sender.example",
            r,
        )
        for i, r, _, _, _, ours in BOUNCES
        if ours
    ]
    with SqliteSentLog(folder / "sent.db") as store:
        store.add(rows)
    return mbox, folder / "sent.db"


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_lists_genuine_recipient_side_hard_bounces_with_counts_and_dates(bounces):
    mbox, sent_log = bounces
    result = invoke("suppressions", "-f", "csv", "--sent-log", str(sent_log), str(mbox))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "email,reason,status,bounces,first_bounce,last_bounce"
    found = {row["email"]: row for row in rows(result.stdout)}
    # The SPF refusal (sender-side) and the backscatter are not there; case folds together.
    assert sorted(found) == [
        '"john smith"@receiver.example',
        "carol@gone.example",
        "nobody@receiver.example",
    ]
    nobody = found["nobody@receiver.example"]
    assert (nobody["bounces"], nobody["first_bounce"], nobody["last_bounce"]) == (
        "2",
        "2025-03-03T10:15:02Z",
        "2025-04-08T11:00:00Z",
    )
    assert (found["carol@gone.example"]["reason"], found["carol@gone.example"]["status"]) == (
        "host_unknown",
        "5.1.2",
    )
    # The quoted local part is one cell, quoted by the CSV rules, and reads back whole.
    assert '"""john smith""@receiver.example",user_unknown' in result.stdout
    assert "held back: 1 in spoofed bounces" in result.stderr
    assert "1 policy" in result.stderr  # left out, and said so
    assert "WARNING" not in result.stderr


def test_reasons_all_adds_sender_side_refusals(bounces):
    mbox, sent_log = bounces
    result = invoke("suppressions", "--reasons", "all", "--sent-log", str(sent_log), str(mbox))
    assert "dave@receiver.example" in result.stdout.splitlines()
    picked = invoke(
        "suppressions", "--reasons", "host_unknown,policy", "--sent-log", str(sent_log), str(mbox)
    )
    assert picked.stdout.splitlines() == ["carol@gone.example", "dave@receiver.example"]


def test_without_a_sent_log_the_backscatter_gets_in_and_a_loud_warning_says_so(bounces):
    mbox, _ = bounces
    result = invoke("suppressions", str(mbox))
    assert result.exit_code == 0
    assert "erin@receiver.example" in result.stdout.splitlines()
    assert (
        "WARNING: 4 address(es) come from bounces that could be backscatter: without a "
        "sent-log they cannot be told apart" in result.stderr
    )


def test_mailchimp_format_is_one_email_address_column(bounces, tmp_path):
    mbox, sent_log = bounces
    out = tmp_path / "clean.csv"
    result = invoke(
        "suppressions", "-f", "mailchimp", "-o", str(out), "--sent-log", str(sent_log), str(mbox)
    )
    assert result.exit_code == 0 and result.stdout == ""
    read = rows(out.read_text())
    assert list(read[0]) == ["Email Address"]
    assert [r["Email Address"] for r in read] == [
        '"john smith"@receiver.example',
        "carol@gone.example",
        "nobody@receiver.example",
    ]


def test_listmonk_format_has_its_import_headers_and_json_attributes(bounces):
    mbox, sent_log = bounces
    result = invoke("suppressions", "-f", "listmonk", "--sent-log", str(sent_log), str(mbox))
    read = rows(result.stdout)
    assert list(read[0]) == ["email", "name", "attributes"]
    nobody = next(r for r in read if r["email"] == "nobody@receiver.example")
    assert nobody["name"] == ""  # listmonk derives a name from the address
    attributes = json.loads(nobody["attributes"])
    assert attributes["bounces"] == 2 and attributes["bounce_reason"] == "user_unknown"
    assert attributes["last_bounce"] == "2025-04-08T11:00:00Z"


def test_an_unknown_reason_is_a_one_line_error(bounces):
    mbox, _ = bounces
    result = run("suppressions", "--reasons", "nosuch", str(mbox))
    assert result.returncode == 2
    assert result.stderr.startswith("backscatter: unknown reason(s) nosuch; known: all, ")
    assert len(result.stderr.splitlines()) == 1
