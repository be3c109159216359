"""BATV: our tags and Exim's must verify each other; other schemes are recognised."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from backscatter.sentlog import batv

DAY = 86400
NOW = 20_000 * DAY + 3600  # a fixed day, so the tests do not depend on the date


def test_sign_then_verify():
    tagged = batv.sign("alice@sender.example", "s3cret", key=3, now=NOW)
    assert tagged.startswith("prvs=3007") and tagged.endswith("=alice@sender.example")
    check = batv.verify(tagged, "s3cret", now=NOW)
    assert check == batv.BatvCheck(True, "alice@sender.example", 3, "valid")


def test_wrong_secret_and_expiry():
    tagged = batv.sign("alice@sender.example", "s3cret", now=NOW)
    assert batv.verify(tagged, "other", now=NOW).reason == "the tag's signature does not match"
    assert batv.verify(tagged, "s3cret", now=NOW + 7 * DAY).valid
    assert batv.verify(tagged, "s3cret", now=NOW + 8 * DAY).reason == "the tag has expired"


def test_day_counter_wrap_around():
    late = 20_996 * DAY  # day stamp 996: the tag expires on day "003" of the next thousand
    tagged = batv.sign("a@b.example", "k", now=late)
    assert tagged[6:9] == "003"
    assert batv.verify(tagged, "k", now=late + 6 * DAY).valid


def test_key_rotation_by_key_number():
    tagged = batv.sign("a@b.example", "new", key=2, now=NOW)
    assert batv.verify(tagged, {1: "old", 2: "new"}, now=NOW).valid
    assert batv.verify(tagged, {1: "old"}, now=NOW).reason == "no secret for key number 2"


def test_untagged_address_is_not_valid():
    assert batv.verify("alice@sender.example", "s3cret").reason == "not a prvs BATV address"


@pytest.mark.parametrize(
    ("address", "scheme", "plain"),
    [
        ("prvs=1234abcdef=alice@sender.example", "prvs", "alice@sender.example"),
        ("btv1==0123abcdef0==alice@sender.example", "btv1", "alice@sender.example"),
        (
            "msprvs1=19999abcdEfGhI=bounces-1234@sender.example",
            "msprvs1",
            "bounces-1234@sender.example",
        ),
        ("SRS0=HHH=TT=origin.example=alice@forwarder.example", "srs0", "alice@origin.example"),
        (
            "SRS1=XXX=forwarder.example==HHH=TT=origin.example=alice@other.example",
            "srs1",
            "SRS1=XXX=forwarder.example==HHH=TT=origin.example=alice@other.example",
        ),
    ],
)
def test_recognise_tag_schemes(address, scheme, plain):
    assert batv.recognise(address) == batv.TaggedAddress(scheme, plain)


def test_plain_address_has_no_scheme():
    assert batv.recognise("alice@sender.example") is None


def _exim() -> list[str] | None:
    root = Path(__file__).resolve().parents[2] / ".cache" / "exim"
    binary = root / "usr" / "sbin" / "exim4"
    if not binary.exists():
        return None
    return [str(binary)]


@pytest.fixture(scope="module")
def exim(tmp_path_factory):
    command = _exim()
    if command is None:
        pytest.skip("Exim is not unpacked: run scripts/get_exim.sh (CI does)")
    config = tmp_path_factory.mktemp("exim") / "exim.conf"
    config.write_text("primary_hostname = test.invalid\n")
    libs = Path(command[0]).parents[2] / "usr" / "lib" / "x86_64-linux-gnu"
    env = {**os.environ, "LD_LIBRARY_PATH": str(libs)}

    def expand(expression: str) -> str:
        result = subprocess.run(
            [*command, "-C", str(config), "-be", expression],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=True,
        )
        return result.stdout.strip()

    return expand


def test_exim_verifies_our_tags(exim):
    for key in (0, 7):
        tagged = batv.sign("alice@sender.example", "shared secret", key=key)
        assert exim(f"${{prvscheck{{{tagged}}}{{shared secret}}{{$prvscheck_result}}}}") == "1"
        assert exim(f"${{prvscheck{{{tagged}}}{{wrong}}{{[$prvscheck_result]}}}}") == "[]"


def test_we_verify_exims_tags(exim):
    tagged = exim("${prvs{bob@sender.example}{shared secret}{4}}")
    assert tagged.startswith("prvs=4")
    assert batv.verify(tagged, "shared secret") == batv.BatvCheck(
        True, "bob@sender.example", 4, "valid"
    )
    assert not batv.verify(tagged, "other").valid


def test_exim_and_we_agree_on_expired_tags(exim):
    old = batv.sign("carol@sender.example", "k", now=time.time() - 9 * DAY)
    assert not batv.verify(old, "k").valid
    assert exim(f"${{prvscheck{{{old}}}{{k}}{{[$prvscheck_result]}}}}") == "[]"
