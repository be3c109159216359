"""Hostile charsets and encodings through scoring: a record for every message, never a
traceback, and never a silent not_bounce that a filter would let through untagged."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backscatter import Detector

_HEAD = (
    b"Return-Path: <>\nFrom: Mail Delivery System <MAILER-DAEMON@mx.sender.example>\n"
    b"To: ann@sender.example\nSubject: Undelivered Mail Returned to Sender\n"
    b"Date: Mon, 2 Jun 2025 10:00:00 +0000\nMessage-ID: <h1@mx.sender.example>\n"
)
_REPORT = (
    b"This is the mail system at host mx.sender.example.\n\n"
    b"<bob@receiver.example>: host mx.receiver.example said: 550 5.1.1 User unknown "
)

HOSTILE = {
    # a NUL inside the declared charset name
    "nul_charset": _HEAD + b'Content-Type: text/plain; charset="utf\x00-8"\n\n' + _REPORT + b"\n",
    # a charset that is a codec but not a text encoding, on an 8-bit body
    "idna_charset": _HEAD + b"Content-Type: text/plain; charset=idna\n\n" + _REPORT + b"\xe9\xff\n",
    # an encoded word whose charset name is not ASCII, in a Received header
    "encoded_word_charset": b"Received: from =?\xe9\xe9?Q?x?= (mx.example [192.0.2.1])\n"
    + _HEAD
    + b"Content-Type: text/plain\n\n"
    + _REPORT
    + b"\n",
    # UTF-7 that decodes to a lone surrogate
    "utf7_surrogate": _HEAD + b"Content-Type: text/plain; charset=utf-7\n\n" + _REPORT + b"+2L8-\n",
    # a year no datetime can hold, in the returned original's Date (read by a feature)
    "huge_year": _HEAD
    + b"Content-Type: text/plain\n\n"
    + _REPORT
    + b"\n\n--- Below this line is a copy of the message.\n\nMessage-ID: <o1@sender.example>\n"
    + b"Date: Mon, 16 Jun 99999999999999999999 10:00:00 +0900\nFrom: ann@sender.example\n",
}


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_charsets_are_scored(detector, name):
    verdict = detector.score(HOSTILE[name], name)
    record = verdict.to_record()
    json.dumps(record, ensure_ascii=False).encode("utf-8")  # writable as UTF-8 JSON Lines
    assert verdict.verdict != "not_bounce" or name == "idna_charset"


def test_one_hostile_message_costs_no_other_its_verdict(detector):
    ordinary = HOSTILE["nul_charset"].replace(b'charset="utf\x00-8"', b"charset=utf-8")
    batch = [ordinary, HOSTILE["huge_year"], ordinary]
    from backscatter.mail import RawMessage

    verdicts = detector.score_many([RawMessage(str(i), m, len(m)) for i, m in enumerate(batch)])
    assert [v.bounce.source for v in verdicts] == ["0", "1", "2"]
    assert verdicts[0].verdict == verdicts[2].verdict != "not_bounce"


def test_cli_writes_a_record_for_every_hostile_message(tmp_path):
    for name, data in HOSTILE.items():
        (tmp_path / f"{name}.eml").write_bytes(data)
    for command in ("parse", "score"):
        result = subprocess.run(
            [sys.executable, "-m", "backscatter", command, "-f", "jsonl", str(tmp_path)],
            capture_output=True,
        )
        assert result.returncode == 0, result.stderr.decode()
        lines = result.stdout.decode("utf-8").splitlines()
        assert len(lines) == len(HOSTILE)
