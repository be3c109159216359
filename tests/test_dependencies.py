"""Every third-party module the package imports comes from a distribution pyproject declares.

Issue 10 found ``tld`` imported but undeclared (it arrived through flanker): an install that
resolves flanker differently breaks on import. The imports are read from the source (every
``import``, at module level or inside a function), mapped to the distributions that provide
them, and looked up in ``dependencies`` and the optional extras.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "backscatter"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    names = (re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", r) for r in requirements)
    return {_normalise(match.group(1)) for match in names if match}


def imported_top_level_modules() -> dict[str, set[str]]:
    """Each third-party top-level module imported anywhere in the package, with its files."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("backscatter", "__future__"):
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_the_walk_finds_the_known_imports():
    modules = imported_top_level_modules()
    assert {"typer", "flanker", "tld", "sklearn"} <= set(modules)
    assert "email" not in modules and "backscatter" not in modules


def test_every_imported_module_belongs_to_a_declared_distribution():
    declared = declared_distributions()
    providers = packages_distributions()
    undeclared = []
    for module, files in sorted(imported_top_level_modules().items()):
        # a module not installed here (an optional extra) is matched by its own name
        candidates = {_normalise(d) for d in providers.get(module, [module])}
        if not candidates & declared:
            undeclared.append(f"{module} (from {sorted(candidates)}; in {sorted(files)[0]})")
    assert undeclared == []
