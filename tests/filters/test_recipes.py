"""Every README recipe for ``backscatter filter``, run as written against the real program.

The recipes are the files in contrib/ (the README shows them verbatim: see
test_recipes_readme.py). They name the documented install, ``/opt/backscatter/bin/backscatter``
(``python3 -m venv /opt/backscatter && /opt/backscatter/bin/pip install .``, plus
contrib/backscatter-reinject copied beside it) and the sent-log
``/var/lib/backscatter/sent.db``. The tests substitute only those paths, with a
``backscatter`` of their own (this checkout, run by the test's Python) and a sent-log that
knows the message the genuine bounce returns; where a recipe has to be placed in a
configuration (Postfix's listener address, Exim's router, Dovecot's mail user and store),
the test says what it adds around the recipe's text, which it never edits otherwise.

Each test delivers real mail (a genuine bounce, a fake NDR and an ordinary message) and reads
the delivered files: the verdict header, the body as sent, no lock stall, nothing left queued.
A test skips, saying why, when its program is absent (CI installs them: scripts/get_mda.sh,
scripts/get_postfix.sh, scripts/get_exim.sh).
"""

from __future__ import annotations

import os
import pwd
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.filters import postfix_instance as lab

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "contrib" / "recipes"
INSTALLED = "/opt/backscatter/bin"
SENT_LOG = "/var/lib/backscatter/sent.db"

GENUINE = (DATA / "formats" / "postfix_dsn_user_unknown.eml").read_bytes()
FAKE_NDR = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes()
ORDINARY = (
    b"From: Bob Example <bob@remote.example>\n"
    b"To: alice@ours.example\n"
    b"Subject: lunch on Friday\n"
    b"Date: Mon, 2 Jun 2025 09:00:00 +0000\n"
    b"Message-ID: <lunch-0602@remote.example>\n"
    b"\n"
    b"Hello Alice,\n\nare we still on for Friday?\n\nBob\n"
)
# What the sent-log knows: the message the genuine bounce returns, and mail around it so
# that the log covers the time of the fake NDR's claim too.
SENT_CSV = (
    "message_id,sent_at,sender,recipient,subject\n"
    "<quarterly-2025-03@sender.example>,2025-03-03T09:14:58Z,alice@sender.example,"
    "nobody@receiver.example,Quarterly\n"
    "<older-2025-02@sender.example>,2025-02-01T08:00:00Z,alice@sender.example,"
    "carol@receiver.example,Older\n"
    "<later-2025-06@sender.example>,2025-06-01T08:00:00Z,alice@sender.example,"
    "carol@receiver.example,Later\n"
)
CSV = ("--format", "csv")
STALL = 30.0  # seconds; a procmail lock failure alone costs 60


@dataclass(frozen=True)
class Install:
    """The test's stand-in for /opt/backscatter: bin/ (working) and broken/ (a model that
    cannot be loaded, so the filter exits 75), and a sent-log; readable by every user, as
    the mail systems run the filter as an unprivileged one."""

    root: Path
    bin: Path
    broken: Path
    sent_log: Path

    def recipe(self, name: str, broken: bool = False) -> str:
        """The recipe file's text with the install and sent-log paths replaced, nothing else."""
        text = (RECIPES / name).read_text()
        assert INSTALLED in text, f"{name} no longer names {INSTALLED}"
        text = text.replace(INSTALLED, str(self.broken if broken else self.bin))
        return text.replace(SENT_LOG, str(self.sent_log))


def _program(path: Path, *extra: str) -> None:
    """A ``backscatter`` that runs this checkout's code with the test's interpreter."""
    path.write_text(
        "#!/bin/sh\n"
        f'PYTHONPATH={ROOT / "src"} exec {sys.executable} -m backscatter "$@" {" ".join(extra)}\n'
    )
    path.chmod(0o755)


