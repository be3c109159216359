"""Matching a parsed bounce against the sent-log, and saying how it matched."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backscatter import parse
from backscatter.mail.identifiers import message_ids_in_text
from backscatter.sentlog import SentRecipient, match_bounce
from tests.conftest import DATA, parse_fixture

# postfix_dsn_user_unknown.eml: Date Mon, 3 Mar 2025 10:15:02 +0100, returns
# <quarterly-2025-03@sender.example> sent to nobody@receiver.example
BOUNCE_AT = datetime(2025, 3, 3, 9, 15, 2, tzinfo=UTC)


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


QUOTING = DATA / "sentlog" / "quoted_references_bounce.eml"  # written 6 Mar 2025 09:30 UTC


def test_message_id_only_row_matches_by_message_id(store):
    store.add([sent("quarterly-2025-03@sender.example", "", 3)])
    match = match_bounce(store, parse_fixture("formats/postfix_dsn_user_unknown.eml"))
    assert (match.how, match.sent.recipient) == ("message_id", "")
    assert match.detail == "Message-ID <quarterly-2025-03@sender.example> was sent 3 h before"


def test_an_id_found_only_in_a_quoted_references_line_matches(store):
    bounce = parse(QUOTING.read_bytes())
    assert bounce.original_message_id is None  # the parser found no returned Message-ID
    invited = datetime(2025, 3, 5, 8, 0, tzinfo=UTC)
    store.add(
        [SentRecipient("invite-0305.1@laptop.sender.example", invited, "alice@x.example", "")]
    )
    assert match_bounce(store, bounce).how == "none"
    quoted = message_ids_in_text(QUOTING.read_text())
    match = match_bounce(store, bounce, message_ids=quoted)
    assert match.how == "message_id"
    assert match.sent.message_id == "invite-0305.1@laptop.sender.example"
    # the bounce's own Message-ID is never looked up, even when it is passed
    assert match.quoted_ids == (
        "reply-from-pat@receiver.example",
        "invite-0305.1@laptop.sender.example",
    )


def test_an_id_in_a_quoted_message_id_line_matches(store):
    store.add([sent("quarterly-2025-03@sender.example", "nobody@receiver.example", 2)])
    bounce = replace(
        parse_fixture("formats/postfix_dsn_user_unknown.eml"),
        original_message_id=None,
        recipients=(),
        original_to=None,
    )
    text = "The original message was:\n    Message-ID: <quarterly-2025-03@SENDER.example>\n"
    match = match_bounce(store, bounce, message_ids=message_ids_in_text(text))
    assert (match.how, match.quoted_ids) == ("message_id", ("quarterly-2025-03@sender.example",))


def test_every_failed_address_is_looked_up(store):
    bounce = parse_fixture("formats/postfix_dsn_user_unknown.eml")
    bounce = replace(
        bounce, original_message_id=None, original_to="a@receiver.example, Dan@x.example"
    )
    store.add([sent("d@sender.example", "dan@x.example", 4)])
    match = match_bounce(store, bounce)
    assert (match.how, match.sent.recipient) == ("recipient", "dan@x.example")


def test_lookups_are_bounded(store):
    many = [f"<m{i}@elsewhere.example>" for i in range(100)]
    store.add([sent("m50@elsewhere.example", "x@receiver.example", 1, "o@elsewhere.example")])
    match = match_bounce(
        store, parse_fixture("formats/postfix_dsn_user_unknown.eml"), message_ids=many
    )
    assert len(match.quoted_ids) == 20 and match.quoted_ids[0] == "quarterly-2025-03@sender.example"
    assert match.how == "none"  # the 50th ID is beyond the bound


def coverage_of(store, original_date):
    bounce = replace(
        parse_fixture("formats/postfix_dsn_user_unknown.eml"), original_date=original_date
    )
    return match_bounce(store, bounce, window=timedelta(days=10)).coverage


def test_coverage_of_an_empty_log_is_before_it(store):
    assert coverage_of(store, "Mon, 3 Mar 2025 10:14:58 +0100") == "before_log"


def test_coverage_before_inside_and_after_the_log(store):
    store.add([sent("first@sender.example", "a@x.example", 24 * 20)])  # 11 Feb
    store.add([sent("last@sender.example", "b@x.example", 24 * 15)])  # 16 Feb
    assert coverage_of(store, "Mon, 10 Feb 2025 09:00:00 +0000") == "before_log"
    assert coverage_of(store, "Thu, 13 Feb 2025 09:00:00 +0000") == "covered"
    # 3 Mar is 15 days after the last row, more than the 10-day window: the log stopped
    assert coverage_of(store, "Mon, 3 Mar 2025 10:14:58 +0100") == "after_log"
    # no believable Date (missing, or after the bounce): the bounce's own time is used
    assert coverage_of(store, None) == "after_log"
    assert coverage_of(store, "Fri, 13 Feb 2026 09:00:00 +0000") == "after_log"


def test_coverage_is_reported_with_a_match(store):
    store.add([sent("quarterly-2025-03@sender.example", "nobody@receiver.example", 2)])
    match = match_bounce(store, parse_fixture("formats/postfix_dsn_user_unknown.eml"))
    assert (match.how, match.coverage) == ("message_id", "covered")


def test_a_mailings_row_to_the_failed_recipient_is_the_one_reported(store):
    store.add(
        [sent("quarterly-2025-03@sender.example", f"u{i}@x.example", 2) for i in range(300)]
        + [sent("quarterly-2025-03@sender.example", "nobody@receiver.example", 2)]
    )
    match = match_bounce(store, parse_fixture("formats/postfix_dsn_user_unknown.eml"))
    assert (match.how, match.sent.recipient) == ("message_id", "nobody@receiver.example")
