"""Address finding and status reading on free text."""

from __future__ import annotations

import pytest

from backscatter.mail import status
from backscatter.mail.addresses import addresses_in_text, header_addresses, normalise
from backscatter.mail.formats.text import find_marker


def test_addresses_in_prose_and_brackets():
    text = "Delivery to <a.b+tag@Example.COM> failed; also c_d@sub.example.org."
    assert list(addresses_in_text(text)) == ["a.b+tag@example.com", "c_d@sub.example.org"]


def test_addresses_inside_urls_are_skipped():
    text = "Click https://evil.example/release?u=victim@sender.example now"
    assert list(addresses_in_text(text)) == []


def test_file_and_pipe_paths_are_not_addresses():
    assert list(addresses_in_text("|/usr/bin/procmail x@y /var/mail/u@host.example")) == []


def test_a_long_run_without_at_sign_finds_nothing():
    assert list(addresses_in_text("a" * 200_000 + "@")) == []


def test_header_addresses_use_the_rfc5322_parser():
    value = '"Doe, Jane" <jane@example.org>, bob@example.net (Bob)'
    assert header_addresses(value) == ["jane@example.org", "bob@example.net"]


def test_normalise():
    assert normalise("<Jane.Doe@Example.ORG.>") == "Jane.Doe@example.org"
    assert normalise("mailto:x@Y.example") == "x@y.example"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("550 5.1.1 <a@b.example>: User unknown", "5.1.1"),
        ("Sorry (#5.4.4)", "5.4.4"),
        ("remote host 192.0.2.5.1 said 550", None),
        ("DragonFly Mail Agent v0.13 at host", None),
        ("452 4.2.2 Over quota", "4.2.2"),
    ],
)
def test_enhanced_status(text, code):
    assert status.enhanced_status(text) == code


def test_reply_code_and_derived_status():
    assert status.reply_code("said: 552 sorry, mailbox full") == "552"
    assert status.status_from_reply("552") == "5.2.2"
    assert status.status_from_reply("550") == "5.0.0"
    assert status.reply_code("port 25000 refused") is None
    # Exim quotes the dialogue: SIZE=222 is no reply code, the 550 after it is.
    assert status.reply_code("after MAIL FROM:<a@b.example> SIZE=222: host x: 550 blocked") == "550"
    assert status.reply_code("250 2.1.5 ok, then 452 4.2.2 over quota") == "452"


@pytest.mark.parametrize(
    ("diagnostic", "code", "reason"),
    [
        (
            "Recipient address rejected: User unknown in local recipient table",
            "5.1.1",
            "user_unknown",
        ),
        ("Mailbox full: quota exceeded", "5.2.2", "mailbox_full"),
        ("Host or domain name not found", "5.1.2", "host_unknown"),
        ("Message rejected as spam by Content Filtering", "5.7.1", "blocked"),
        ("SPF check failed for sender", "5.7.23", "policy"),
        ("Message size exceeds fixed maximum message size", "5.3.4", "message_too_large"),
        ("Syntax error in parameters", "5.5.2", "syntax_error"),
        ("Connection timed out", "4.4.1", "expired"),
        (None, "5.1.1", "user_unknown"),
        ("something odd", None, "other"),
    ],
)
def test_reason_taxonomy(diagnostic, code, reason):
    assert status.classify_reason(diagnostic, code) == reason


def test_hardness_follows_permanence():
    assert status.is_hard("5.2.2")
    assert not status.is_hard("4.4.7")
    assert not status.is_hard("5.0.0", action="delayed")
    assert status.is_hard(None, reply="550")


_MARKERS = ("original message", "original message follows", "-- ", "message", "copy of")


@pytest.mark.parametrize(
    ("lines", "start", "expected"),
    [
        (["hello", "the original message follows:", "x"], 0, 1),
        (["a message here", "original message"], 0, 0),  # the earliest line, not marker
        (["a message here", "original message"], 1, 1),  # from ``start`` on
        (["-- ", "copy of"], 2, None),
        (["orig", "inal mess", "age"], 0, None),  # never across a line break
        (["nothing", "to", "see"], 0, None),
        ([], 0, None),
    ],
)
def test_find_marker_is_the_first_line_holding_any_marker(
    lines: list[str], start: int, expected: int | None
) -> None:
    by_line = next(
        (i for i in range(start, len(lines)) if any(m in lines[i] for m in _MARKERS)), None
    )
    assert find_marker(lines, _MARKERS, start) == by_line == expected
    assert find_marker(lines, (), start) is None
    assert find_marker(lines, _MARKERS[:1], start) == next(
        (i for i in range(start, len(lines)) if _MARKERS[0] in lines[i]), None
    )


def test_an_address_reads_at_most_64_characters_before_and_255_after_its_at_sign():
    local, domain = "a" * 70, ("b" * 60 + ".") * 5 + "example"
    found = list(addresses_in_text(f"to <{local}@{domain}> failed"))
    assert found == [f"{'a' * 64}@{domain[:255].strip('.-_')}"]
    assert list(addresses_in_text("x{y}@example.net:")) == ["x{y}@example.net"]


def test_precompiled_markers_leave_nothing_to_compile_when_scoring():
    """The scoring pool's parent compiles every family's marker pattern before it forks;
    a worker then compiles none on some message's time. In a fresh interpreter: the
    pattern cache is per process."""
    import subprocess
    import sys

    from tests.conftest import DATA

    script = (
        "from pathlib import Path\n"
        "from backscatter import Detector\n"
        "from backscatter.mail.formats import text\n"
        "detector = Detector.load()\n"
        "text.precompile_markers()\n"
        "compiled = text._any_marker.cache_info().misses\n"
        f"for path in sorted(Path({str(DATA / 'formats')!r}).glob('*.eml')):\n"
        "    detector.score(path.read_bytes(), path.name)\n"
        "print(compiled, text._any_marker.cache_info().misses)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    compiled, after = map(int, result.stdout.split())
    assert compiled > 10 and after == compiled