@pytest.fixture(scope="module")
def install() -> Iterator[Install]:
    # Not pytest's tmp_path: that is private to its user, and the filters run as others.
    root = Path(tempfile.mkdtemp(prefix="backscatter-recipes-"))
    root.chmod(0o755)
    paths = Install(root, root / "bin", root / "broken", root / "sent.db")
    for directory in (paths.bin, paths.broken):
        directory.mkdir()
        broken = ("--model", "/nonexistent.skops") if directory == paths.broken else ()
        _program(directory / "backscatter", *broken)
        shutil.copy(ROOT / "contrib" / "backscatter-reinject", directory)
    csv = root / "sent.csv"
    csv.write_text(SENT_CSV)
    subprocess.run(
        [paths.bin / "backscatter", "sentlog", "import", "--db", paths.sent_log, *CSV, csv],
        check=True,
        capture_output=True,
        timeout=120,
    )
    paths.sent_log.chmod(0o644)
    yield paths
    shutil.rmtree(root, ignore_errors=True)


def _split(message: bytes) -> tuple[bytes, bytes]:
    end = message.find(b"\n\n")
    return message[: end + 1], message[end + 2 :]


def _body(message: bytes) -> bytes:
    return _split(message)[1]


def _field_values(message: bytes, name: bytes) -> list[bytes]:
    prefix = name.lower() + b":"
    return [
        line[len(prefix) :].strip()
        for line in _split(message)[0].splitlines()
        if line.lower().startswith(prefix)
    ]


def _by_message_id(messages: list[bytes]) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for message in messages:
        for value in _field_values(message, b"Message-ID"):
            found[value] = message
    return found


def _maildir(path: Path) -> list[bytes]:
    new = path / "new"
    return [p.read_bytes() for p in sorted(new.iterdir())] if new.is_dir() else []


def assert_tagged(delivered: bytes, original: bytes, verdict: str, added: bytes = b"") -> None:
    """One verdict header, the expected one, and the body exactly as sent (plus ``added``,
    what the mail system itself appends)."""
    assert _field_values(delivered, b"X-Backscatter-Verdict") == [verdict.encode()]
    status = _field_values(delivered, b"X-Backscatter-Status")
    assert len(status) == 1 and status[0].startswith(b"Yes" if verdict == "spoofed" else b"No")
    assert _body(delivered) == _body(original) + added


def assert_untagged(delivered: bytes, original: bytes, added: bytes = b"") -> None:
    assert b"X-Backscatter-" not in _split(delivered)[0]
    assert _body(delivered) == _body(original) + added


GENUINE_ID = b"<20250303091502.4XyZ1k2Lm3@mx1.sender.example>"
FAKE_ID = b"<q-0520@login-portal.example>"
ORDINARY_ID = b"<lunch-0602@remote.example>"
DIRECT_ID = b"<lunch-0602-direct@remote.example>"


# ---------------------------------------------------------------------------------- procmail

PROCMAIL = shutil.which("procmail")


def _procmail(rcfile: Path, home: Path, message: bytes) -> subprocess.CompletedProcess[bytes]:
    """``procmail -m RCFILE`` as an MTA's local delivery runs it for one user.

    HOME is given on the command line (procmail otherwise takes the invoking user's from the
    password file); the rc file is ours and not group-writable, which procmail insists on."""
    return subprocess.run(
        [PROCMAIL, "-m", f"HOME={home}", rcfile],
        input=message,
        capture_output=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "LOGNAME": "alice"},
    )


@pytest.fixture
def procmail_home(tmp_path: Path) -> Path:
    if PROCMAIL is None:
        pytest.skip("procmail is not installed (scripts/get_mda.sh: apt-get install procmail)")
    home = tmp_path / "home"
    (home / "Maildir").mkdir(parents=True)  # the user's Maildir exists; procmail chdirs to it
    return home


def test_procmail_recipe_tags_and_files_without_a_lock_stall(install, procmail_home, tmp_path):
    rcfile = tmp_path / "procmailrc"
    rcfile.write_text(install.recipe("procmailrc"))
    rcfile.chmod(0o644)
    for message in (GENUINE, FAKE_NDR, ORDINARY):
        started = time.monotonic()
        result = _procmail(rcfile, procmail_home, message)
        assert time.monotonic() - started < STALL
        assert result.returncode == 0, result.stderr
        assert b"Lock failure" not in result.stderr and b"Couldn't" not in result.stderr
    inbox = _by_message_id(_maildir(procmail_home / "Maildir"))
    spoofed = _by_message_id(_maildir(procmail_home / "Maildir" / ".spoofed-bounces"))
    assert set(inbox) == {GENUINE_ID, ORDINARY_ID}
    assert set(spoofed) == {FAKE_ID}
    # procmail ends every message that went through an "f" filter with an empty line (it
    # does so after `| cat` too): its own addition, not the filter's.
    assert_tagged(inbox[GENUINE_ID], GENUINE, "genuine", added=b"\n")
    assert_tagged(spoofed[FAKE_ID], FAKE_NDR, "spoofed", added=b"\n")
    assert inbox[ORDINARY_ID] == ORDINARY + b"\n"  # otherwise untouched
    assert not list(procmail_home.glob("**/*.lock")) and not list(procmail_home.glob("msg.*"))


