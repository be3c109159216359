"""The README's recipes are the tested files, byte for byte.

Each recipe in README "The pipe filter" sits under a marker naming its file,
``<!-- recipe: contrib/recipes/procmailrc -->``, followed by a fenced block that must hold
exactly that file; test_recipes.py runs the files. Editing one side only fails here: copy
the file's text into the block under its marker (or the block into the file).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "contrib" / "recipes"
MARKER = "<!-- recipe: "
SECTION = "### The pipe filter"


def _section() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(SECTION))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("## ", "### ")))
    return lines[start:end]


def _blocks(lines: list[str]) -> list[tuple[str | None, str, str]]:
    """Every fenced block of ``lines``: (the recipe marker's path or None, the fence's
    language, the text between the fences)."""
    blocks: list[tuple[str | None, str, str]] = []
    number = 0
    while number < len(lines):
        line = lines[number]
        if line.startswith("```"):
            before = lines[number - 1].strip() if number else ""
            marked = before.startswith(MARKER) and before.endswith("-->")
            path = before[len(MARKER) : -len("-->")].strip() if marked else None
            close = next(i for i in range(number + 1, len(lines)) if lines[i].startswith("```"))
            blocks.append((path, line[3:].strip(), "".join(lines[number + 1 : close])))
            number = close
        number += 1
    return blocks


def test_every_marked_block_is_its_file_verbatim():
    marked = [(path, text) for path, _, text in _blocks(_section()) if path]
    assert marked
    for path, text in marked:
        assert text == (ROOT / path).read_text(), f"README block and {path} differ"


def test_every_recipe_file_is_shown_and_every_recipe_block_is_marked():
    blocks = _blocks(_section())
    shown = {path for path, _, _ in blocks if path}
    files = {str(p.relative_to(ROOT)) for p in RECIPES.rglob("*") if p.is_file()}
    assert shown == files
    # Unmarked blocks are shell commands to type (the synopsis, the install), no recipes.
    assert all(language == "sh" for path, language, _ in blocks if path is None)
