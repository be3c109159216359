"""The embeddable API as a mail filter author uses it: ``from backscatter import Detector``."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import backscatter
from backscatter import Detector, SentLog, Verdict
from backscatter.sentlog import SentRecipient
from tests.conftest import DATA

FIXTURES = sorted((DATA / "formats").glob("*.eml"))


def test_importing_the_package_does_not_load_the_model_stack():
    code = "import sys, backscatter; backscatter.parse(b''); print('sklearn' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
    assert set(backscatter.__all__) >= {"Detector", "Verdict", "SentLog", "parse"}


def test_a_verdict_has_the_fields_of_a_score_record():
    path = DATA / "formats" / "exim_mailbox_full.eml"
    verdict = Detector.load().score(path.read_bytes(), str(path))
    assert isinstance(verdict, Verdict)
    cli = subprocess.run(
        [sys.executable, "-m", "backscatter", "score", "--format", "jsonl", str(path)],
        capture_output=True,
        text=True,
    )
    assert set(verdict.to_record()) == set(json.loads(cli.stdout.splitlines()[0]))
    assert verdict.to_record()["verdict"] == json.loads(cli.stdout)["verdict"]


def test_one_detector_scores_from_many_threads_as_it_does_from_one(tmp_path):
    with SentLog(tmp_path / "sent.db") as log:
        log.add(
            [
                SentRecipient(
                    "quarterly-2025-03@sender.example",
                    datetime(2025, 3, 3, 9, 15, tzinfo=UTC),
                    "alice@sender.example",
                    "nobody@receiver.example",
                )
            ]
        )
    detector = Detector.load(sent_log=tmp_path / "sent.db")
    messages = [p.read_bytes() for p in FIXTURES] * 8

    def summary(data: bytes) -> tuple[str, float, str | None]:
        v = detector.score(data)
        return v.verdict, v.spoofed_probability, v.matched

    alone = [summary(m) for m in messages]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(summary, messages))
    assert together == alone
    assert ("genuine", alone[FIXTURES.index(DATA / "formats" / "postfix_dsn_user_unknown.eml")][1],
            "message_id") in together  # fmt: skip
    detector.close()


def test_mail_that_cannot_be_parsed_still_gets_a_verdict():
    detector = Detector.load()
    for data in (b"", b"\x00\xff" * 1000, b"Subject: =?bogus?Q?x?=\n\n\xff\xfe"):
        assert detector.score(data).verdict == "not_bounce"