def test_procmail_keeps_the_original_when_the_filter_exits_75(install, procmail_home, tmp_path):
    rcfile = tmp_path / "procmailrc"
    rcfile.write_text(install.recipe("procmailrc", broken=True))
    rcfile.chmod(0o644)
    result = _procmail(rcfile, procmail_home, FAKE_NDR)
    assert result.returncode == 0
    assert b"(75)" in result.stderr  # procmail: "Program failure (75) of ..."
    assert _maildir(procmail_home / "Maildir") == [FAKE_NDR]  # delivered, unfiltered, whole


# ------------------------------------------------------------------------------ Postfix pipe

SMTP_LISTENER = "smtp      inet  n       -       y       -       -       smtpd"


@pytest.fixture(scope="module")
def postfix_pipe(install) -> Iterator[lab.PipeFilterInstance]:
    """A private Postfix with the recipe's two master.cf entries appended, changing only the
    listener's address (a loopback port instead of port 25), its chroot column (a private
    instance has no chroot jail) and the pipe user (``nobody`` instead of a
    ``backscatter`` account the machine does not have)."""
    if reason := lab.pipe_filter_available():
        pytest.skip(reason)
    text = install.recipe("postfix-master.cf")
    assert SMTP_LISTENER in text and "user=backscatter " in text
    text = text.replace(SMTP_LISTENER, "127.0.0.1:{filter_port} inet n - n - - smtpd")
    text = text.replace("user=backscatter ", "user=nobody ")
    root = Path(tempfile.mkdtemp(prefix="backscatter-pipe-"))
    root.chmod(0o755)
    instance = lab.PipeFilterInstance(root / "postfix", "", master_cf=text)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_postfix_pipe_recipe_reinjects_tagged_mail_once(postfix_pipe):
    # The same ordinary message also straight to the unfiltered listener: how Postfix
    # delivers a body with no filter in the way (its Maildir files end in an empty line).
    direct = ORDINARY.replace(ORDINARY_ID, DIRECT_ID)
    with smtplib.SMTP("127.0.0.1", postfix_pipe.filter_port, timeout=30) as smtp:
        smtp.sendmail("", ["alice@ours.example"], GENUINE)
        smtp.sendmail("", ["sam@ours.example"], FAKE_NDR)
        smtp.sendmail("bob@remote.example", ["alice@ours.example", "carol@ours.example"], ORDINARY)
    with smtplib.SMTP("127.0.0.1", postfix_pipe.inbound_port, timeout=30) as smtp:
        smtp.sendmail("bob@remote.example", ["alice@ours.example"], direct)
    delivered = _by_message_id(postfix_pipe.wait_for(5, timeout=240))
    added = _body(delivered[DIRECT_ID])[len(_body(direct)) :]
    assert added == b"\n"
    assert_tagged(delivered[GENUINE_ID], GENUINE, "genuine", added)
    assert_tagged(delivered[FAKE_ID], FAKE_NDR, "spoofed", added)
    assert_untagged(delivered[ORDINARY_ID], ORDINARY, added)
    # Postfix logs through postlogd and removes queue files after delivery: both may lag
    # the Maildir by a moment.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log, queue = postfix_pipe.log(), postfix_pipe.queue()
        if log.count("relay=backscatter") >= 4 and "Mail queue is empty" in queue:
            break
        time.sleep(0.2)
    # Filtered once: each message went through the pipe service once, then out of pickup.
    assert log.count("relay=backscatter") == 3 + 1, log  # the ordinary one had 2 recipients
    assert log.count("status=sent (delivered via backscatter service)") == 4, log
    assert "status=bounced" not in log and "status=deferred" not in log, log
    assert "Mail queue is empty" in queue, queue
    assert len(postfix_pipe.delivered()) == 5  # nothing delivered twice


