"""A private Postfix instance on loopback for the milter tests and benchmark.

``postfix -c DIR start`` with its own config, queue and Maildir; the system's /etc/postfix
is never touched (it is only where Postfix reads its own file list, ``meta_directory``).
Three SMTP listeners:

- ``inbound``: our MX, mail for ours.example goes into one Maildir (every recipient);
- ``submission``: our users sending out (``milter_macro_daemon_name=ORIGINATING``);
- ``remote``: a stand-in for the Internet, relayhost for every other domain, which refuses
  unknown users with 550 so that Postfix writes a real bounce back to the sender.

Postfix's own bounces go through the milter too (``internal_mail_filter_classes = bounce``),
as a remote MTA's bounce would on arrival at our MX.
"""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
OURS = "ours.example"
REMOTE_UNKNOWN = "nobody@remote.example"


def available() -> str | None:
    """Why a private Postfix cannot run here, or None when it can."""
    if not Path(POSTFIX).exists():
        return "Postfix is not installed (apt-get install postfix)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root (postfix -c DIR start)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{ours}
mydomain = {ours}
myorigin = {ours}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = {ours}
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
alias_maps =
alias_database =
relayhost = [127.0.0.1]:{remote_port}
smtp_dns_support_level = disabled
smtp_host_lookup = native
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
biff = no
delay_warning_time = 0
smtpd_milters = {milter}
non_smtpd_milters = {milter}
internal_mail_filter_classes = bounce
milter_protocol = 6
milter_default_action = {default_action}
milter_connect_macros = j {{daemon_name}} {{daemon_addr}} v _
milter_mail_macros = i {{auth_type}} {{auth_authen}} {{auth_author}} {{mail_addr}}
smtpd_peername_lookup = no
in_flow_delay = 0
"""

MASTER_CF = """\
127.0.0.1:{inbound_port} inet n - n - - smtpd
127.0.0.1:{submission_port} inet n - n - - smtpd -o milter_macro_daemon_name=ORIGINATING
127.0.0.1:{remote_port} inet n - n - - smtpd -o smtpd_milters=
  -o smtpd_recipient_restrictions=check_recipient_access,texthash:{root}/remote_users,reject
  -o smtpd_relay_restrictions=permit_mynetworks
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


@dataclass
class PostfixInstance:
    root: Path
    milter: str  # e.g. unix:/path/milter.sock, or "" for none
    default_action: str = "accept"

    def __post_init__(self) -> None:
        self.inbound_port = free_port()
        self.submission_port = free_port()
        self.remote_port = free_port()
        self.config = self.root / "etc"
        self.maildir = self.root / "mail" / "inbox"

    def start(self) -> None:
        for sub in ("etc", "queue", "data", "mail"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root / "data", "postfix")
        (self.root / "mail").chmod(0o777)
        values = {
            "root": self.root,
            "ours": OURS,
            "milter": self.milter,
            "default_action": self.default_action,
            "inbound_port": self.inbound_port,
            "submission_port": self.submission_port,
            "remote_port": self.remote_port,
        }
        (self.config / "main.cf").write_text(MAIN_CF.format(**values))
        (self.config / "master.cf").write_text(MASTER_CF.format(**values))
        (self.root / "remote_users").write_text(
            f"{REMOTE_UNKNOWN} 550 5.1.1 <{REMOTE_UNKNOWN}>: Recipient address rejected: "
            "User unknown\n"
        )
        self._postfix("start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", self.inbound_port, timeout=5) as probe:
                    probe.noop()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Postfix did not come up:\n{self.log()}")

    def stop(self) -> None:
        self._postfix("stop", check=False)

    def _postfix(self, command: str, check: bool = True) -> None:
        result = subprocess.run(
            [POSTFIX, "-c", str(self.config), command], capture_output=True, text=True
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"postfix {command} failed ({result.returncode}); its log:\n{self.log()[-3000:]}"
            )

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def delivered(self) -> list[bytes]:
        """Every message in the Maildir so far, oldest first."""
        new = self.maildir / "new"
        if not new.is_dir():
            return []
        return [p.read_bytes() for p in sorted(new.iterdir(), key=lambda p: p.stat().st_mtime)]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[bytes]:
        """Block until the Maildir holds at least ``count`` messages (Postfix is asynchronous)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.delivered()
            if len(messages) >= count:
                return messages
            time.sleep(0.05)
        raise AssertionError(f"expected {count} delivered messages:\n{self.log()[-3000:]}")

    def flush(self) -> None:
        self._postfix("flush", check=False)


def start_milter(sock: Path, *options: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``backscatter milter`` as a real process on a unix socket; returns once it answers.

    A socket file left by a killed milter stays in place: the milter must cope with it."""
    output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (kept by the child)
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "backscatter", "milter", "--socket", f"unix:{sock}"),
            *("--socket-mode", "666", *options),
        ],
        stdout=output,
        stderr=output,
    )
    started = time.monotonic()
    deadline = started + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the milter exited with {process.returncode}")
        if sock.exists() and time.monotonic() - started > 0.2:
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(sock))
                    return process
                except OSError:
                    pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the milter did not start listening")


