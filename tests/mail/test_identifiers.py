"""Message-ID and address normalisation, and finding Message-IDs in a report's text."""

from __future__ import annotations

import time

import pytest

from backscatter.mail.addresses import normalise
from backscatter.mail.identifiers import (
    address_key,
    message_id_forms,
    message_id_key,
    message_ids_in_text,
    message_ids_in_value,
    normalise_message_id,
)


@pytest.mark.parametrize(
    "written",
    ["<A.1@B.example>", "A.1@b.example", " <A.1@b.EXAMPLE> ", "<A.1@b.example> (Postfix)"],
)
def test_brackets_blanks_comments_and_the_domains_case_do_not_matter_to_the_key(written):
    assert message_id_key(written) == "A.1@b.example"


def test_the_id_left_keeps_its_case():
    assert message_id_key("<A.1@b.example>") != message_id_key("<a.1@b.example>")


def test_the_normalised_form_keeps_all_case_for_records():
    assert normalise_message_id(" <A.1@B.Example> (via relay)") == "A.1@B.Example"
    assert normalise_message_id("(comment) a@b.example") == "a@b.example"


@pytest.mark.parametrize("empty", [None, "", "  ", "<>", "(only a comment)"])
def test_nothing_to_normalise_is_none(empty):
    assert normalise_message_id(empty) is None
    assert message_id_key(empty) is None


def test_forms_for_rows_stored_before_domains_were_lower_cased():
    assert message_id_forms("<X@Host.Example>") == ("X@host.example", "X@Host.Example")
    assert message_id_forms("x@host.example") == ("x@host.example",)


def test_address_forms():
    assert normalise("<Alice@Sender.Example.>") == "Alice@sender.example"
    assert address_key("mailto:Alice@Sender.Example") == "alice@sender.example"
    assert address_key("<>") == address_key(None) == ""


def test_a_references_chain_in_order_without_repeats():
    value = "<a@x.example> <b@y.example>\r\n\t<a@x.example><c@Z.example> <@bad> <no at> <d e@f>"
    assert message_ids_in_value(value) == ["a@x.example", "b@y.example", "c@Z.example"]


REPORT = """\
Your message to <nobody@receiver.example> could not be delivered.
Please see Message-ID: <not-a-field@prose.example> above.

   ----- Original message headers -----
    Return-Path: <alice@sender.example>
    Message-ID: <Orig.1@Sender.Example>
    References: <thread.1@sender.example>
            <thread.2@sender.example>
    To: <nobody@receiver.example>
> In-Reply-To: <quoted.1@receiver.example>
> References: <quoted.1@receiver.example>
>\t<quoted.2@receiver.example>
> Subject: x <subject@text.example>
Resent-Message-ID: <resent@elsewhere.example>
message-id: bare.1@host.example
"""


def test_ids_in_message_id_in_reply_to_and_references_lines_anywhere():
    assert message_ids_in_text(REPORT) == [
        "Orig.1@Sender.Example",
        "thread.1@sender.example",
        "thread.2@sender.example",
        "quoted.1@receiver.example",
        "quoted.2@receiver.example",
        "bare.1@host.example",
    ]


def test_text_whose_lower_case_is_longer_keeps_its_offsets():
    text = "İİİİ İstanbul\n> Message-ID: <Ist.1@mx.example>\n> Subject: x\n"
    assert message_ids_in_text(text) == ["Ist.1@mx.example"]


def test_hostile_text_costs_linear_time():
    hostile = [
        "message-id: " * 100_000,
        "References: " + "@" * 500_000,
        ("References:" + " <a@b.example>" * 2000 + "\n") * 200,
        "<" * 300_000 + "@" + ">" * 300_000,
    ]
    started = time.perf_counter()
    for text in hostile:
        assert len(message_ids_in_text(text)) <= 100
        assert len(message_ids_in_value(text)) <= 100
    assert time.perf_counter() - started < 2.0
