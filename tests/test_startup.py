"""What a command imports is part of its start-up time (issue 10): measured by what is loaded.

Each command runs in a fresh interpreter, as the console script runs it, and reports the
modules it left in ``sys.modules``. Not a timing test (scripts/bench_startup.py times them):
a module that is not imported costs nothing on any machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backscatter.sentlog import SqliteSentLog
from tests.conftest import DATA

#: The model stack: only score, train, evaluate, suppressions, the daemon and milter need it.
MODEL_STACK = ("sklearn", "pandas", "numpy", "scipy", "matplotlib", "skops")
#: Also kept out of --help and --version: the address parser and the bounce parser.
MAIL_STACK = ("flanker", "backscatter.mail.parser")
#: typer converts values through pydantic; backscatter.cli.coercion keeps it out.
PYDANTIC = ("pydantic",)

_RUN = """
import json, sys
sys.argv = ["backscatter", *json.loads(sys.argv[1])]
from backscatter.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.__stderr__)
"""


def loaded_by(*args: str) -> set[str]:
    """The modules loaded by ``backscatter ARGS`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def heavy(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(f"{n}.") for n in names))


@pytest.mark.parametrize("args", [("--help",), ("-h",), ("--version",), ()])
def test_help_and_version_import_no_model_and_no_parser(args):
    modules = loaded_by(*args)
    assert "typer" in modules  # the command really ran
    assert heavy(modules, MODEL_STACK + MAIL_STACK + PYDANTIC) == []


def test_parse_imports_no_model_and_no_pydantic():
    fixture = DATA / "formats" / "activehunter_fatal.eml"
    modules = loaded_by("parse", str(fixture))
    assert "backscatter.mail.parser" in modules
    # flanker too: this bounce's headers are of the forms read without it
    assert heavy(modules, MODEL_STACK + PYDANTIC + ("flanker",)) == []


def test_sentlog_stats_imports_no_model(tmp_path: Path):
    db = tmp_path / "sent.db"
    with SqliteSentLog(db):
        pass
    modules = loaded_by("sentlog", "stats", "--db", str(db))
    assert "backscatter.sentlog.store" in modules
    assert heavy(modules, MODEL_STACK + PYDANTIC) == []


def test_batv_sign_imports_no_model():
    modules = loaded_by("batv", "sign", "alice@example.com", "--secret", "s3cret")
    assert "backscatter.sentlog.batv" in modules
    assert heavy(modules, MODEL_STACK + PYDANTIC) == []


def test_subcommand_help_imports_no_model():
    modules = loaded_by("score", "--help")
    assert heavy(modules, MODEL_STACK + MAIL_STACK + PYDANTIC) == []
