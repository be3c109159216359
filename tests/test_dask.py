"""``--engine dask``: the same output as the single-process run, from real worker processes.

One ``LocalCluster(processes=True, n_workers=2, threads_per_worker=1)`` serves the module
(given to the commands as ``--scheduler``); one test starts its own local cluster through
the command (no ``--scheduler``). The inputs are built from the fixtures: an mbox cut into
many byte ranges by a small ``--chunk-mb``, a Maildir with files that cannot be read, and a
mix of both with a single file and a missing path.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import shutil
import stat
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.test_cli import run

distributed = pytest.importorskip(
    "dask.distributed", reason="dask not installed: pip install 'backscatter[dask]'"
)
pytest.importorskip("pyarrow", reason="pyarrow not installed: pip install 'backscatter[dask]'")

CHUNK = "0.02"  # MB: the fixture mbox (~250 KB) becomes a dozen byte ranges
SEPARATOR = b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024"


def _mbox_entry(message: bytes, newline: bytes) -> bytes:
    """One mboxrd entry: separator line, body with ``From `` lines quoted, blank line."""
    lines = message.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
    quoted = [b">" + line if line.lstrip(b">").startswith(b"From ") else line for line in lines]
    return newline.join([SEPARATOR, *quoted]) + newline + newline


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dask-inputs")
    fixtures = sorted((DATA / "formats").glob("*.eml")) + sorted((DATA / "reader").glob("*.eml"))
    mbox = folder / "bounces.mbox"
    with mbox.open("wb") as out:
        for repeat in range(2):
            for path in fixtures:
                out.write(_mbox_entry(path.read_bytes(), b"\r\n" if repeat else b"\n"))
    maildir = folder / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for number, path in enumerate(fixtures[:40]):
        shutil.copy(path, maildir / ("new" if number % 3 else "cur") / f"{number:04d}.host:2,")
    (maildir / "tmp" / "half-delivered").write_bytes(b"Subject: never read\n\nx\n")
    (maildir / "cur" / "zz-readme.txt").write_text("not a message, no header fields\n")
    (maildir / "cur" / "zz-link").symlink_to("/etc/hostname")
    os.mkfifo(maildir / "new" / "zz-fifo")
    single = folder / "single.eml"
    shutil.copy(DATA / "formats" / "qmail_host_unknown.eml", single)
    return {"mbox": mbox, "maildir": maildir, "single": single, "folder": folder}


@pytest.fixture(scope="module")
def scheduler():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        yield cluster.scheduler_address


def _mix(inputs: dict[str, Path]) -> list[str]:
    missing = str(inputs["folder"] / "missing.mbox")
    return [str(inputs["mbox"]), str(inputs["maildir"]), str(inputs["single"]), missing]


def _both(command: str, paths: list[str], scheduler: str | None, *options: str):
    local = run(command, *options, *paths)
    where = ("--scheduler", scheduler) if scheduler else ("--jobs", "2")
    dask = run(command, *options, "--engine", "dask", *where, "--chunk-mb", CHUNK, *paths)
    return local, dask


def _lines(stderr: str) -> list[str]:
    """Standard error's lines as a multiset: read errors are reported as files are read and
    not-mail skips as records are written, so how the two interleave depends on read-ahead
    (the local run reads 256 messages ahead), not on what is reported. The summary's time
    and rate are left out."""
    return sorted(re.sub(r" in [0-9.,]+ s \([0-9.,]+ msg/s\)", "", stderr).splitlines())


def test_the_fixture_mbox_is_cut_into_many_byte_ranges(inputs):
    from backscatter.batch.splits import plan

    splits = list(plan([str(inputs["mbox"])], int(float(CHUNK) * 1024 * 1024)))
    assert len(splits) >= 8
    assert all(split.mbox for split in splits)


@pytest.mark.parametrize("which", ["mbox", "maildir"])
def test_score_is_byte_identical_to_the_local_run(inputs, scheduler, which):
    local, dask = _both("score", [str(inputs[which])], scheduler, "--format", "jsonl")
    assert local.returncode == dask.returncode
    assert local.stdout and dask.stdout == local.stdout
    assert _lines(dask.stderr) == _lines(local.stderr)  # same skipped files, same summary


def test_score_on_a_mix_with_unreadable_inputs_reports_the_same_errors(inputs, scheduler):
    local, dask = _both("score", _mix(inputs), scheduler, "--format", "jsonl")
    assert local.returncode == dask.returncode == 1
    assert dask.stdout == local.stdout
    assert _lines(dask.stderr) == _lines(local.stderr)
    assert "cannot read " + str(inputs["folder"] / "missing.mbox") in dask.stderr
    assert "zz-fifo: not a regular file (a FIFO)" in dask.stderr
    assert "zz-link: a symbolic link inside a scanned directory" in dask.stderr
    assert "half-delivered" not in dask.stdout + dask.stderr  # Maildir tmp/ is not read


def test_score_csv_is_byte_identical_too(inputs, scheduler):
    local, dask = _both("score", [str(inputs["mbox"])], scheduler, "--format", "csv")
    assert dask.returncode == local.returncode == 0
    assert dask.stdout == local.stdout


def test_parse_on_a_local_cluster_the_command_starts(inputs):
    local, dask = _both("parse", _mix(inputs), None)
    assert local.returncode == dask.returncode == 1
    assert dask.stdout == local.stdout
    assert _lines(dask.stderr) == _lines(local.stderr)
    sources = [json.loads(line)["source"] for line in dask.stdout.splitlines()]
    count = sum(source.startswith(str(inputs["mbox"]) + "#") for source in sources)
    assert sources[count - 1] == f"{inputs['mbox']}#{count}"  # numbered across the ranges


def test_score_parquet_dataset_holds_the_jsonl_records(inputs, scheduler, tmp_path):
    import pyarrow.dataset as ds

    paths = _mix(inputs)
    local = run("score", "--format", "jsonl", *paths)
    out = tmp_path / "scored"
    dask = run(
        "score",
        *("--engine", "dask", "--scheduler", scheduler, "--chunk-mb", CHUNK),
        *("--format", "parquet", "--output", str(out)),
        *paths,
    )
    assert dask.returncode == local.returncode == 1
    files = sorted(out.iterdir())
    assert len(files) >= 10 and all(f.name.startswith("part-") for f in files)
    table = ds.dataset(out, format="parquet").to_table()  # one schema across partitions
    assert table.schema.field("recipients").type.value_type.field("hard").type == "bool"
    expected = [json.loads(line) for line in local.stdout.splitlines()]
    assert table.num_rows == len(expected)
    assert table.to_pylist() == expected
    errors = [line for line in local.stderr.splitlines() if "cannot read" in line]
    assert errors and all(line in dask.stderr for line in errors)


def test_parse_parquet_refuses_a_folder_that_is_not_empty(inputs, scheduler, tmp_path):
    (tmp_path / "old.parquet").write_bytes(b"")
    result = run(
        "parse",
        *("--engine", "dask", "--scheduler", scheduler, "-f", "parquet", "-o", str(tmp_path)),
        str(inputs["single"]),
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"backscatter: --output {tmp_path}: the folder is not empty"


def test_parquet_schema_has_a_column_for_every_record_field(inputs):
    from backscatter.batch.parquet import PARSE_SCHEMA, RECIPIENT, SCORE_SCHEMA
    from backscatter.detector import Detector
    from backscatter.mail import iter_messages

    message = next(iter_messages([str(inputs["single"])]))
    record = Detector.load().score_many([message])[0].to_record()
    assert set(record) == set(SCORE_SCHEMA.names)
    assert set(SCORE_SCHEMA.names) - set(PARSE_SCHEMA.names) == {
        "verdict",
        "spoofed_probability",
        "evidence",
        "rules",
        "sent_log_match",
        "sent_log_coverage",
    }
    assert set(record["recipients"][0]) == {RECIPIENT.field(i).name for i in range(7)}


def test_workers_read_a_read_only_copy_of_the_sqlite_sent_log(inputs, scheduler, tmp_path):
    sent = Path(_sent_log(tmp_path / "sent.db"))
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    copy = copy_dir / "sent.db"
    shutil.copy(sent, copy)
    copy.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    copy_dir.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    before = copy.read_bytes()
    try:
        paths = [str(inputs["mbox"])]
        local = run("score", "--format", "jsonl", "--sent-log", str(sent), *paths)
        dask = run(
            "score",
            *("--format", "jsonl", "--sent-log", str(copy)),
            *("--engine", "dask", "--scheduler", scheduler, "--chunk-mb", CHUNK),
            *paths,
        )
        assert dask.returncode == local.returncode == 0, dask.stderr
        assert dask.stdout == local.stdout
        assert '"sent_log_coverage": "' in dask.stdout  # the sent-log was read
        assert copy.read_bytes() == before
        if os.geteuid() != 0:  # root may write in a read-only folder (SQLite's -shm file)
            assert sorted(p.name for p in copy_dir.iterdir()) == ["sent.db"]
    finally:
        copy_dir.chmod(stat.S_IRWXU)


def _sent_log(spec: Path | str) -> Path | str:
    from datetime import UTC, datetime

    from backscatter.sentlog import SentRecipient, open_sent_log

    with open_sent_log(str(spec), readonly=False) as store:
        store.add(
            [
                SentRecipient(
                    message_id="m1@example.com",
                    sender="alice@example.com",
                    recipient="bob@example.net",
                    sent_at=datetime(2024, 1, 1, tzinfo=UTC),
                )
            ]
        )
    return spec


@pytest.fixture(scope="module")
def postgres_dsn():
    from tests.sentlog.conftest import make_cluster

    cluster = make_cluster()
    if isinstance(cluster, str):
        pytest.skip(cluster)
    try:
        yield cluster.dsn()
    finally:
        cluster.destroy()


def test_workers_read_a_postgresql_sent_log(inputs, scheduler, postgres_dsn):
    dsn = str(_sent_log(postgres_dsn))
    paths = [str(inputs["mbox"])]
    local = run("score", "--format", "jsonl", "--sent-log", dsn, *paths)
    dask = run(
        "score",
        *("--format", "jsonl", "--sent-log", dsn),
        *("--engine", "dask", "--scheduler", scheduler, "--chunk-mb", CHUNK),
        *paths,
    )
    assert dask.returncode == local.returncode == 0, dask.stderr
    assert dask.stdout == local.stdout
    assert '"sent_log_coverage": "' in dask.stdout


def test_train_on_dask_fits_the_same_model(tmp_path, scheduler):
    from backscatter.detector import Detector
    from backscatter.mail import iter_messages
    from backscatter.model.persist import load
    from backscatter.synth import generate

    generate(tmp_path, genuine=30, backscatter=15, fake=15, seed=7)
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\ngenuine.mbox,genuine\nspoofed.mbox,spoofed\n")
    common = ("--labels", str(labels), "--format", "json")
    local = run("train", *common, "--out", str(tmp_path / "local.skops"))
    dask = run(
        "train",
        *common,
        *("--out", str(tmp_path / "dask.skops")),
        *("--engine", "dask", "--scheduler", scheduler, "--chunk-mb", "0.01"),
    )
    assert local.returncode == dask.returncode == 0, dask.stderr
    assert json.loads(dask.stdout)["evaluations"] == json.loads(local.stdout)["evaluations"]
    messages = [m for m in iter_messages([str(tmp_path)]) if not hasattr(m, "message")]
    assert len(messages) >= 60
    ours = Detector(load(tmp_path / "local.skops")).score_many(messages)
    theirs = Detector(load(tmp_path / "dask.skops")).score_many(messages)
    assert [v.spoofed_probability for v in theirs] == [v.spoofed_probability for v in ours]
    learnt = [json.loads((tmp_path / f"{n}.training.json").read_text()) for n in ("local", "dask")]
    assert learnt[0]["messages"] == learnt[1]["messages"]


def test_dask_options_say_what_is_wrong_in_one_line(inputs):
    alone = run("score", "--scheduler", "tcp://127.0.0.1:1", str(inputs["single"]))
    assert alone.returncode == 2
    assert alone.stderr.strip() == "backscatter: --scheduler needs --engine dask"
    parquet = run("parse", "-f", "parquet", "-o", "x", str(inputs["single"]))
    assert parquet.returncode == 2
    assert "--engine dask" in parquet.stderr and "Traceback" not in parquet.stderr
    stdin = run("parse", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:1", "-")
    assert stdin.returncode == 2 and "not stdin" in stdin.stderr


def test_without_dask_the_error_names_the_extra(monkeypatch):
    from backscatter.batch.cluster import require
    from backscatter.errors import BackscatterError

    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(BackscatterError, match=r"pip install 'backscatter\[dask\]'"):
        require()


def test_byte_ranges_read_every_message_once_wherever_the_cuts_fall(tmp_path):
    """Cut anywhere (inside a separator, a CRLF pair, a 70 KB line, a quoted ``>From``), the
    ranges read, numbered by the counts before them, are the whole-file read."""
    from backscatter.mail.sources import count_mbox_range, iter_mbox_range, iter_messages

    rng = random.Random(11)
    entries = []
    for number in range(40):
        newline = rng.choice([b"\n", b"\r\n"])
        body = [b"Subject: message %d" % number, b"", b"text", b">From quoted", b"From inside"]
        if number % 7 == 0:
            body += [b"", b"", b"x" * (70_000 + number)]
        if number % 9 == 0:
            body += [b"", b"From " + b"y" * 66_000]  # a separator longer than a read chunk
        first = SEPARATOR + (b"z" * 70_000 if number == 0 else b"")
        entries.append(newline.join([first, *body]) + newline + newline)
    mbox = tmp_path / "tricky.mbox"
    mbox.write_bytes(b"".join(entries))
    size = mbox.stat().st_size
    whole = list(iter_messages([str(mbox)]))
    assert len(whole) > 40  # the long ``From `` line after a blank line is a separator
    for _ in range(25):
        cuts = sorted({0, size, *(rng.randrange(size) for _ in range(rng.randint(1, 15)))})
        read, first = [], 1
        for start, end in itertools.pairwise(cuts):
            read += iter_mbox_range(str(mbox), start, end, first)
            first += count_mbox_range(str(mbox), start, end)
        assert read == whole
