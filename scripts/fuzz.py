#!/usr/bin/env python3
"""Mutation fuzzer: hostile variants of real bounces through parse, score and the CLI.

Seeds are the repository's own fixtures (tests/data) and, when present, the corpus at
../shared/corpus (read in memory only; nothing from it is written anywhere but a temporary
directory for the CLI runs). Each message is a seed with one to three mutations: byte
flips, truncation, duplicated headers, charset and transfer-encoding swaps, hostile encoded
words, damaged MIME boundaries, deep nesting, huge lines, thousands of addresses, mixed line
endings, splices of two seeds. Message ``i`` of a run depends only on ``(seed, i)``, so
``--only i`` rebuilds one failure to reproduce it.

Checked for every message: ``backscatter.parse`` and ``Detector.score`` return (no exception,
no hang past ``--timeout``), the record serialises as the JSONL writer writes it, and the
time each took. ``--filter-every N`` runs every Nth message through the pipe filter (exit 0,
the verdict in the header as a MIME parser reads it). ``--cli-batch N`` writes every N
messages to a temporary directory and runs ``backscatter score -f jsonl`` on them: exit
status and one record (or one "skipped" line) per file. Reported: exceptions by type with a
reproducer index, caught errors in records, p50/p99/max time per message, the slowest
inputs, peak RSS.

    python scripts/fuzz.py --count 3000 --seed 1
    python scripts/fuzz.py --count 100000 --seed 7 --cli-batch 2000 --json
    python scripts/fuzz.py --seed 7 --only 4711 --dump /tmp/case.eml
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "data"
CORPUS = REPO.parent / "shared" / "corpus"
MAX_SEED_BYTES = 512 * 1024
#: What the readers keep of one message (mail/sources.py): larger inputs are cut there.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024

Mutator = Callable[[bytes, random.Random, list[bytes]], bytes]

_CHARSETS = (
    "utf-7",
    "idna",
    "utf-16",
    "utf-32-be",
    "x-unknown",
    "us-ascii\x00",
    "\xfc8",
    "iso-2022-jp",
    "punycode",
    "rot13",
    "base64",
    "hz",
    "utf-8",
    "big5",
    "cp1252",
    "",
    '"',
    "koi8-r",
    "unicode-escape",
    "raw-unicode-escape",
    "zlib",
    "gb18030",
    "shift_jis",
    "utf_8_sig",
)
_ENCODINGS = ("base64", "quoted-printable", "8bit", "7bit", "binary", "x-uuencode", "x-junk", "")
_PAYLOADS = (b"+2L8-", b"+2D3eAA-", b"\xed\xa0\x80", b"=?", b"\x00", b"\xff\xfe", b"=\r\n", b"==")


def _header_split(data: bytes) -> tuple[bytes, bytes]:
    end = data.find(b"\n\n")
    return (data[: end + 1], data[end + 1 :]) if end != -1 else (data, b"")


def flip_bytes(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    buffer = bytearray(data)
    for _ in range(rng.choice((1, 4, 32, 256))):
        buffer[rng.randrange(len(buffer))] = rng.randrange(256)
    return bytes(buffer)


def truncate(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def duplicate_headers(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    header, body = _header_split(data)
    lines = header.splitlines(keepends=True)
    if not lines:
        return data
    line = lines[rng.randrange(len(lines))]
    count = rng.choice((2, 50, 1000, 20000))
    count = min(count, max(2, MAX_MESSAGE_BYTES // max(1, len(line))))
    return b"".join(lines) + line * count + body


def swap_charset(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    charset = rng.choice(_CHARSETS).encode("utf-8")
    if b"charset=" in data:
        start = data.find(b"charset=") + 8
        stop = start
        while stop < len(data) and stop - start < 40 and data[stop : stop + 1] not in b";\r\n ":
            stop += 1
        data = data[:start] + b'"' + charset + b'"' + data[stop:]
    if rng.random() < 0.5:
        encoding = rng.choice(_ENCODINGS).encode()
        if b"Content-Transfer-Encoding:" in data:
            data = data.replace(b"Content-Transfer-Encoding:", b"X-Was:", 1)
        header, body = _header_split(data)
        data = header + b"Content-Transfer-Encoding: " + encoding + b"\n" + body
    return data + rng.choice(_PAYLOADS)


def encoded_words(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    charset = rng.choice(_CHARSETS).encode("utf-8", "surrogateescape")
    payload = rng.choice((b"B?K2RMOC0=", b"Q?=FF=00=E9", b"B?////", b"Q?+2L8-", b"B?"))
    word = b"=?" + charset + b"?" + payload + b"?="
    name = rng.choice((b"Subject", b"From", b"Received", b"To", b"Content-Type"))
    return name + b": " + word + b" " + word + b"\n" + data


def damage_boundary(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    start = data.find(b"boundary=")
    if start == -1:
        return data
    value = data[start + 9 : start + 80].split(b"\n")[0].strip(b'"; \r')
    if not value:
        return data
    choice = rng.randrange(4)
    if choice == 0:
        return data.replace(b"--" + value + b"--", b"", 1)  # no closing delimiter
    if choice == 1:
        return data.replace(value, value[: len(value) // 2])  # every boundary cut short
    if choice == 2:
        return data.replace(b"--" + value, (b"--" + value + b"\n") * 500, 1)
    return data[:start] + b"boundary=" + data[start + 9 + len(value) + 2 :]


def nest(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    depth = rng.choice((10, 100, 1000, 5000))
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\n\n--n%d\n' % (i, i) for i in range(depth)
    )
    tail = b"".join(b"\n--n%d--\n" % i for i in reversed(range(depth)))
    return b"From: MAILER-DAEMON@example.net\nMIME-Version: 1.0\n" + head + data + tail


def huge_line(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    size = rng.choice((100_000, 1_000_000, 3_000_000))
    line = rng.choice((b"x", b"@", b"5.1.1 ", b"<a@b.example> ", b"=", b" ", b"\t")) * 1
    filler = (line * (size // len(line) + 1))[:size]
    where = rng.randrange(len(data) + 1)
    return data[:where] + filler + data[where:]


def many_addresses(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    count = rng.choice((100, 2000, 10_000, 20_000))
    sep = rng.choice((b", ", b"\n", b" ", b"\n\n"))
    line = sep.join(b"<u%d@r%d.example> 550 5.1.1" % (i, i % 7) for i in range(count))
    where = rng.randrange(len(data) + 1)
    return data[:where] + b"\n" + line + b"\n" + data[where:]


def line_endings(data: bytes, rng: random.Random, _: list[bytes]) -> bytes:
    ends = (b"\r", b"\n", b"\r\n", b"\r\r\n", b"\n\r")
    lines = data.split(b"\n")
    return b"".join(line + rng.choice(ends) for line in lines)


def splice(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    other = seeds[rng.randrange(len(seeds))]
    return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]


MUTATORS: dict[str, Mutator] = {
    "flip": flip_bytes,
    "truncate": truncate,
    "dup_headers": duplicate_headers,
    "charset": swap_charset,
    "encoded_words": encoded_words,
    "boundary": damage_boundary,
    "nest": nest,
    "huge_line": huge_line,
    "addresses": many_addresses,
    "line_endings": line_endings,
    "splice": splice,
}
# Common cheap mutations most often; the expensive ones (huge, deep, long lists) less often.
_WEIGHTS = {"huge_line": 0.3, "nest": 0.5, "addresses": 0.5, "dup_headers": 0.7}


def load_seeds(corpus: Path | None) -> list[bytes]:
    paths = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in (".eml", ".txt"))
    if corpus is not None and corpus.is_dir():
        paths += sorted(
            p for p in corpus.rglob("*") if p.is_file() and p.suffix not in (".csv", ".json")
        )
    seeds = [p.read_bytes()[:MAX_SEED_BYTES] for p in paths]
    return [s for s in seeds if s] or [b"From: a@example.org\n\nhello\n"]


def make_message(
    seeds: list[bytes], seed: int, index: int, heavy: float = 1.0
) -> tuple[bytes, list[str]]:
    """Message ``index`` of run ``seed``: deterministic, so any failure can be rebuilt.
    ``heavy`` scales how often the expensive mutations are chosen (a quick run: 0.3)."""
    rng = random.Random(seed * 1_000_003 + index)
    data = seeds[rng.randrange(len(seeds))]
    names = list(MUTATORS)
    weights = [_WEIGHTS[n] * heavy if n in _WEIGHTS else 1.0 for n in names]
    applied = rng.choices(names, weights, k=rng.choice((1, 1, 2, 3)))
    for name in applied:
        data = MUTATORS[name](data, rng, seeds)[:MAX_MESSAGE_BYTES]
    return data, applied


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


@dataclass
class Report:
    messages: int = 0
    exceptions: Counter[str] = field(default_factory=Counter)
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    caught_errors: Counter[str] = field(default_factory=Counter)
    caught_first: dict[str, int] = field(default_factory=dict)
    parse_times: list[float] = field(default_factory=list)
    score_times: list[float] = field(default_factory=list)
    slowest: list[tuple[float, int, list[str], int]] = field(default_factory=list)
    mutations: Counter[str] = field(default_factory=Counter)
    cli_runs: int = 0
    filtered: int = 0
    cli_failures: list[dict[str, Any]] = field(default_factory=list)
    cli_files: int = 0
    cli_records: int = 0
    cli_skipped: int = 0

    def fail(self, stage: str, exc: BaseException, index: int, applied: list[str]) -> None:
        key = f"{stage}: {type(exc).__name__}"
        self.exceptions[key] += 1
        if key not in self.examples:
            self.examples[key] = {
                "index": index,
                "mutations": applied,
                "traceback": traceback.format_exc(limit=-8),
            }

    def summary(self, started: float) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

        total = [p + s for p, s in zip(self.parse_times, self.score_times, strict=False)]
        return {
            "messages": self.messages,
            "exceptions": sum(self.exceptions.values()),
            "exceptions_by_kind": dict(self.exceptions),
            "examples": self.examples,
            "records_with_error": dict(self.caught_errors.most_common(12)),
            "records_with_error_first_index": self.caught_first,
            "ms_per_message": {
                name: {"p50": pct(v, 0.5), "p99": pct(v, 0.99), "max": pct(v, 1.0)}
                for name, v in (
                    ("parse", self.parse_times),
                    ("score", self.score_times),
                    ("both", total),
                )
                if v
            },
            "slowest": [
                {"ms": round(t * 1000, 1), "index": i, "mutations": m, "bytes": n}
                for t, i, m, n in sorted(self.slowest, reverse=True)[:8]
            ],
            "filter_checked": self.filtered,
            "cli": {
                "runs": self.cli_runs,
                "files": self.cli_files,
                "records": self.cli_records,
                "skipped_not_mail": self.cli_skipped,
                "failures": self.cli_failures[:5],
            },
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "cli_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024,
            "seconds": round(time.perf_counter() - started, 1),
            "mutations": dict(self.mutations),
        }


def _error_kind(error: str) -> str:
    return error.split(":", 2)[1].strip() if error.count(":") >= 2 else error[:40]


def check_one(
    detector: Any, data: bytes, index: int, applied: list[str], report: Report, timeout: float
) -> None:
    from backscatter import parse

    for stage, call, times in (
        ("parse", lambda: parse(data, f"fuzz#{index}").to_record(), report.parse_times),
        ("score", lambda: detector.score(data, f"fuzz#{index}").to_record(), report.score_times),
    ):
        started = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            record = call()
            io.StringIO().write(json.dumps(record, ensure_ascii=False) + "\n")
            json.dumps(record, ensure_ascii=False).encode("utf-8")  # what a file gets
            if record.get("error"):
                kind = f"{stage}: {_error_kind(record['error'])}"
                report.caught_errors[kind] += 1
                report.caught_first.setdefault(kind, index)
        except _Timeout as exc:
            report.fail(stage + " timeout", exc, index, applied)
        except Exception as exc:
            report.fail(stage, exc, index, applied)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        took = time.perf_counter() - started
        times.append(took)
        if took > 0.2:
            report.slowest.append((took, index, applied, len(data)))
            report.slowest = sorted(report.slowest, reverse=True)[:20]


class _FilterFault(Exception):
    pass


def check_filter(
    detector: Any, data: bytes, index: int, applied: list[str], report: Report
) -> None:
    """The pipe filter on the message: exit 0, and a verdict it adds is header to a MIME
    parser (not body, where Sieve header rules would miss it)."""
    import contextlib
    import email

    from backscatter.filters.pipe import run_filter

    report.filtered += 1
    out = io.BytesIO()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            status = run_filter(io.BytesIO(data), out, lambda: detector, 1 << 22)
        if status != 0:
            raise _FilterFault(f"exit {status}")
        added = b"X-Backscatter-Verdict: " in out.getvalue()
        if added and b"X-Backscatter-Verdict: " not in data:
            with contextlib.suppress(RecursionError):  # the stdlib parser, not ours
                if email.message_from_bytes(out.getvalue())["X-Backscatter-Verdict"] is None:
                    raise _FilterFault("verdict where a MIME parser sees body")
    except Exception as exc:
        report.fail("filter", exc, index, applied)


def run_cli(batch: list[tuple[int, bytes]], report: Report, timeout: float) -> None:
    """``backscatter score -f jsonl`` on a directory of the batch: every file a record."""
    with tempfile.TemporaryDirectory(prefix="bs-fuzz-") as folder:
        for index, data in batch:
            Path(folder, f"{index:08d}.eml").write_bytes(data)
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        command = [
            sys.executable,
            "-m",
            "backscatter",
            "score",
            "-f",
            "jsonl",
            "--jobs",
            "1",
            folder,
        ]
        try:
            result = subprocess.run(command, capture_output=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            report.cli_failures.append({"first": batch[0][0], "error": "timeout"})
            return
    report.cli_runs += 1
    report.cli_files += len(batch)
    records = result.stdout.count(b"\n")
    skipped = result.stderr.count(b": not an e-mail message")
    report.cli_records += records
    report.cli_skipped += skipped
    # A file may be an mbox (a mutation made its first line "From "): one record per message
    # inside, sources "file#N". Every file must have at least one record or "skipped" line.
    covered = {_file_of(line.split(b'"source": "', 1)[-1]) for line in result.stdout.splitlines()}
    covered |= {
        _file_of(line.split(b"skipped ", 1)[-1])
        for line in result.stderr.splitlines()
        if line.endswith(b": not an e-mail message")
    }
    missing = [index for index, _ in batch if f"{index:08d}.eml" not in covered]
    if result.returncode != 0 or missing:
        report.cli_failures.append(
            {
                "first": batch[0][0],
                "exit": result.returncode,
                "files": len(batch),
                "without_record": missing[:20],
                "stderr": result.stderr.decode("utf-8", "replace")[-600:],
            }
        )


def _file_of(text: bytes) -> str:
    """``00000042.eml`` from a record's source or a skipped line (path, ``#N``, suffix)."""
    name = text.split(b".eml", 1)[0].rsplit(b"/", 1)[-1]
    return name.decode("ascii", "replace") + ".eml"


