"""Sent-log evidence through the Detector: what the store covers decides what its silence
means. A real SQLite store, the shipped model, a bounce written here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backscatter.detector import Detector
from backscatter.model.persist import load, shipped_model_path
from backscatter.sentlog import SentRecipient, SqliteSentLog

BOUNCE_AT = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def backscatter_of(message_id: str, recipient: str = "kim@far.example") -> bytes:
    """A genuine-looking qmail bounce of a message that claims to come from us."""
    return (
        "Return-Path: <>\n"
        "From: MAILER-DAEMON@mx.far.example\n"
        "To: ann@sender.example\n"
        "Subject: failure notice\n"
        "Date: Mon, 2 Jun 2025 10:00:00 +0000\n"
        "Message-ID: <bounce-1@mx.far.example>\n\n"
        "Hi. This is the qmail-send program at mx.far.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{recipient}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n"
        "Return-Path: <ann@sender.example>\n"
        "Received: (qmail 4242 invoked from network); 2 Jun 2025 09:58:00 -0000\n"
        f"Message-ID: <{message_id}>\n"
        "From: ann@sender.example\n"
        f"To: {recipient}\n"
        "Subject: cheap watches\n"
        "Date: Mon, 2 Jun 2025 09:57:00 +0000\n\n"
        "buy now\n"
    ).encode()


def unrelated(start: datetime, days: int) -> list[SentRecipient]:
    return [
        SentRecipient(
            f"news-{n}@sender.example",
            start + timedelta(hours=6 * n),
            "news@sender.example",
            f"reader{n}@elsewhere.example",
        )
        for n in range(days * 4)
    ]


def detector(store: SqliteSentLog) -> Detector:
    return Detector(load(shipped_model_path()), store)


def test_a_covering_log_that_never_sent_the_quoted_id_calls_backscatter_spoofed(store):
    store.add(unrelated(BOUNCE_AT - timedelta(days=20), 25))
    verdict = detector(store).score(backscatter_of("forged-77@sender.example"))
    assert verdict.coverage == "covered"
    assert verdict.verdict == "spoofed"
    assert any("never sent <forged-77@sender.example>" in e for e in verdict.evidence)


def test_a_log_that_starts_after_the_original_is_no_evidence(store):
    store.add(unrelated(BOUNCE_AT + timedelta(days=1), 5))  # a log started the day after
    verdict = detector(store).score(backscatter_of("older-1@sender.example"))
    assert verdict.coverage == "before_log"
    assert verdict.verdict != "spoofed"
    assert "starts after the original was sent" in verdict.evidence[-1]
    assert verdict.to_record()["sent_log_coverage"] == "before_log"


def test_an_id_only_row_proves_the_message_was_ours(store):
    store.add(unrelated(BOUNCE_AT - timedelta(days=20), 25))
    # Bcc-only: the Sent folder's copy names no recipient, only its Message-ID.
    store.add(
        [
            SentRecipient(
                "bcc-5@sender.example", BOUNCE_AT - timedelta(hours=2), "ann@sender.example", ""
            )
        ]
    )
    verdict = detector(store).score(backscatter_of("bcc-5@sender.example"))
    assert verdict.matched == "message_id"
    assert verdict.verdict == "genuine"


def test_an_id_quoted_only_in_a_references_line_is_looked_up(store):
    store.add(unrelated(BOUNCE_AT - timedelta(days=20), 25))
    store.add(
        [
            SentRecipient(
                "thread-9@sender.example",
                BOUNCE_AT - timedelta(hours=3),
                "ann@sender.example",
                "someone@else.example",
            )
        ]
    )
    # The parser reads the copy's own Message-ID; ours is only in its References.
    message = backscatter_of("relay-rewrote-3@mx.sender.example").replace(
        b"Subject: cheap watches\n", b"References: <thread-9@sender.example>\nSubject: re\n"
    )
    verdict = detector(store).score(message)
    assert verdict.matched == "message_id"
    assert verdict.verdict == "genuine"


def test_an_undated_bounce_is_no_sent_log_evidence(store):
    store.add(unrelated(datetime.now(UTC) - timedelta(days=3), 4))  # a log that covers "now"
    message = backscatter_of("forged-78@sender.example")
    undated = b"".join(
        line for line in message.splitlines(keepends=True) if not line.startswith(b"Date:")
    )
    verdict = detector(store).score(undated)
    assert verdict.coverage == "undated"
    assert verdict.verdict != "spoofed"


def test_a_match_in_a_log_that_starts_a_minute_later_is_evidence_not_silence(store):
    """The only row is stamped a minute after the original's Date (two clocks): the match
    itself proves the log speaks for this bounce."""
    sent = SentRecipient(
        "ours-5@sender.example",
        datetime(2025, 6, 2, 9, 58, tzinfo=UTC),
        "ann@sender.example",
        "kim@far.example",
    )
    store.add([sent])
    verdict = detector(store).score(backscatter_of("ours-5@sender.example"))
    assert verdict.matched == "message_id" and verdict.coverage == "covered"
    assert verdict.verdict == "genuine"
    assert not any("no evidence either way" in line for line in verdict.evidence)