def _reinject(
    directory: Path, tmp_path: Path, arguments: list[str], sendmail_status: int = 0
) -> tuple[subprocess.CompletedProcess[bytes], list[str], bytes]:
    """contrib/backscatter-reinject as pipe(8) runs it, with a stand-in ``sendmail`` (the
    documented SENDMAIL override) that records its arguments and input: what it would have
    re-injected."""
    sendmail = tmp_path / "sendmail"
    sendmail.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {tmp_path}/args\n'
        f"cat > {tmp_path}/input\n"
        f"exit {sendmail_status}\n"
    )
    sendmail.chmod(0o755)
    result = subprocess.run(
        [directory / "backscatter-reinject", *arguments],
        input=FAKE_NDR,
        capture_output=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "SENDMAIL": str(sendmail)},
    )
    args = tmp_path / "args"
    sent = tmp_path / "input"
    return (
        result,
        args.read_text().splitlines() if args.exists() else [],
        sent.read_bytes() if sent.exists() else b"",
    )


ENVELOPE = ["-f", "", "--", "alice@ours.example", "bob smith@ours.example"]


def test_reinject_passes_filter_options_and_the_envelope_apart(install, tmp_path):
    options = ["--sent-log", str(install.sent_log), "--max-kb", "64"]
    result, args, sent = _reinject(install.bin, tmp_path, options + ENVELOPE)
    assert result.returncode == 0, result.stderr
    assert args == ["-G", "-i", *ENVELOPE]
    assert_tagged(sent, FAKE_NDR, "spoofed")


def test_reinject_passes_the_message_untouched_when_the_filter_fails(install, tmp_path):
    result, args, sent = _reinject(install.broken, tmp_path, ENVELOPE)
    assert result.returncode == 0
    assert b"passed on untagged" in result.stderr
    assert args == ["-G", "-i", *ENVELOPE]
    assert sent == FAKE_NDR


def test_reinject_asks_postfix_to_retry_when_it_cannot_reinject(install, tmp_path):
    result, _, _ = _reinject(install.bin, tmp_path, ENVELOPE, sendmail_status=75)
    assert result.returncode == 75  # sendmail's own status: Postfix keeps the message
    (tmp_path / "usage").mkdir()
    result, args, _ = _reinject(install.bin, tmp_path / "usage", ["--sent-log", "x"])  # no -f
    assert result.returncode == 75 and b"usage" in result.stderr and args == []


# ---------------------------------------------------------------------------------------- Exim

EXIM_ROOT = ROOT / ".cache" / "exim"
EXIM_BINARY = EXIM_ROOT / "usr" / "sbin" / "exim4"

EXIM_HEAD = """\
exim_path = {exim}
primary_hostname = mx.ours.example
qualify_domain = ours.example
domainlist local_domains = ours.example
spool_directory = {root}/spool
log_file_path = {root}/log/%slog
keep_environment =

begin routers

local_user:
  driver = accept
  domains = +local_domains
  user = nobody
  transport_home_directory = {root}/home
  transport = maildir_home

begin transports

"""


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@dataclass
class Exim:
    root: Path
    command: Path
    config: Path

    def run(self, *arguments: str, message: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [self.command, "-C", self.config, *arguments],
            input=message,
            capture_output=True,
            timeout=300,
        )

    def maildir(self) -> list[bytes]:
        return _maildir(self.root / "home" / "Maildir")

    def log(self) -> str:
        path = self.root / "log" / "mainlog"
        return path.read_text(errors="replace") if path.exists() else ""


