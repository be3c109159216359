"""The README's Python examples run as written (issue 10: the first one raised a TypeError).

Every ```python block of README.md is executed in a folder holding what the examples name:
``bounces.mbox`` (the bundled example mailbox), ``sent.db`` (an empty sent-log), ``our.toml``
(the README's own TOML example) and ``raw_bytes`` (one fixture bounce).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import warnings
from pathlib import Path

import pytest

from backscatter import Bounce, parse, parse_path
from backscatter.errors import InputError, SkippedInputWarning
from backscatter.mail import SourceError, iter_messages
from backscatter.sentlog import SqliteSentLog
from tests.conftest import DATA

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
EXAMPLE_MBOX = REPO / "data" / "examples" / "bounces.mbox"
FIXTURE = DATA / "formats" / "exim_mailbox_full.eml"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)


PYTHON_BLOCKS = _blocks("python")


@pytest.fixture
def readme_folder(tmp_path, monkeypatch):
    shutil.copy(EXAMPLE_MBOX, tmp_path / "bounces.mbox")
    with SqliteSentLog(tmp_path / "sent.db"):
        pass
    (tmp_path / "our.toml").write_text(_blocks("toml")[0], encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_has_python_examples():
    assert len(PYTHON_BLOCKS) >= 2
    assert "parse_path" in PYTHON_BLOCKS[0]


@pytest.mark.parametrize(
    "code", PYTHON_BLOCKS, ids=[f"block{n}" for n in range(len(PYTHON_BLOCKS))]
)
def test_readme_python_block_runs(code, readme_folder):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("error", SkippedInputWarning)
        exec(compile(code, "README.md", "exec"), {"raw_bytes": FIXTURE.read_bytes()})
    if "print(r.address" in code:  # the first example lists the example mailbox's failures
        assert printed.getvalue().count("@") >= 2


def test_parse_path_reads_an_mbox_as_the_command_line_does():
    bounces = parse_path(EXAMPLE_MBOX)
    assert [b.source for b in bounces] == [
        f"{EXAMPLE_MBOX}#{n}" for n in range(1, len(bounces) + 1)
    ]
    assert all(isinstance(b, Bounce) for b in bounces)
    assert any(b.is_bounce for b in bounces) and not all(b.is_bounce for b in bounces)


def test_parse_path_on_a_missing_path_is_one_clear_error(tmp_path):
    missing = tmp_path / "nowhere.mbox"
    with pytest.raises(InputError, match=r"^cannot read .*nowhere\.mbox: no such file"):
        parse_path(missing)


def test_parse_path_skips_an_unreadable_member_and_reports_it(tmp_path):
    shutil.copy(FIXTURE, tmp_path / "a.eml")
    (tmp_path / "fifo").mkdir()
    pipe = tmp_path / "fifo" / "pipe"
    try:
        os.mkfifo(pipe)
    except (AttributeError, OSError):
        pytest.skip("no FIFOs here")
    errors: list[SourceError] = []
    bounces = parse_path(tmp_path, errors=errors)
    assert [b.source for b in bounces] == [str(tmp_path / "a.eml")]
    assert [(e.source, e.message) for e in errors] == [
        (str(pipe), "skipped: not a regular file (a FIFO)")
    ]
    with pytest.warns(SkippedInputWarning, match="skipped .*pipe"):
        assert len(parse_path(tmp_path)) == 1


def test_parse_given_a_source_error_names_the_input():
    (item,) = list(iter_messages(["/nonexistent/bounces.mbox"]))
    assert isinstance(item, SourceError)
    with pytest.raises(InputError) as raised:
        parse(item)
    assert str(raised.value) == "cannot read /nonexistent/bounces.mbox: no such file or directory"
