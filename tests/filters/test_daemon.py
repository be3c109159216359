"""`backscatter serve` and `backscatter filter --connect`: real daemon processes and sockets."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import DATA

FAKE_NDR = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes()
GENUINE = (DATA / "formats" / "postfix_dsn_user_unknown.eml").read_bytes()
ORDINARY = b"From: bob@example.org\nTo: alice@example.net\nSubject: hi\n\nHello\n"
#: CRLF line endings, an mbox From line and 8-bit bytes: what must come back byte for byte.
MBOX_CRLF_8BIT = (
    b"From MAILER-DAEMON Mon Mar  3 10:15:02 2025\r\n"
    + GENUINE.replace(b"\n", b"\r\n")
    + b"Gr\xfc\xdfe, caf\xc3\xa9 \xff\x00 end\r\n"
)
FORGED = b"X-Backscatter-Verdict: genuine\n  (trust me)\n" + FAKE_NDR


def slow_bounce(addresses: int = 10_000) -> bytes:
    """A report line with thousands of addresses: parsing it takes far longer than ordinary
    mail (hundreds of milliseconds), a real input an attacker can send."""
    line = ", ".join(f'"x" <u{i}@example.org>' for i in range(addresses))
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nTo: alice@example.org\n"
        "Subject: Undelivered Mail Returned to Sender\nMessage-ID: <slow@mx.example.net>\n\n"
        "Your message could not be delivered to one or more recipients.\n\n" + line + "\n"
    ).encode()


def request(path: Path, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 exchange over the unix socket; (status, body)."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(60)
        connection.connect(str(path))
        head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        connection.sendall(head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    header, _, payload = received.partition(b"\r\n\r\n")
    return int(header.split(b" ", 2)[1]), payload


def health(path: Path) -> dict:
    status, body = request(path, "GET", "/health")
    assert status == 200
    return json.loads(body)


def start_daemon(directory: Path, *options: str) -> tuple[subprocess.Popen, Path, Path]:
    sock, log = directory / "backscatter.sock", directory / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "backscatter", "serve", "--socket", str(sock), *options],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited {process.returncode}: {log.read_text()}")
        if sock.exists():
            try:
                health(sock)
                return process, sock, log
            except OSError:
                pass
        time.sleep(0.1)
    process.kill()
    pytest.fail("serve did not start")


def stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    process, sock, log = start_daemon(
        tmp_path_factory.mktemp("serve"), "--workers", "2", "--max-kb", "64",
        "--http", "127.0.0.1:0",
    )  # fmt: skip
    port = log.read_text().split("http://127.0.0.1:", 1)[1].split()[0]
    yield sock, f"http://127.0.0.1:{port}"
    stop(process)


@pytest.fixture(scope="module")
def daemon(served):
    return served[0]


@pytest.fixture(scope="module")
def detector():
    from backscatter import Detector

    return Detector.load()


def connect(data: bytes, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "backscatter", "filter", *options],
        input=data,
        capture_output=True,
        timeout=60,
    )


def standalone(detector, data: bytes, limit_kb: int = 64) -> bytes:
    """What ``backscatter filter`` writes (its function, with the model loaded once)."""
    from backscatter.filters.pipe import run_filter

    out = io.BytesIO()
    assert run_filter(io.BytesIO(data), out, lambda: detector, limit_kb * 1024, 10.0) == 0
    return out.getvalue()


def gone(pid: int, wait_s: float = 10.0) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize(
    "message", [FAKE_NDR, GENUINE, MBOX_CRLF_8BIT, ORDINARY, FORGED], ids=lambda m: str(len(m))
)
def test_connect_writes_the_same_bytes_as_the_standalone_filter(daemon, detector, message):
    result = connect(message, "--connect", str(daemon))
    assert result.returncode == 0, result.stderr
    assert result.stdout == standalone(detector, message)
    assert result.stderr == b""


def test_connect_over_loopback_http_gives_the_same_bytes(served, detector):
    _, url = served
    result = connect(MBOX_CRLF_8BIT, "--connect", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == standalone(detector, MBOX_CRLF_8BIT)


def test_connect_and_the_filter_command_agree_on_a_fake_ndr(daemon):
    via_daemon = connect(FAKE_NDR, "--connect", str(daemon))
    alone = connect(FAKE_NDR)  # the standalone command: loads the model itself
    assert via_daemon.stdout == alone.stdout
    assert b"X-Backscatter-Verdict: spoofed\n" in via_daemon.stdout


def test_a_message_over_the_cap_is_scored_on_its_head_and_streamed_back_whole(daemon):
    padding = b"".join(b"%07d filler line of a long returned message\n" % i for i in range(20000))
    message = FAKE_NDR + padding  # ~1 MB, the daemon scores its first 64 KiB
    for options in (("--connect", str(daemon)), ("--connect", str(daemon), "--max-kb", "4096")):
        result = connect(message, *options)
        assert result.returncode == 0
        assert b"X-Backscatter-Verdict: spoofed" in result.stdout
        assert result.stdout.endswith(padding)
        assert len(result.stdout) > len(message)


@pytest.mark.parametrize("message", [FAKE_NDR, MBOX_CRLF_8BIT])
def test_with_the_daemon_down_the_message_passes_untouched(tmp_path, message):
    missing = str(tmp_path / "nobody.sock")
    result = connect(message, "--connect", missing)
    assert (result.returncode, result.stdout) == (0, message)
    assert result.stderr.decode().count("\n") == 1  # one plain line
    result = connect(message, f"--connect={missing}", "--on-error", "tempfail")
    assert (result.returncode, result.stdout) == (75, message)


def test_a_daemon_that_never_answers_times_out_and_the_message_passes(tmp_path):
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as silent:
        silent.bind(str(path))
        silent.listen(1)  # accepts the connection, never answers
        started = time.monotonic()
        result = connect(FAKE_NDR, "--connect", str(path), "--timeout", "0.5")
    assert (result.returncode, result.stdout) == (0, FAKE_NDR)
    assert time.monotonic() - started < 10


def test_score_returns_the_jsonl_record(daemon, detector):
    status, body = request(daemon, "POST", "/score?sender=&recipient=alice@sender.example", GENUINE)
    from backscatter import Envelope

    expected = detector.score(GENUINE, "-", Envelope("", ("alice@sender.example",))).to_record()
    assert status == 200
    assert json.loads(body) == json.loads(json.dumps(expected))


def test_headers_returns_the_block_to_add(daemon):
    status, body = request(daemon, "POST", "/headers", FAKE_NDR)
    assert status == 200
    assert body.startswith(b"X-Backscatter-Verdict: spoofed\r\nX-Backscatter-Status: Yes, score=")
    assert b"\n" not in body.replace(b"\r\n", b"")  # folds in CRLF too


def test_a_slow_message_is_stopped_its_worker_killed_and_the_next_ones_scored(daemon):
    before = set(health(daemon)["workers"])
    status, body = request(daemon, "POST", "/headers?budget_ms=50", slow_bounce())
    assert status == 200
    assert b"X-Backscatter-Verdict: unscored\r\n" in body
    assert b"tests=BOUNCE_UNSCORED" in body and b"unscored=budget" in body
    after = health(daemon)
    killed = before - set(after["workers"])
    assert len(killed) == 1 and after["killed"] >= 1
    assert gone(killed.pop())  # the work stopped: the process no longer exists
    for _ in range(6):
        status, body = request(daemon, "POST", "/headers", FAKE_NDR)
        assert b"X-Backscatter-Verdict: spoofed" in body
    deadline = time.monotonic() + 10
    while len(health(daemon)["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(health(daemon)["workers"]) == 2  # replaced


def test_four_concurrent_clients(daemon, detector):
    messages = [FAKE_NDR, GENUINE, MBOX_CRLF_8BIT, ORDINARY]
    expected = {m: standalone(detector, m) for m in messages}
    results: list[tuple[bytes, subprocess.CompletedProcess[bytes]]] = []

    def client(message: bytes) -> None:
        for _ in range(3):
            results.append((message, connect(message, "--connect", str(daemon))))

    threads = [threading.Thread(target=client, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 12
    for message, result in results:
        assert (result.returncode, result.stdout) == (0, expected[message])


def test_clients_stalled_mid_request_do_not_hold_up_the_others(daemon, detector):
    """Connection threads are reused and capped; the cap must not let a few stalled
    clients (a head sent, the body never) stop everyone else being served."""
    stalled = []
    try:
        for _ in range(40):
            connection = socket.socket(socket.AF_UNIX)
            connection.connect(str(daemon))
            connection.sendall(b"POST /headers HTTP/1.1\r\nContent-Length: 500\r\n\r\nFrom:")
            stalled.append(connection)
        started = time.monotonic()
        result = connect(GENUINE, "--connect", str(daemon))
        assert (result.returncode, result.stdout) == (0, standalone(detector, GENUINE))
        assert time.monotonic() - started < 10
    finally:
        for connection in stalled:
            connection.close()


def test_sigterm_stops_cleanly_removes_the_socket_and_leaves_no_process(tmp_path):
    process, sock, log = start_daemon(tmp_path, "--workers", "2")
    process.send_signal(signal.SIGHUP)  # the reload hook (issue 13): logged, not fatal
    time.sleep(0.5)
    state = health(sock)
    assert process.poll() is None
    assert stop(process) == 0
    assert not sock.exists()
    assert all(gone(pid) for pid in [*state["workers"], state["spare"], state["zygote"]])
    assert len(state["workers"]) == 2
    text = log.read_text()
    assert "listening on unix:" in text and "stopped (SIGTERM)" in text and "SIGHUP" in text
    assert "Traceback" not in text


def test_a_second_daemon_on_a_live_socket_is_refused(daemon):
    result = subprocess.run(
        [sys.executable, "-m", "backscatter", "serve", "--socket", str(daemon)],
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert b"another daemon is listening" in result.stderr


def test_remote_http_is_refused_without_allow_remote(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "backscatter", "serve", "--socket", str(tmp_path / "s.sock"),
         "--http", "0.0.0.0:8025"],
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert b"--allow-remote" in result.stderr and b"Traceback" not in result.stderr


def test_a_chunked_body_is_read_like_one_with_a_length(daemon):
    """Node's http (a Haraka plugin) and `curl -T -` send the message in chunks."""
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(FAKE_NDR[i : i + 100]), FAKE_NDR[i : i + 100])
        for i in range(0, len(FAKE_NDR), 100)
    )
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(60)
        connection.connect(str(daemon))
        connection.sendall(
            b"POST /filter HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" + chunked + b"0\r\n\r\n"
        )
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 ")
    body = received.partition(b"\r\n\r\n")[2]
    assert body == request(daemon, "POST", "/filter", FAKE_NDR)[1]
    assert b"X-Backscatter-Verdict: spoofed" in body


