"""The repository itself: no merge left half-done in a file that no linter reads (a shell
script, a recipe, the README)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules"}
MARKERS = (b"<<<<<<< ", b"=======\n", b">>>>>>> ")


def text_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        if SKIP.intersection(path.relative_to(ROOT).parts) or not path.is_file():
            continue
        if path.suffix in {".skops", ".png", ".gz", ".bz2", ".xz", ".zip", ".parquet"}:
            continue
        found.append(path)
    return found


def test_no_file_holds_merge_conflict_markers():
    conflicted = []
    for path in text_files():
        lines = path.read_bytes().splitlines(keepends=True)
        starts = [line for line in lines if line.startswith(MARKERS[0])]
        ends = [line for line in lines if line.startswith(MARKERS[2])]
        if starts and ends:
            conflicted.append(str(path.relative_to(ROOT)))
    assert conflicted == []
