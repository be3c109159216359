"""Both sent-log stores for the sent-log tests: the SQLite file and a real PostgreSQL.

PostgreSQL is a throwaway cluster made once per session: ``initdb`` in a temp dir as an
unprivileged user (``nobody`` when the tests run as root, as in CI), started with
``pg_ctl`` listening on a unix socket in that dir only, stopped at the end. Each test gets
its own schema (``search_path`` in the DSN), so tests never see each other's rows. Without
the server binaries or psycopg the PostgreSQL cases skip, saying why.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from backscatter.sentlog import SentLogStore, open_sent_log

USER = "backscatter"
DATABASE = "sentlog"


@dataclass
class Cluster:
    """A running throwaway PostgreSQL: where its socket is, and how to stop and start it."""

    bin: Path
    folder: Path
    owner: str | None
    #: fsync and synchronous commit off: tests need no durability (a benchmark may).
    fast: bool = True

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def dsn(self, schema: str | None = None, database: str = DATABASE) -> str:
        dsn = f"postgresql:///{database}?host={quote(str(self.folder))}&user={USER}"
        return f"{dsn}&options={quote(f'-csearch_path={schema}')}" if schema else dsn

    def command(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.owner, "--", *args] if self.owner else list(args)

    def ctl(self, *args: str) -> None:
        log = str(self.folder / "server.log")
        subprocess.run(
            self.command(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-w", *args),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        settings = f"-k {self.folder} -c listen_addresses='' -c max_connections=60"
        if self.fast:
            settings += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self.ctl("-o", settings, "start")

    def stop(self) -> None:
        self.ctl("-m", "fast", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs, and remove every file of the cluster."""
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version(path: str) -> float:
    try:
        return float(Path(path).parts[4])
    except (IndexError, ValueError):
        return 0.0


def make_cluster(fast: bool = True) -> Cluster | str:
    """Initialise and start a throwaway cluster (with the database ``sentlog``), or say why
    not. Also used by scripts/bench_sentlog_pg.py ``--throwaway``."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'backscatter[postgres]')"
    server = _server_bin()
    if server is None:
        return "PostgreSQL server binaries (initdb) not found: bash scripts/get_postgres.sh"
    owner = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if shutil.which("runuser") is None:
            return "running as root without runuser: cannot start PostgreSQL unprivileged"
        owner = "nobody"
    folder = Path(tempfile.mkdtemp(prefix="backscatter-pg-"))
    if owner:
        shutil.chown(folder, user=owner)
    cluster = Cluster(server, folder, owner, fast)
    try:
        subprocess.run(
            cluster.command(
                str(server / "initdb"), "-D", str(cluster.data), "-U", USER, "-A", "trust",
                "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )  # fmt: skip
        cluster.start()
        with psycopg.connect(cluster.dsn(database="postgres"), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
    except BaseException:
        cluster.destroy()
        raise
    return cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster for the whole session, or a skip with the reason."""
    cluster = make_cluster()
    if isinstance(cluster, str):
        pytest.skip(cluster)
    try:
        yield cluster
    finally:
        cluster.destroy()


_schemas = iter(range(1, 1_000_000))


@pytest.fixture
def pg_dsn(pg_cluster: Cluster) -> Iterator[str]:
    """A DSN to an empty schema of its own in the session's cluster, dropped afterwards."""
    import psycopg

    schema = f"t{next(_schemas)}"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    yield pg_cluster.dsn(schema)
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def sent_log_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives, for each kind: a file path or a DSN."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_dsn"))
    return str(tmp_path / "sent.db")


@pytest.fixture
def store(sent_log_spec: str) -> Iterator[SentLogStore]:
    """An empty store of each kind, open for writing, closed after the test (this overrides
    the SQLite-only ``store`` of tests/conftest.py for the sent-log tests)."""
    with open_sent_log(sent_log_spec, readonly=False) as opened:
        yield opened
