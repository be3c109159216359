"""`backscatter milter` reloads its model on SIGUSR1; SIGHUP stops it (libmilter's signal
thread takes SIGHUP as stop: libmilter/signal.c, mi_signal_thread). Checked with miltertest,
no Postfix: the verdict header a message gets before and after the reload."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.filters.test_daemon_reload import models, wait_for  # noqa: F401  (a fixture)
from tests.filters.test_miltertest import FAKE_NDR, MILTERTEST, message_steps, miltertest

pytestmark = pytest.mark.skipif(MILTERTEST is None, reason="miltertest is not installed")
pytest.importorskip("Milter", reason="pymilter is not installed (needs libmilter-dev)")

CALLED_SPOOFED = """
mt.getreply(conn)
assert(mt.eom_check(conn, MT_HDRADD, "X-Backscatter-Verdict", "spoofed"), "not called spoofed")
"""


def start(directory: Path, model: Path) -> tuple[subprocess.Popen, Path, Path]:
    sock, log = directory / "milter.sock", directory / "milter.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "backscatter", "milter", "--socket", f"unix:{sock}",
         "--socket-mode", "600", "--no-socket-check", "--model", str(model)],
        stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )  # fmt: skip
    started = lambda: "milter started" in log.read_text() or process.poll() is not None  # noqa: E731
    if not wait_for(started, 120):
        process.kill()
        pytest.fail("the milter did not start")
    assert process.poll() is None, log.read_text()
    return process, sock, log


def called_spoofed(sock: Path) -> bool:
    steps = message_steps("mx", "support@login-portal.example", FAKE_NDR) + CALLED_SPOOFED
    return miltertest(sock, steps).returncode == 0


def test_sigusr1_reloads_the_model_and_a_bad_file_keeps_the_old_one(tmp_path, models):  # noqa: F811
    m1, m2 = models
    model = tmp_path / "model.skops"
    shutil.copy(m1, model)
    process, sock, log = start(tmp_path, model)
    try:
        assert called_spoofed(sock)  # M1, the shipped model

        model.write_bytes(b"not a model")
        process.send_signal(signal.SIGUSR1)
        assert wait_for(lambda: "kept the old model" in log.read_text()), log.read_text()
        assert called_spoofed(sock)

        shutil.copy(m2, tmp_path / "incoming.skops")
        (tmp_path / "incoming.skops").replace(model)
        process.send_signal(signal.SIGUSR1)
        assert wait_for(lambda: "SIGUSR1: reloaded the model" in log.read_text()), log.read_text()
        assert not called_spoofed(sock)  # M2 judges the fake NDR otherwise
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_sighup_stops_the_milter_as_libmilter_decides(tmp_path, models):  # noqa: F811
    """Pinned so the README's advice (reload the milter with SIGUSR1, never SIGHUP) stays
    true: if a libmilter ever reloads on SIGHUP instead, this fails and the advice changes."""
    m1, _ = models
    process, _, log = start(tmp_path, m1)
    time.sleep(1)
    process.send_signal(signal.SIGHUP)
    try:
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
