"""Protocol-level cases with Debian's miltertest: exact milter replies and modifications."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backscatter import SentLog
from tests.conftest import DATA
from tests.filters import postfix_instance as lab

MILTERTEST = shutil.which("miltertest")
pytestmark = pytest.mark.skipif(MILTERTEST is None, reason="miltertest is not installed")
pytest.importorskip("Milter", reason="pymilter is not installed (needs libmilter-dev)")

FAKE_NDR = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_text()


def message_steps(daemon: str, sender: str, message: str, extra_headers: str = "") -> str:
    """Lua for one message: connect, envelope, headers, body, end of message."""
    head, body = message.split("\n\n", 1)
    fields = []
    for line in (extra_headers + head).splitlines():
        if line[:1] in (" ", "\t"):
            fields[-1][1] += "\r\n" + line
        else:
            name, _, value = line.partition(":")
            fields.append([name, value.strip()])
    headers = "\n".join(
        f"assert(mt.header(conn, [==[{n}]==], [==[{v}]==]) == nil)" for n, v in fields
    )
    return f"""
conn = mt.connect(SOCKET, 20, 0.25)
assert(conn, "cannot connect")
mt.macro(conn, SMFIC_CONNECT, "{{daemon_name}}", "{daemon}", "j", "mx.ours.example")
assert(mt.conninfo(conn, "mta.elsewhere.example", "192.0.2.9") == nil)
mt.macro(conn, SMFIC_MAIL, "i", "4ABCDEF")
assert(mt.mailfrom(conn, "<{sender}>") == nil)
assert(mt.rcptto(conn, "<alice@ours.example>") == nil)
{headers}
assert(mt.eoh(conn) == nil)
assert(mt.bodystring(conn, [==[{body.replace(chr(10), chr(13) + chr(10))}]==]) == nil)
assert(mt.eom(conn) == nil)
"""


@pytest.fixture
def milter_socket() -> Iterator[tuple[Path, list[str]]]:
    root = Path(tempfile.mkdtemp(prefix="backscatter-mt-"))
    SentLog(root / "sent.db").close()
    processes = []

    def start(*options: str) -> Path:
        sock = root / f"m{len(processes)}.sock"
        # The MTA here is miltertest, run as root (the socket's directory is root's own).
        options = ("--mta-user", "root", "--sent-log", str(root / "sent.db"), *options)
        processes.append(lab.start_milter(sock, *options))
        return sock

    yield root, start  # type: ignore[misc]
    for process in processes:
        lab.stop_milter(process)
    shutil.rmtree(root, ignore_errors=True)


def miltertest(sock: Path, steps: str) -> subprocess.CompletedProcess[str]:
    script = sock.with_suffix(".lua")
    script.write_text(f'SOCKET = "unix:{sock}"\n{steps}\nmt.disconnect(conn)\n')
    return subprocess.run(
        [str(MILTERTEST), "-v", "-s", str(script)], capture_output=True, text=True, timeout=120
    )


def test_a_forged_verdict_is_deleted_and_ours_added(milter_socket):
    _, start = milter_socket
    steps = message_steps(
        "mx", "support@login-portal.example", FAKE_NDR, "X-Backscatter-Verdict: genuine\n"
    )
    steps += """
assert(mt.getreply(conn) == SMFIR_CONTINUE or mt.getreply(conn) == SMFIR_ACCEPT)
assert(mt.eom_check(conn, MT_HDRDELETE, "X-Backscatter-Verdict"), "forged header kept")
assert(mt.eom_check(conn, MT_HDRADD, "X-Backscatter-Verdict", "spoofed"), "no verdict")
assert(mt.eom_check(conn, MT_HDRADD, "X-Backscatter-Status"), "no status")
"""
    result = miltertest(start(), steps)
    assert result.returncode == 0, result.stdout + result.stderr


def test_reject_is_a_reply_code_and_nothing_else(milter_socket):
    # The code itself (550 5.7.1) is checked through Postfix in test_postfix_milter: this
    # miltertest's MT_SMTPREPLY check does not see replies sent as the final answer.
    _, start = milter_socket
    steps = message_steps("mx", "support@login-portal.example", FAKE_NDR)
    steps += """
assert(mt.getreply(conn) == SMFIR_REPLYCODE, "not a reply code")
assert(not mt.eom_check(conn, MT_HDRADD), "headers added to a rejected message")
"""
    result = miltertest(start("--spoofed-action", "reject"), steps)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mail_on_the_submission_listener_is_recorded_not_scored(milter_socket):
    root, start = milter_socket
    outgoing = "From: alice@ours.example\nMessage-ID: <mt-1@ours.example>\n\nHello\n"
    steps = message_steps("ORIGINATING", "alice@ours.example", outgoing)
    steps += """
assert(mt.getreply(conn) == SMFIR_ACCEPT or mt.getreply(conn) == SMFIR_CONTINUE)
assert(not mt.eom_check(conn, MT_HDRADD), "outbound mail was tagged")
"""
    result = miltertest(start(), steps)
    assert result.returncode == 0, result.stdout + result.stderr
    with SentLog(root / "sent.db") as log:
        rows = log.by_message_id("mt-1@ours.example")
    assert [(r.sender, r.recipient) for r in rows] == [("alice@ours.example", "alice@ours.example")]


def test_the_milter_listens_on_loopback_tcp_as_the_issue_writes_it(tmp_path):
    port = lab.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "backscatter", "milter", "--socket", f"inet:127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        steps = message_steps("mx", "support@login-portal.example", FAKE_NDR).replace(
            "mt.connect(SOCKET, 20, 0.25)", "mt.connect(SOCKET, 240, 0.25)"
        )
        steps += """
assert(mt.eom_check(conn, MT_HDRADD, "X-Backscatter-Verdict", "spoofed"), "no verdict")
"""
        script = tmp_path / "inet.lua"
        script.write_text(f'SOCKET = "inet:{port}@127.0.0.1"\n{steps}\nmt.disconnect(conn)\n')
        result = subprocess.run(
            [str(MILTERTEST), "-s", str(script)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        lab.stop_milter(process)
