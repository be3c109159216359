"""The ``backscatter`` command line: thin wrappers that parse options and call the core.

Nothing heavy is imported at module level: ``filter --connect`` runs once per message.
"""

from __future__ import annotations

import sys
from typing import Any  # already loaded by backscatter/__init__.py


def main() -> None:
    """Console entry point: user errors become one plain line and exit status 2."""
    # `filter --connect` is the spamc of this tool, run once per message: it must not pay
    # for typer or the command modules (~170 ms), so it is recognised here, before them.
    if sys.argv[1:2] == ["filter"] and any(a.startswith("--connect") for a in sys.argv[2:]):
        from backscatter.filters.client import main as connect

        status = connect(sys.argv[2:])
        if status is not None:
            sys.exit(status)
    from backscatter.errors import BackscatterError

    try:
        _application()(prog_name="backscatter")
    except BackscatterError as exc:
        print(f"backscatter: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # `backscatter parse ... | head` is normal use
        sys.stderr.close()
        sys.exit(0)


def _application() -> Any:
    """The typer app with every command registered (importing a command module registers it)."""
    from backscatter.cli import batv as _batv  # noqa: F401
    from backscatter.cli import filters as _filters  # noqa: F401
    from backscatter.cli import learn as _learn  # noqa: F401
    from backscatter.cli import parse as _parse  # noqa: F401
    from backscatter.cli import report as _report  # noqa: F401
    from backscatter.cli import rules as _rules  # noqa: F401
    from backscatter.cli import score as _score  # noqa: F401
    from backscatter.cli import sentlog as _sentlog  # noqa: F401
    from backscatter.cli import serve as _serve  # noqa: F401
    from backscatter.cli import suppressions as _suppressions  # noqa: F401
    from backscatter.cli import training as _training  # noqa: F401
    from backscatter.cli.app import app

    globals()["app"] = app  # the submodule import bound the name to the module
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return _application()
    raise AttributeError(f"module 'backscatter.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
