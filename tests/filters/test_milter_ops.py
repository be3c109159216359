"""The milter in daily operation: the socket the MTA can reach (or a refusal that says why),
start and stop lines, a clean SIGTERM, and header floods, with a real milter process and,
where Postfix is involved, the private Postfix instance on loopback."""

from __future__ import annotations

import email
import grp
import os
import pwd
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from backscatter.filters import socketcheck
from tests.conftest import DATA
from tests.filters import postfix_instance as lab

pytest.importorskip("Milter", reason="pymilter is not installed (needs libmilter-dev)")

FAKE_NDR = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes()
NOBODY = "nobody"
needs_root_and_postfix_user = pytest.mark.skipif(
    os.geteuid() != 0 or socketcheck.default_mta_user() is None,
    reason="needs root and a 'postfix' user (the socket's default group and MTA user)",
)


def spawn(sock: str, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "backscatter", "milter", "--socket", sock, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_listening(process: subprocess.Popen[str], sock: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        if sock.exists():
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(sock))
                    return
                except OSError:
                    pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the milter did not start listening")


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    return process.returncode, output


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user may search (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="backscatter-ops-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@needs_root_and_postfix_user
def test_started_as_root_the_socket_is_postfix_group_0660_and_sigterm_stops_cleanly(
    open_dir: Path,
) -> None:
    sock = open_dir / "milter.sock"
    process = spawn(f"unix:{sock}")
    wait_listening(process, sock)
    info = sock.stat()
    assert grp.getgrgid(info.st_gid).gr_name == "postfix"
    assert stat.S_IMODE(info.st_mode) == 0o660
    code, output = stop(process)
    assert code == 0, output
    assert "milter started" in output
    assert "root:postfix 0660, postfix can connect" in output
    assert "policy: genuine=tag spoofed=tag" in output
    assert "stopped: messages=0 tagged=0 rejected=0 unscored=0 errors=0 uptime=" in output
    assert not sock.exists()


@needs_root_and_postfix_user
def test_refuses_to_start_when_the_mta_user_cannot_search_the_socket_directory(
    open_dir: Path,
) -> None:
    private = open_dir / "private"
    private.mkdir(mode=0o700)
    sock = private / "milter.sock"
    process = spawn(f"unix:{sock}")
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    last = output.strip().splitlines()[-1]
    assert last.startswith("backscatter: the MTA user postfix cannot reach"), output
    assert f"{private} is root:root 0700 (no search permission for postfix)" in last
    assert last.endswith("; or start with --no-socket-check")
    assert "Traceback" not in output
    assert not sock.exists()


@needs_root_and_postfix_user
def test_refuses_a_socket_mode_the_mta_user_cannot_write_and_says_what_to_use(
    open_dir: Path,
) -> None:
    sock = open_dir / "milter.sock"
    process = spawn(f"unix:{sock}", "--socket-mode", "600")
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "is root:postfix 0600" in output
    assert "use --socket-group postfix --socket-mode 660" in output
    assert not sock.exists()


@needs_root_and_postfix_user
def test_no_socket_check_starts_anyway_with_a_warning(open_dir: Path) -> None:
    sock = open_dir / "milter.sock"
    process = spawn(f"unix:{sock}", "--socket-mode", "600", "--no-socket-check")
    wait_listening(process, sock)
    code, output = stop(process)
    assert code == 0
    assert "WARNING the MTA user postfix cannot connect to the milter" in output


def test_an_inet_socket_on_every_address_is_refused_without_allow_remote() -> None:
    process = spawn("inet:0.0.0.0:1")
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "refusing to listen on 0.0.0.0" in output
    assert "--allow-remote" in output


def test_the_check_reads_owner_then_group_then_other_bits(open_dir: Path) -> None:
    """The kernel's rule, for an unprivileged user (nobody) whatever runs the test."""
    entry = pwd.getpwnam(NOBODY)
    nobody = socketcheck.Account(NOBODY, entry.pw_uid, entry.pw_gid, frozenset({entry.pw_gid}))
    target = open_dir / "file"
    target.touch()
    target.chmod(0o666)
    assert socketcheck.unreachable(target, nobody) is None
    target.chmod(0o660)
    assert "cannot connect" in (socketcheck.unreachable(target, nobody) or "")
    if os.geteuid() == 0:
        os.chown(target, -1, entry.pw_gid)  # group nobody's: the group bits now apply
        assert socketcheck.unreachable(target, nobody) is None
        os.chown(target, entry.pw_uid, -1)  # owned by nobody: only the owner bits count
        target.chmod(0o066)
        assert "cannot connect" in (socketcheck.unreachable(target, nobody) or "")
    target.chmod(0o666)
    open_dir.chmod(0o754)  # others may list, not search
    assert "no search permission" in (socketcheck.unreachable(target, nobody) or "")
    open_dir.chmod(0o755)


def test_remote_addresses_are_told_from_loopback() -> None:
    assert socketcheck.remote_address("unix:/run/x.sock") is None
    assert socketcheck.remote_address("inet:8890@127.0.0.1") is None
    assert socketcheck.remote_address("inet6:8890@::1") is None
    assert socketcheck.remote_address("inet:8890@localhost") is None
    assert socketcheck.remote_address("inet:8890@192.0.2.7") == "192.0.2.7"
    assert socketcheck.remote_address("inet:8890") == "every address"
    assert socketcheck.remote_address("inet:8890@mx.example.net") == "mx.example.net"


# -- with a real Postfix ------------------------------------------------------------------


class Site:
    """Postfix with the milter started as the README says: as root with default options,
    the socket in a root:postfix 0750 directory under the queue directory, named relative
    to it in main.cf (what a chrooted smtpd needs)."""

    def __init__(self, root: Path) -> None:
        directory = root / "postfix" / "queue" / "backscatter"
        directory.mkdir(parents=True)
        shutil.chown(directory, "root", "postfix")
        directory.chmod(0o750)
        self.sock = directory / "milter.sock"
        self.postfix = lab.PostfixInstance(root / "postfix", "unix:backscatter/milter.sock")
        self.process = spawn(f"unix:{self.sock}")
        wait_listening(self.process, self.sock)
        self.postfix.start()

    def deliver(self, data: bytes, sender: str) -> tuple[Message, float]:
        before = len(self.postfix.delivered())
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", self.postfix.inbound_port, timeout=120) as smtp:
            smtp.sendmail(sender, ["alice@ours.example"], data)
        took = time.perf_counter() - started
        raw = self.postfix.wait_for(before + 1, timeout=60)[before]
        return email.message_from_bytes(raw), took


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    if lab.available() is not None:
        pytest.skip(str(lab.available()))
    if socketcheck.default_mta_user() is None:
        pytest.skip("no 'postfix' user")
    root = Path(tempfile.mkdtemp(prefix="backscatter-ops-mx-"))
    root.chmod(0o755)
    setup = Site(root)
    yield setup
    setup.postfix.stop()
    if setup.process.poll() is None:
        setup.process.kill()
        setup.process.communicate()
    shutil.rmtree(root, ignore_errors=True)


def flood(fields: int, forged_at: int) -> bytes:
    """An ordinary message with ``fields`` extra header fields and a forged verdict of ours
    among them, past the cap."""
    head = [b"X-Filler-%d: value %d\r\n" % (i, i) for i in range(fields)]
    head.insert(forged_at, b"X-Backscatter-Verdict: genuine\r\n")
    return (
        b"From: Bob <bob@elsewhere.example>\r\nTo: alice@ours.example\r\nSubject: many\r\n"
        + b"".join(head)
        + b"\r\nHello.\r\n"
    )


def test_through_postfix_a_root_started_milter_tags_and_strips_forgeries(site: Site) -> None:
    forged = b"X-Backscatter-Verdict: genuine\r\n" + FAKE_NDR
    delivered, _ = site.deliver(forged, "support@login-portal.example")
    assert delivered.get_all("X-Backscatter-Verdict") == ["spoofed"]
    assert "Permission denied" not in site.postfix.log()


def test_a_header_flood_is_tagged_unscored_and_forgeries_past_the_cap_go(
    site: Site,
) -> None:
    delivered, _ = site.deliver(flood(20_000, 15_000), "bob@elsewhere.example")
    assert delivered.get_all("X-Backscatter-Verdict") == ["unscored"]
    assert "unscored=headers" in delivered["X-Backscatter-Status"]
    assert len(delivered.get_all("X-Filler-19999") or []) == 1  # the mail itself is whole


def test_the_stop_line_counts_what_was_done(site: Site) -> None:
    code, output = stop(site.process)
    assert code == 0
    assert "WARNING queue_id=" in output and "(not scored)" in output
    assert "stopped: messages=2 tagged=2 rejected=0 unscored=1 errors=0" in output
    assert not site.sock.exists()
