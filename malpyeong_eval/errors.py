"""Errors that the command line reports as one line and exit status 2."""

from __future__ import annotations


class MalpyeongError(Exception):
    """A problem with the user's input: a file, an id, a flag, a model name.

    The message is one line that names the problem and where it is.
    """


class SubmissionError(MalpyeongError):
    """A data or submission file that cannot be scored."""


class ModelLoadError(MalpyeongError):
    """A scorer or policy model that cannot be loaded."""
