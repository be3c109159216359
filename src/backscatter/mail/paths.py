"""``parse_path``: every message under one path, parsed, in one call (Sisimai's ``rise``).

The common case in Python is "what bounced in this mailbox?": without this helper it takes
:func:`~backscatter.mail.sources.iter_messages`, a check for the
:class:`~backscatter.mail.sources.SourceError` it yields for what cannot be read, and
:func:`~backscatter.mail.parser.parse` (issue 10 found the README's own example passing a
SourceError to ``parse``). A path that cannot be read at all is the caller's mistake and
raises :class:`~backscatter.errors.InputError`; a message inside a folder that cannot be
read is skipped and reported, as the command line does, so one bad file does not cost the
rest of a Maildir.
"""

from __future__ import annotations

import os
import warnings

from backscatter.errors import InputError, SkippedInputWarning
from backscatter.mail.anatomy import Bounce
from backscatter.mail.parser import parse
from backscatter.mail.sources import SourceError, iter_messages


def parse_path(
    path: str | os.PathLike[str], errors: list[SourceError] | None = None
) -> list[Bounce]:
    """The anatomy of every message in a .eml file, an mbox, a Maildir or a folder tree
    (``"-"``: standard input), in reading order.

    Raises InputError ("cannot read PATH: reason") when ``path`` itself cannot be read.
    A message inside it that cannot be read is skipped: appended to ``errors`` when a list
    is given, else reported as a :class:`~backscatter.errors.SkippedInputWarning`. The whole
    result is kept in memory; for a mailbox of millions of messages, stream with
    ``iter_messages`` and ``parse`` instead.

        >>> bounces = parse_path("bounces.mbox")
    """
    name = os.fspath(path)
    if os.path.isdir(name) and not os.access(name, os.R_OK | os.X_OK):
        raise InputError(f"cannot read {name}: permission denied")
    bounces: list[Bounce] = []
    for item in iter_messages([name]):
        if not isinstance(item, SourceError):
            bounces.append(parse(item))
        elif item.source == name:
            raise InputError(f"cannot read {item.source}: {item.message}")
        elif errors is not None:
            errors.append(item)
        else:
            warnings.warn(
                f"skipped {item.source}: {item.message}", SkippedInputWarning, stacklevel=2
            )
    return bounces
