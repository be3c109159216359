"""One exception hierarchy for user errors; mail itself never raises (it records errors)."""


class BackscatterError(Exception):
    """A problem the user can fix: a missing file, a bad option, an unreadable model."""


class InputError(BackscatterError):
    """An input path could not be read."""


class SkippedInputWarning(UserWarning):
    """A message inside a folder could not be read and was skipped (the rest were read)."""