def test_a_worker_that_dies_is_replaced_and_no_message_is_lost_to_it(daemon):
    state = health(daemon)
    victim = state["workers"][0]
    os.kill(victim, signal.SIGKILL)  # as the OOM killer would
    assert gone(victim)
    for _ in range(4):
        status, body = request(daemon, "POST", "/headers", FAKE_NDR)
        assert (status, body.split(b"\r\n", 1)[0]) == (200, b"X-Backscatter-Verdict: spoofed")
    deadline = time.monotonic() + 10
    while len(health(daemon)["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    after = health(daemon)
    assert victim not in after["workers"] and len(after["workers"]) == 2
    assert after["died"] == state["died"] + 1


def exchange(path: Path, data: bytes, half_close: bool = False) -> bytes:
    """Send ``data`` on one connection and read until the daemon closes it."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(60)
        connection.connect(str(path))
        connection.sendall(data)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def responses(received: bytes) -> list[tuple[int, bytes, bytes]]:
    """(status, head, body) of each response in ``received``, by their Content-Length."""
    found = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
        found.append((int(head.split(b" ", 2)[1]), head, rest[:length]))
        received = rest[length:]
    return found


def post(target: str, body: bytes, *fields: str) -> bytes:
    head = f"POST {target} HTTP/1.1\r\nHost: localhost\r\n" + "".join(f + "\r\n" for f in fields)
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_requests_on_one_kept_alive_connection_are_answered_in_order(daemon):
    """Pipelined: all three sent before any answer; the last asks to close."""
    received = exchange(
        daemon,
        b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
        + post("/headers", FAKE_NDR)
        + post("/headers?sender=", GENUINE, "Connection: close"),
    )
    (health_status, _, body), (first, _, spoofed), (second, head, genuine) = responses(received)
    assert (health_status, first, second) == (200, 200, 200)
    assert json.loads(body)["status"] == "ok"
    assert spoofed.startswith(b"X-Backscatter-Verdict: spoofed\r\n")
    assert genuine.startswith(b"X-Backscatter-Verdict: genuine\r\n")
    assert b"\r\nConnection: close" in head


def test_a_client_that_half_closes_after_its_request_gets_the_answer(daemon):
    ((status, _, body),) = responses(exchange(daemon, post("/headers", FAKE_NDR), half_close=True))
    assert (status, body.split(b"\r\n", 1)[0]) == (200, b"X-Backscatter-Verdict: spoofed")


def test_expect_100_continue_is_answered_before_the_body_is_sent(daemon):
    """curl sends it for large bodies, and waits (1 s) for the go-ahead."""
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(60)
        connection.connect(str(daemon))
        head = post("/headers", FAKE_NDR, "Expect: 100-continue", "Connection: close")
        connection.sendall(head[: -len(FAKE_NDR)])
        assert connection.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        connection.sendall(FAKE_NDR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    ((status, _, body),) = responses(received)
    assert (status, body.split(b"\r\n", 1)[0]) == (200, b"X-Backscatter-Verdict: spoofed")


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        (b"POST /headers HTTP/1.1\r\nHost: localhost\r\n\r\n", 411),  # no length, no chunks
        (post("/nowhere", FAKE_NDR, "Connection: close"), 404),
        (b"GET /score HTTP/1.1\r\nConnection: close\r\n\r\n", 404),
        (b"DELETE /health HTTP/1.1\r\nConnection: close\r\n\r\n", 501),
        (b"POST /headers HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"\x16\x03\x01 not http\r\n\r\n", 400),
        (b"GET /" + b"x" * 70_000, 431),  # a request line that never ends
        (b"POST /headers HTTP/1.1\r\nX-Long: " + b"y" * 70_000, 431),  # nor a field
    ],
    ids=lambda value: value[:30] if isinstance(value, bytes) else str(value),
)
def test_requests_the_daemon_does_not_serve_get_a_status_and_no_score(daemon, sent, status):
    ((answered, _, _),) = responses(exchange(daemon, sent))
    assert answered == status


def test_put_is_read_as_post(daemon):
    """``curl -T -`` streams a message from a pipe with PUT and chunks."""
    sent = post("/headers", FAKE_NDR, "Connection: close").replace(b"POST", b"PUT", 1)
    ((status, _, body),) = responses(exchange(daemon, sent))
    assert (status, body.split(b"\r\n", 1)[0]) == (200, b"X-Backscatter-Verdict: spoofed")


def test_a_client_that_leaves_before_its_answer_is_one_log_line_not_a_traceback(tmp_path):
    process, sock, log = start_daemon(tmp_path, "--workers", "1")
    try:
        for _ in range(5):
            with socket.socket(socket.AF_UNIX) as connection:
                connection.connect(str(sock))
                head = b"POST /headers HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(GENUINE)
                connection.sendall(head + GENUINE)
            # gone before the answer; garbage that is no HTTP at all, too
            with socket.socket(socket.AF_UNIX) as connection:
                connection.connect(str(sock))
                connection.sendall(b"\x16\x03\x01 not http\r\n\r\n")
        assert health(sock)["status"] == "ok"
    finally:
        stop(process)
    text = log.read_text()
    assert "Traceback" not in text and "Exception occurred" not in text, text


def test_a_burst_of_connections_is_queued_not_refused(daemon):
    """Many clients connecting at once (a busy MX's pipe filters) all get in: the listen
    backlog is not socketserver's 5."""
    connections = []
    try:
        for _ in range(64):
            connection = socket.socket(socket.AF_UNIX)
            connection.setblocking(False)  # refused at once (EAGAIN) if the backlog is full
            connection.connect(str(daemon))
            connections.append(connection)
    finally:
        for connection in connections:
            connection.close()
    assert len(connections) == 64
    assert health(daemon)["status"] == "ok"


def test_a_silent_connection_is_closed_after_the_io_timeout(tmp_path, monkeypatch):
    """Stalled mid-request, or idle before one: closed, not kept for ever. The daemon's
    connection class on a real socket and loop, with the timeout shortened."""
    import asyncio
    import types

    from backscatter.filters import protocol

    monkeypatch.setattr(protocol, "IO_TIMEOUT", 0.3)
    path = tmp_path / "timeout.sock"
    service = types.SimpleNamespace(max_bytes=1 << 16)  # no message gets as far as scoring
    closed_after: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(lambda: protocol.Connection(service), str(path))
        for sent in (b"POST /headers HTTP/1.1\r\nContent-Length: 500\r\n\r\nFrom:", b""):
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(sent)
            started = loop.time()
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the daemon
            closed_after.append(loop.time() - started)
            writer.close()
        server.close()

    asyncio.run(main())
    assert len(closed_after) == 2 and all(0.2 < seconds < 2 for seconds in closed_after)
