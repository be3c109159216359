"""Matching a parsed bounce against the sent-log, and saying how it matched."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backscatter.sentlog import SentRecipient, SqliteSentLog, match_bounce
from tests.conftest import parse_fixture

# postfix_dsn_user_unknown.eml: Date Mon, 3 Mar 2025 10:15:02 +0100, returns
# <quarterly-2025-03@sender.example> sent to nobody@receiver.example
BOUNCE_AT = datetime(2025, 3, 3, 9, 15, 2, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    with SqliteSentLog(tmp_path / "sent.db") as opened:
        yield opened


def sent(message_id, recipient, hours_before, sender="alice@sender.example"):
    return SentRecipient(message_id, BOUNCE_AT - timedelta(hours=hours_before), sender, recipient)


def test_message_id_match(store):
    store.add([sent("quarterly-2025-03@sender.example", "nobody@receiver.example", 2)])
    match = match_bounce(store, parse_fixture("formats/postfix_dsn_user_unknown.eml"))
    assert match.how == "message_id"
    assert match.hours_before == pytest.approx(2.0)
    assert match.detail.startswith("Message-ID <quarterly-2025-03@sender.example> was sent to")
    assert match.detail.endswith("nobody@receiver.example 2 h before")


def test_recipient_in_the_window_when_no_message_id_is_quoted(store):
    bounce = replace(
        parse_fixture("formats/postfix_dsn_user_unknown.eml"), original_message_id=None
    )
    store.add([sent("other@sender.example", "nobody@receiver.example", 30)])
    match = match_bounce(store, bounce)
    assert (match.how, match.sent.message_id) == ("recipient", "other@sender.example")
    assert match.detail == "a message was sent to nobody@receiver.example 30 h before"


def test_recipient_outside_the_window_does_not_match(store):
    bounce = replace(
        parse_fixture("formats/postfix_dsn_user_unknown.eml"), original_message_id=None
    )
    store.add([sent("old@sender.example", "nobody@receiver.example", 24 * 30)])
    assert match_bounce(store, bounce).how == "none"


def test_rewritten_recipient_matches_through_the_returned_to(store):
    bounce = parse_fixture("formats/postfix_dsn_user_unknown.eml")
    bounce = replace(bounce, original_message_id=None, original_to="Nobody.Alias@Receiver.example")
    store.add([sent("x@sender.example", "nobody.alias@receiver.example", 1)])
    assert match_bounce(store, bounce).how == "recipient"


def test_forwarding_expanded_from_is_tried(store):
    bounce = parse_fixture("sentlog/forwarded_bounce.eml")
    store.add([sent("t@sender.example", "team@receiver.example", 3)])
    assert match_bounce(store, bounce).sent.recipient == "team@receiver.example"


def test_sender_only_match_is_the_weakest(store):
    bounce = replace(
        parse_fixture("formats/postfix_dsn_user_unknown.eml"),
        original_message_id=None,
        recipients=(),
        original_to=None,
    )
    store.add([sent("y@sender.example", "someone@else.example", 5)])
    match = match_bounce(store, bounce)
    assert match.how == "sender"
    assert match.detail == "alice@sender.example sent mail to someone@else.example 5 h before"


def test_batv_tagged_original_sender_is_untagged_before_lookup(store):
    bounce = replace(
        parse_fixture("formats/postfix_dsn_user_unknown.eml"),
        original_message_id=None,
        recipients=(),
        original_to=None,
        original_from="prvs=0123abcdef=Alice@Sender.example",
    )
    store.add([sent("z@sender.example", "someone@else.example", 1)])
    assert match_bounce(store, bounce).how == "sender"


def test_nothing_sent_is_none(store):
    match = match_bounce(store, parse_fixture("formats/postfix_dsn_user_unknown.eml"))
    assert (match.how, match.found, match.detail) == (
        "none",
        False,
        "nothing in the sent-log matches",
    )