def fuzz(
    count: int,
    seed: int,
    corpus: Path | None,
    cli_batch: int = 0,
    timeout: float = 20.0,
    progress: bool = False,
    heavy: float = 1.0,
    filter_every: int = 0,
) -> dict[str, Any]:
    from backscatter import Detector

    started = time.perf_counter()
    seeds = load_seeds(corpus)
    detector = Detector.load()
    report = Report()
    previous = signal.signal(signal.SIGALRM, _alarm)
    batch: list[tuple[int, bytes]] = []
    try:
        for index in range(count):
            data, applied = make_message(seeds, seed, index, heavy)
            report.mutations.update(applied)
            report.messages += 1
            check_one(detector, data, index, applied, report, timeout)
            if filter_every and index % filter_every == 0:
                check_filter(detector, data, index, applied, report)
            if cli_batch:
                batch.append((index, data))
                if len(batch) == cli_batch:
                    run_cli(batch, report, timeout * len(batch))
                    batch = []
            if progress and index % 1000 == 999:
                print(
                    f"{index + 1} messages, {sum(report.exceptions.values())} exceptions, "
                    f"{time.perf_counter() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        if batch:
            run_cli(batch, report, timeout * len(batch))
    finally:
        signal.signal(signal.SIGALRM, previous)
        detector.close()
    return report.summary(started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="extra seeds, if present")
    parser.add_argument("--no-corpus", action="store_true", help="fixtures only")
    parser.add_argument("--cli-batch", type=int, default=0, help="CLI score every N messages")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per message")
    parser.add_argument("--heavy", type=float, default=1.0, help="weight of costly mutations")
    parser.add_argument("--filter-every", type=int, default=0, help="pipe filter every Nth")
    parser.add_argument("--only", type=int, help="rebuild message N of the run and stop")
    parser.add_argument("--dump", type=Path, help="with --only: write the message here")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    corpus = None if args.no_corpus else args.corpus
    if args.only is not None:
        data, applied = make_message(load_seeds(corpus), args.seed, args.only, args.heavy)
        print(f"message {args.only} of seed {args.seed}: {applied}, {len(data)} bytes")
        if args.dump:
            args.dump.write_bytes(data)
        return 0
    summary = fuzz(
        args.count,
        args.seed,
        corpus,
        args.cli_batch,
        args.timeout,
        not args.quiet,
        args.heavy,
        args.filter_every,
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            if key != "examples":
                print(f"{key}: {value}")
        for key, example in summary["examples"].items():
            print(f"\n== {key} (message {example['index']}, {example['mutations']})")
            print(example["traceback"])
    return 1 if summary["exceptions"] or summary["cli"]["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