def _exim(install: Install, broken: bool = False) -> Exim:
    """The unpacked Exim with the recipe's transport, delivering as ``nobody`` into a Maildir.

    Around the recipe: a spool and log of our own, and a router that sends ours.example to
    the recipe's transport with ``$home`` set. ``exim_path`` is a wrapper adding the unpacked
    libraries' directory (Debian's libidn12 is not installed here)."""
    if not EXIM_BINARY.exists():
        pytest.skip("Exim is not unpacked: run scripts/get_exim.sh (CI does)")
    if os.geteuid() != 0:
        pytest.skip("Exim delivers as another user only when started by root")
    if not _user_exists("Debian-exim"):
        pytest.skip("Exim's compiled-in user Debian-exim is missing (scripts/get_exim.sh)")
    root = Path(tempfile.mkdtemp(prefix="backscatter-exim-"))
    root.chmod(0o755)
    for sub in ("spool", "log"):  # written by Exim's own user, as /var/spool/exim4 is
        (root / sub).mkdir()
        shutil.chown(root / sub, "Debian-exim")
    (root / "home" / "Maildir").mkdir(parents=True)
    shutil.chown(root / "home", "nobody")
    shutil.chown(root / "home" / "Maildir", "nobody")
    command = root / "exim"
    libraries = EXIM_ROOT / "usr" / "lib" / "x86_64-linux-gnu"
    command.write_text(f'#!/bin/sh\nLD_LIBRARY_PATH={libraries} exec {EXIM_BINARY} "$@"\n')
    command.chmod(0o755)
    config = root / "exim.conf"
    head = EXIM_HEAD.format(exim=command, root=root)
    config.write_text(head + install.recipe("exim-transport.conf", broken=broken))
    return Exim(root, command, config)


@pytest.fixture
def exim(install) -> Iterator[Exim]:
    instance = _exim(install)
    yield instance
    shutil.rmtree(instance.root, ignore_errors=True)


def _exim_deliver(exim: Exim, messages: list[tuple[str, bytes]]) -> None:
    """Receive each message into the queue (``-odq``), then one queue run (``-qff``).

    Not ``-odi``: after receiving, Exim re-executes its set-uid binary from a process whose
    real uid is Debian-exim, so the dynamic loader runs it in secure mode and ignores
    LD_LIBRARY_PATH, and the unpacked binary cannot find libidn12 ("re-exec of exim ...
    failed", delivery left to a queue run). A queue run started by root forks its deliveries
    without re-executing. An installed Exim has no such problem."""
    for sender, message in messages:
        result = exim.run("-odq", "-f", sender, "alice@ours.example", message=message)
        assert result.returncode == 0, result.stderr
    result = exim.run("-qff")
    assert result.returncode == 0, result.stderr


def test_exim_routes_to_the_recipes_transport(exim):
    result = exim.run("-bt", "alice@ours.example")
    assert result.returncode == 0, result.stderr
    assert b"transport = maildir_home" in result.stdout


def test_exim_transport_filter_recipe_tags_delivered_mail(exim):
    started = time.monotonic()
    _exim_deliver(exim, [("", GENUINE), ("", FAKE_NDR), ("bob@remote.example", ORDINARY)])
    assert time.monotonic() - started < 3 * STALL
    delivered = _by_message_id(exim.maildir())
    assert set(delivered) == {GENUINE_ID, FAKE_ID, ORDINARY_ID}
    assert_tagged(delivered[GENUINE_ID], GENUINE, "genuine")
    assert_tagged(delivered[FAKE_ID], FAKE_NDR, "spoofed")
    assert_untagged(delivered[ORDINARY_ID], ORDINARY)
    assert exim.log().count(" => alice <alice@ours.example> R=local_user T=maildir_home") == 3
    assert exim.run("-bpc").stdout.strip() == b"0"  # nothing left in the queue


def test_exim_defers_when_the_filter_exits_75(install):
    exim = _exim(install, broken=True)
    try:
        _exim_deliver(exim, [("", FAKE_NDR)])
        assert exim.maildir() == []
        # Deferred: Exim keeps the message and retries.
        assert "transport filter process failed (75)" in exim.log(), exim.log()
        assert " == alice@ours.example" in exim.log()
        assert exim.run("-bpc").stdout.strip() == b"1"
    finally:
        shutil.rmtree(exim.root, ignore_errors=True)


# --------------------------------------------------------------------------------------- Sieve

SIEVE_TEST = shutil.which("sieve-test")
SIEVEC = shutil.which("sievec") or "sievec"
SIEVE_BIN_DIR = "/etc/dovecot/sieve-filter"
SIEVE_BEFORE = "/etc/dovecot/sieve/backscatter.sieve"
SIEVE_TEST_CONF = """\
# Added for sieve-test: the mail user and store (a real Dovecot has these already).
mail_uid = nobody
mail_gid = nogroup
mail_location = maildir:{mail}
"""


