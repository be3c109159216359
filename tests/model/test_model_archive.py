"""A model file is refused on its zip directory before anything is inflated (issue 12)."""

from __future__ import annotations

import time
import zipfile

import pytest

from backscatter.errors import BackscatterError
from backscatter.model.persist import MAX_MEMBERS, MAX_UNCOMPRESSED_BYTES, load


def _bomb(path, inflated: int) -> None:
    """A skops-shaped zip whose schema.json inflates to ``inflated`` zero bytes."""
    zeros = bytes(1 << 20)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("schema.json", "w", force_zip64=True) as member,
    ):
        for _ in range(inflated >> 20):
            member.write(zeros)


def test_a_zip_bomb_is_refused_in_milliseconds(tmp_path):
    bomb = tmp_path / "bomb.skops"
    _bomb(bomb, MAX_UNCOMPRESSED_BYTES + (1 << 20))
    assert bomb.stat().st_size < 2 * 1024 * 1024
    started = time.perf_counter()
    with pytest.raises(BackscatterError, match=r"refusing model .*would inflate to \d+ bytes"):
        load(bomb)
    assert time.perf_counter() - started < 0.5


def test_an_archive_of_too_many_members_is_refused(tmp_path):
    crowd = tmp_path / "crowd.skops"
    with zipfile.ZipFile(crowd, "w") as archive:
        for number in range(MAX_MEMBERS + 1):
            archive.writestr(f"{number}.npy", b"")
    with pytest.raises(BackscatterError, match=f"in {MAX_MEMBERS + 1} files"):
        load(crowd)


def test_a_truncated_archive_is_one_clear_error(tmp_path):
    cut = tmp_path / "cut.skops"
    cut.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(BackscatterError, match="not a backscatter model"):
        load(cut)