def stop_milter(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"


def pipe_filter_available() -> str | None:
    """Why :class:`PipeFilterInstance` cannot run here, or None when it can."""
    if reason := available():
        return reason
    if not Path(UNSHARE).exists():
        return "unshare (util-linux) is missing: the instance needs its own mount namespace"
    probe = subprocess.run(
        [UNSHARE, "--mount", "--propagation", "private", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"cannot make a mount namespace here ({probe.stderr.strip()})"
    return None


@dataclass
class PipeFilterInstance(PostfixInstance):
    """A private Postfix whose ``filter`` listener hands mail to a pipe(8) content filter.

    ``master_cf`` is appended to master.cf as given (the recipe's service definitions);
    ``{filter_port}`` in it names the extra SMTP listener. The filter re-injects through
    ``sendmail``, that is through Postfix's set-gid ``postdrop``, which ignores
    ``MAIL_CONFIG`` and ``-c`` for a configuration directory that the *default* main.cf does
    not list in ``alternate_config_directories`` (postdrop: "fatal: open file
    /etc/postfix/main.cf"). So that the system's /etc/postfix stays untouched, the instance
    starts in a mount namespace of its own (``unshare --mount``) where a copy of /etc/postfix
    that lists our directory is mounted over it; every Postfix process, and so every
    ``sendmail``/``postdrop`` the filter runs, inherits that view.
    """

    master_cf: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.filter_port = free_port()

    def _postfix(self, command: str, check: bool = True) -> None:
        if command != "start":
            super()._postfix(command, check)
            return
        with (self.config / "master.cf").open("a") as master:
            master.write(self.master_cf.replace("{filter_port}", str(self.filter_port)))
        overlay = self.root / "etc-postfix"
        shutil.copytree("/etc/postfix", overlay, symlinks=True, dirs_exist_ok=True)
        (overlay / "main.cf").write_text(f"alternate_config_directories = {self.config}\n")
        script = 'mount --bind "$1" /etc/postfix && exec "$2" -c "$3" start'
        namespace = (UNSHARE, "--mount", "--propagation", "private")
        result = subprocess.run(
            [*namespace, "sh", "-c", script, "sh", str(overlay), POSTFIX, str(self.config)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"postfix start failed ({result.returncode}): {result.stderr}\n{self.log()[-3000:]}"
            )

    def queue(self) -> str:
        """``postqueue -p`` for this instance: "Mail queue is empty" when nothing waits."""
        result = subprocess.run(
            ["postqueue", "-c", str(self.config), "-p"], capture_output=True, text=True
        )
        return result.stdout + result.stderr
