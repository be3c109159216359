"""The ``backscatter`` command line: thin wrappers that parse options and call the core."""

from __future__ import annotations

import sys

# Importing the command modules registers their commands on the app.
from backscatter.cli import batv as _batv  # noqa: F401
from backscatter.cli import filters as _filters  # noqa: F401
from backscatter.cli import parse as _parse  # noqa: F401
from backscatter.cli import score as _score  # noqa: F401
from backscatter.cli import sentlog as _sentlog  # noqa: F401
from backscatter.cli import suppressions as _suppressions  # noqa: F401
from backscatter.cli import training as _training  # noqa: F401
from backscatter.cli.app import app
from backscatter.errors import BackscatterError


def main() -> None:
    """Console entry point: user errors become one plain line and exit status 2."""
    try:
        app(prog_name="backscatter")
    except BackscatterError as exc:
        print(f"backscatter: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # `backscatter parse ... | head` is normal use
        sys.stderr.close()
        sys.exit(0)


__all__ = ["app", "main"]
