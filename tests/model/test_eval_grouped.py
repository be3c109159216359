"""scripts/eval_grouped.py end to end on a small corpus laid out like the shared one, built
from the project's own hand-written fixtures (never from the real corpus)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "eval_grouped.py"
LAYOUT = {  # corpus path -> (fixture, label)
    "sisimai/lhost-postfix-01.eml": ("postfix_dsn_user_unknown.eml", "genuine_bounce"),
    "sisimai/lhost-postfix-02.eml": ("postfix_text_no_dsn.eml", "genuine_bounce"),
    "sisimai/lhost-exim-01.eml": ("exim_mailbox_full.eml", "genuine_bounce"),
    "sisimai/rhost-kddi-01.eml": ("kddi_mailbox_full.eml", "genuine_bounce"),
    "sisimai/arf-01.eml": ("not_bounce_arf_complaint.eml", "not_bounce/feedback_loop_report"),
    "bouncehammer/01.eml": ("qmail_host_unknown.eml", "genuine_bounce"),
    "fake-ndr-sfml/a.eml": ("fake_ndr_plain_release_link.eml", "spoofed_fake_ndr"),
    "fake-ndr-sfml/b.eml": ("fake_ndr_html_quarantine.eml", "spoofed_fake_ndr"),
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    rows = ["path,label,source"]
    for path, (fixture, label) in LAYOUT.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / "formats" / fixture, folder / path)
        rows.append(f"{path},{label},fixtures")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    (folder / "expected-sisimai.json").write_text("{}")
    return folder


def test_every_message_is_scored_once_per_scheme(corpus, tmp_path):
    out = tmp_path / "grouped.json"
    result = run(str(corpus), "--generated", "60", "--family-groups", "3", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    folder = report["schemes"]["folder"]
    assert [f["fold"] for f in folder["folds"]] == ["sisimai", "bouncehammer", "fake-ndr-sfml"]
    pooled = folder["pooled"]["with_sent_log"]["messages"]
    assert pooled == {"genuine": 5, "backscatter": 0, "fake_ndr": 2, "not_bounce": 1}
    family = report["schemes"]["family"]
    assert len(family["folds"]) == 3
    names = "+".join(f["fold"] for f in family["folds"]).split("+")
    assert sorted(names) == ["arf", "exim", "kddi", "postfix"]
    assert family["pooled"]["without_sent_log"]["messages"]["genuine"] == 4
    # A fold never trains on the real mail it scores.
    assert folder["folds"][0]["trained_on_real"] == 3  # bouncehammer + the two fake NDRs
    assert folder["pooled"]["with_sent_log"]["roc_auc"] is not None
    assert "| **pooled** | yes | 5 / 0 / 2 / 1 |" in result.stdout


def test_no_corpus_is_a_clean_skip(tmp_path):
    result = run(str(tmp_path / "absent"))
    assert result.returncode == 2
    assert "no labelled corpus" in result.stderr
