"""Address headers: the common forms are read without flanker, and read as flanker reads them.

The fast path exists for start-up (flanker's parser costs ~0.2 s to import); it must never
change an answer, so every form it accepts is checked against flanker's own parse here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from backscatter.mail.addresses import header_addresses, normalise

#: Forms the fast path reads (RFC 5322 section 3.4), with what they name.
COMMON = [
    ("jane@example.org", ["jane@example.org"]),
    ("<jane@example.org>", ["jane@example.org"]),
    ("Jane Doe <jane@Example.ORG>", ["jane@example.org"]),
    ('"MAILER-DAEMON" <postmaster@mx.example.net>', ["postmaster@mx.example.net"]),
    ('"Doe, Jane" <jane@example.org>', ["jane@example.org"]),
    ('"Jane (home)" <jane@example.org>', ["jane@example.org"]),
    ('"bob@example.net" <jane@example.org>', ["jane@example.org"]),
    ("MAILER-DAEMON@mx.example.net (Mail Delivery System)", ["MAILER-DAEMON@mx.example.net"]),
    ("Jane <jane@example.org> (work)", ["jane@example.org"]),
    ("J\u00e9r\u00f4me Martin <jerome@example.fr>", ["jerome@example.fr"]),
    (
        '"Doe, Jane" <jane@example.org>, bob@example.net (Bob), Carol <carol@example.com>',
        ["jane@example.org", "bob@example.net", "carol@example.com"],
    ),
]

#: Forms left to flanker (groups, escapes, nesting, malformed) and what the answer is.
SUBTLE = [
    ("Friends: jane@example.org, bob@example.net;", ["jane@example.org", "bob@example.net"]),
    ('"Jane \\"JD\\" Doe" <jane@example.org>', ["jane@example.org"]),
    ("(leading) jane@example.org", ["jane@example.org"]),
    ("jane@example.org (nested (comment))", ["jane@example.org"]),
    # an address as display name: flanker refuses it, the text scan finds both
    ("bob@example.net <jane@example.org>", ["bob@example.net", "jane@example.org"]),
    ("Jane <jane@example.org", ["jane@example.org"]),
]


def _flanker(value: str) -> list[str]:
    from flanker.addresslib import address

    return [normalise(found.address) for found in address.parse_list(value)]


@pytest.mark.parametrize(("value", "expected"), COMMON)
def test_common_forms_are_read_as_flanker_reads_them(value, expected):
    assert header_addresses(value) == expected
    assert _flanker(value) == expected


@pytest.mark.parametrize(("value", "expected"), SUBTLE)
def test_subtle_forms_still_reach_flanker(value, expected):
    assert header_addresses(value) == expected


def test_common_forms_do_not_import_flanker():
    values = [value for value, _ in COMMON]
    code = (
        "import sys\n"
        "from backscatter.mail.addresses import header_addresses\n"
        f"for value in {values!r}:\n"
        "    header_addresses(value)\n"
        "print(sorted(m for m in sys.modules if m.startswith('flanker')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
