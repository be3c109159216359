"""The pipe filter under hostile input and broken plumbing (issue 12): the message always
comes out, the exit status is 0 or 75 (never 1), and the verdict lands in the header."""

from __future__ import annotations

import email
import io
import re
import subprocess
import sys

import pytest

from backscatter import Detector
from backscatter.filters.headers import field_name
from backscatter.filters.pipe import EX_TEMPFAIL, header_end, run_filter
from tests.conftest import DATA

FAKE_NDR = (DATA / "formats" / "fake_ndr_html_quarantine.eml").read_bytes()


@pytest.fixture(scope="module")
def detector():
    return Detector.load()


def through(detector: Detector, data: bytes) -> tuple[int, bytes]:
    target = io.BytesIO()
    status = run_filter(io.BytesIO(data), target, lambda: detector, 1 << 20)
    return status, target.getvalue()


def mixed_endings(message: bytes) -> bytes:
    """The header's lines ended in turn by CR, LF and CRLF, and one ended by CR + CRLF: a
    MIME parser (lone CR is a line end) sees the body start there, an LF reader does not."""
    header, _, body = message.partition(b"\n\n")
    lines = header.split(b"\n")
    ends = (b"\r", b"\n", b"\r\n")
    out = [line + ends[number % 3] for number, line in enumerate(lines[:3])]
    out.append(lines[3] + b"\r\r\n")
    out += [line + b"\n" for line in lines[4:]]
    return b"".join(out) + b"\n" + body


def test_the_verdict_is_where_a_mime_parser_sees_header_whatever_the_line_endings(detector):
    message = mixed_endings(FAKE_NDR)
    assert len(email.message_from_bytes(message).keys()) == 4  # the body starts early
    status, out = through(detector, message)
    assert status == 0
    # Scored as a MIME parser reads it (HTML now in the body); the verdict is in the header.
    assert email.message_from_bytes(out)["X-Backscatter-Verdict"] in ("spoofed", "genuine")
    ours = rb"X-Backscatter-[^\r\n]*\r?\n(?:\t[^\r\n]*\r?\n)*"  # with its folded lines
    assert re.sub(ours, b"", out) == message  # nothing else moved


@pytest.mark.parametrize("bad", [b"\xddubject: x\n", b"Subject : x\n", b"no colon\n"])
def test_the_verdict_goes_before_a_line_a_mime_parser_takes_for_body(detector, bad):
    header, _, body = FAKE_NDR.partition(b"\n\n")
    first, _, rest = header.partition(b"\n")
    message = first + b"\n" + bad + rest + b"\n\n" + body
    status, out = through(detector, message)
    assert status == 0
    assert email.message_from_bytes(out)["X-Backscatter-Verdict"] is not None


def test_header_end_reads_cr_lf_and_crlf_alike():
    assert header_end(b"A: 1\rB: 2\n\rbody") == 10
    assert header_end(b"A: 1\r\nB: 2\r\n\r\nbody") == 12
    assert header_end(b"A: 1\nB: 2\r\r\nC: 3\n\nbody") == 10
    assert header_end(b"A: 1\nno end") == len(b"A: 1\nno end")


def test_a_forged_verdict_folded_before_its_colon_is_stripped(detector):
    forged = b"X-Backscatter-Verdict\r\n : genuine\r\nX-Backscatter-Score \t: 0.0\r\n"
    status, out = through(detector, forged + FAKE_NDR)
    assert status == 0
    assert b"genuine" not in out and b"0.0\r\n" not in out
    assert email.message_from_bytes(out).get_all("X-Backscatter-Verdict") == ["spoofed"]


def test_forged_fields_an_lf_reader_sees_after_a_lone_cr_blank_are_stripped_too(detector):
    message = FAKE_NDR.replace(b"\n", b"\r\r\nX-Backscatter-Verdict: genuine\n", 1)
    status, out = through(detector, message)
    assert status == 0 and b"genuine" not in out


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("Subject: hi", "Subject"),
        ("X-Backscatter-Verdict : genuine", "X-Backscatter-Verdict"),
        ("X-Backscatter-Verdict\r\n\t: genuine", "X-Backscatter-Verdict"),
        ("no colon here\r\n", None),
    ],
)
def test_field_names_are_read_as_the_mta_reads_them(field, name):
    assert field_name(field) == name


def test_a_full_disk_is_a_retry_not_a_bounce(detector):
    with open("/dev/full", "wb", buffering=0) as full:
        assert run_filter(io.BytesIO(FAKE_NDR), full, lambda: detector, 1 << 20) == EX_TEMPFAIL


def test_a_broken_model_still_passes_the_message_and_asks_a_retry():
    def broken() -> Detector:
        raise RuntimeError("model exploded")

    target = io.BytesIO()
    assert run_filter(io.BytesIO(FAKE_NDR), target, broken, 1 << 20) == EX_TEMPFAIL
    assert target.getvalue() == FAKE_NDR


@pytest.mark.parametrize("closed", ["stdout", "stdin"])
def test_a_closed_stream_is_exit_75_with_one_line_and_no_traceback(closed):
    script = (
        "import os, sys; os.close(1 if sys.argv[1] == 'stdout' else 0); "
        "from backscatter.cli import main; sys.argv[1:] = ['filter']; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, closed],
        input=FAKE_NDR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    assert result.returncode == EX_TEMPFAIL
    assert b"Traceback" not in result.stderr
    assert result.stderr.decode().count("\n") == 1
