"""The generator's errors, in a module of their own so that the engines (``run``, ``distributed``) share them without
importing each other. ``exit_code`` is the status the command line exits with (see the README's list)."""

from __future__ import annotations

__all__ = ["GenerateError", "RunFailed"]


class GenerateError(RuntimeError):
    """Generation refused before writing anything (bad arguments, not enough disk, another dataset there)."""

    exit_code = 2  # bad input


class RunFailed(GenerateError):
    """A run that failed on the way (the disk filled up, a worker was killed); the same call resumes it."""

    exit_code = 1
