"""`backscatter serve` reloads its model on SIGHUP (issue 13): a real daemon process, a model
file replaced under it, and a client scoring all through the reload."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.filters.test_daemon import GENUINE, health, request, start_daemon, stop


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    """M1: the shipped model. M2: trained on generated mail with its labels swapped, so it
    scores the genuine fixture visibly differently (checked in the test)."""
    from backscatter.model.learn import generated_items
    from backscatter.model.persist import save, shipped_model_path
    from backscatter.model.train import fit

    folder = tmp_path_factory.mktemp("models")
    items = generated_items(folder / "generated", 30, seed=3)
    swapped = [replace(item, label=1 - item.label) for item in items]
    save(fit(swapped, seed=3), folder / "m2.skops")
    shutil.copy(shipped_model_path(), folder / "m1.skops")
    return folder / "m1.skops", folder / "m2.skops"


def expected(model: Path) -> float:
    """The score the model gives the genuine fixture, computed here without the daemon."""
    from backscatter import Detector

    return Detector.load(model).score(GENUINE).spoofed_probability


def score(sock: Path) -> float:
    status, body = request(sock, "POST", "/score", GENUINE)
    assert status == 200
    return float(json.loads(body)["spoofed_probability"])


def keep_alive_score(connection: socket.socket) -> float:
    """One /score on a connection that stays open (HTTP/1.1 keep-alive)."""
    head = b"POST /score HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n"
    connection.sendall(head % len(GENUINE) + GENUINE)
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    header, _, body = received.partition(b"\r\n\r\n")
    assert header.startswith(b"HTTP/1.1 200"), header
    length = int(header.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += connection.recv(65536)
    return float(json.loads(body)["spoofed_probability"])


def wait_for(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_sighup_swaps_in_the_new_model_without_dropping_a_request(tmp_path, models):
    m1, m2 = models
    model = tmp_path / "model.skops"
    shutil.copy(m1, model)
    process, sock, log = start_daemon(tmp_path, "--workers", "2", "--model", str(model))
    try:
        before = score(sock)
        assert before == pytest.approx(expected(m1), abs=1e-4)
        assert abs(expected(m2) - before) > 0.05  # M2 is visibly another model
        old_workers = set(health(sock)["workers"])
        kept = socket.socket(socket.AF_UNIX)
        kept.settimeout(60)
        kept.connect(str(sock))
        assert keep_alive_score(kept) == pytest.approx(before)
        statuses: list[int] = []
        done = threading.Event()

        def client() -> None:
            while not done.is_set():
                try:
                    statuses.append(request(sock, "POST", "/score", GENUINE)[0])
                except OSError as exc:  # a dropped connection is a failure, not a skip
                    statuses.append(-1)
                    statuses.append(hash(str(exc)))

        thread = threading.Thread(target=client)
        thread.start()
        try:
            time.sleep(0.5)
            shutil.copy(m2, tmp_path / "incoming.skops")
            (tmp_path / "incoming.skops").replace(model)
            process.send_signal(signal.SIGHUP)
            assert wait_for(lambda: "reloaded the model" in log.read_text()), log.read_text()
            time.sleep(0.5)
        finally:
            done.set()
            thread.join(timeout=60)
        after = score(sock)
        assert after == pytest.approx(expected(m2), abs=1e-4), (before, after)
        assert keep_alive_score(kept) == pytest.approx(after)  # the same connection, kept
        kept.close()
        assert statuses and set(statuses) == {200}, statuses[:10]
        state = health(sock)
        assert state["model"].startswith("model.skops sha256:")
        assert not old_workers & set(state["workers"])  # a new generation of workers
        assert process.poll() is None
    finally:
        assert stop(process) == 0


def test_a_corrupt_model_is_refused_and_the_old_one_keeps_serving(tmp_path, models):
    m1, _ = models
    model = tmp_path / "model.skops"
    shutil.copy(m1, model)
    process, sock, log = start_daemon(tmp_path, "--workers", "1", "--model", str(model))
    try:
        before, named = score(sock), health(sock)["model"]
        model.write_bytes(b"PK\x03\x04 this is not a model")
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "kept the old model" in log.read_text()), log.read_text()
        assert "ERROR" in log.read_text()
        assert score(sock) == pytest.approx(before)
        assert health(sock)["model"] == named
        assert process.poll() is None
    finally:
        assert stop(process) == 0
