#!/usr/bin/env python3
"""One entry point for the quick start: makes .venv on first use, then runs a task.

    python3 scripts/dev.py demo    score the bundled example mailbox with the shipped model
    python3 scripts/dev.py test    run the test suite (and ruff)
    python3 scripts/dev.py bench   measure the parser against ../shared/corpus

Only Python 3.11+ with pip is needed; the virtual environment is rebuilt when
pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".backscatter-installed"


# pymilter compiles against libmilter: installed (and its tests run) only where it is present.
LIBMILTER = Path("/usr/include/libmilter/mfapi.h")


def ensure_venv() -> None:
    # postgres: psycopg (binary wheel, no build needed) for the PostgreSQL sent-log tests;
    # dask: --engine dask and its tests (tests/test_dask.py skips without it).
    extras = "dev,postgres,dask,milter" if LIBMILTER.exists() else "dev,postgres,dask"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest() + extras
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("dev: creating .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev: installing backscatter and its test tools into .venv", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-e", f"{ROOT}[{extras}]"], check=True)
    STAMP.write_text(wanted)


def run(*args: str) -> int:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT).returncode


def main() -> int:
    task = sys.argv[1] if len(sys.argv) > 1 else "help"
    extra = sys.argv[2:]
    if task not in ("demo", "test", "bench"):
        print(__doc__)
        return 0 if task == "help" else 2
    ensure_venv()
    if task == "demo":
        return run("backscatter", "score", "data/examples/bounces.mbox", *extra)
    if task == "bench":
        return run("python", "scripts/bench_parse.py", "../shared/corpus", *extra)
    status = run("ruff", "check", "src", "tests", "scripts")
    return run("python", "-m", "pytest", *extra) or status


if __name__ == "__main__":
    sys.exit(main())
