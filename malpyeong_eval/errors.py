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


class AlreadyRecorded(MalpyeongError):
    """A run with the same fingerprint is already recorded (e.g. by a concurrent ``run``).

    ``run`` is the stored run (whatever the recorder returns: it has ``id`` and ``name``).
    """

    def __init__(self, run) -> None:
        super().__init__(f"run {run.name!r} (#{run.id}) already holds these results")
        self.run = run