@pytest.fixture
def sieve(install) -> Iterator[Path]:
    """A directory laid out as the recipe's Dovecot expects: the filter program in its
    sieve_filter_bin_dir, the global script, and a config made of the recipe's
    90-backscatter.conf (those two paths replaced by ours) plus the mail user and store."""
    if SIEVE_TEST is None:
        pytest.skip("sieve-test is missing (scripts/get_mda.sh: dovecot-core, dovecot-sieve)")
    if not Path("/usr/lib/dovecot/modules/sieve/lib90_sieve_extprograms_plugin.so").exists():
        pytest.skip("Pigeonhole's sieve_extprograms plugin is missing (dovecot-sieve)")
    if os.geteuid() != 0:
        pytest.skip("sieve-test delivers as the mail user (nobody) only when started by root")
    root = Path(tempfile.mkdtemp(prefix="backscatter-sieve-"))
    root.chmod(0o755)
    (root / "sieve-filter").mkdir()
    program = root / "sieve-filter" / "backscatter"
    program.write_text(install.recipe("sieve/backscatter"))
    program.chmod(0o755)  # Pigeonhole refuses a program others may write
    shutil.copy(RECIPES / "sieve" / "backscatter.sieve", root / "backscatter.sieve")
    (root / "mail").mkdir()
    shutil.chown(root / "mail", "nobody")
    conf = (RECIPES / "sieve" / "90-backscatter.conf").read_text()
    assert SIEVE_BIN_DIR in conf and SIEVE_BEFORE in conf
    conf = conf.replace(SIEVE_BIN_DIR, str(root / "sieve-filter"))
    conf = conf.replace(SIEVE_BEFORE, str(root / "backscatter.sieve"))
    (root / "dovecot.conf").write_text(conf + SIEVE_TEST_CONF.format(mail=root / "mail"))
    # As the README says for a global script: compile it once as root (the mail user may
    # not write beside it).
    subprocess.run(
        [SIEVEC, "-c", root / "dovecot.conf", root / "backscatter.sieve"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _sieve_test(root: Path, message: bytes) -> subprocess.CompletedProcess[str]:
    """``sieve-test -e``: run the script on the message and really execute its actions
    (fileinto, implicit keep) into the Maildir of the config."""
    source = root / "message.eml"
    source.write_bytes(message)
    source.chmod(0o644)
    return subprocess.run(
        [SIEVE_TEST, "-c", root / "dovecot.conf", "-e", root / "backscatter.sieve", source],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sieve_extprograms_recipe_files_spoofed_bounces_in_junk(sieve):
    for message in (GENUINE, FAKE_NDR, ORDINARY):
        started = time.monotonic()
        result = _sieve_test(sieve, message)
        assert time.monotonic() - started < 60  # the recipe's sieve_filter_exec_timeout
        assert result.returncode == 0, result.stderr
        assert "final result: success" in result.stderr, result.stderr
        assert "Error" not in result.stderr, result.stderr
    inbox = _by_message_id(_maildir(sieve / "mail"))
    junk = _by_message_id(_maildir(sieve / "mail" / ".Junk"))
    assert set(inbox) == {GENUINE_ID, ORDINARY_ID}
    assert set(junk) == {FAKE_ID}
    assert_tagged(inbox[GENUINE_ID], GENUINE, "genuine")
    assert_tagged(junk[FAKE_ID], FAKE_NDR, "spoofed")
    assert_untagged(inbox[ORDINARY_ID], ORDINARY)


def test_sieve_keeps_the_message_when_the_filter_exits_75(sieve, install):
    program = sieve / "sieve-filter" / "backscatter"
    program.write_text(install.recipe("sieve/backscatter", broken=True))
    result = _sieve_test(sieve, FAKE_NDR)
    assert result.returncode == 0, result.stderr
    assert "non-zero exit code 75" in result.stderr, result.stderr
    assert "stored mail into mailbox 'INBOX'" in result.stderr  # no Junk: not tagged
    kept = _maildir(sieve / "mail")
    assert len(kept) == 1
    assert_untagged(kept[0], FAKE_NDR)
