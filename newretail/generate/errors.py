"""The generator's error, in a module of its own so that the engines (``run``, ``distributed``) share it without
importing each other."""

from __future__ import annotations

__all__ = ["GenerateError"]


class GenerateError(RuntimeError):
    """Generation refused before writing anything (bad arguments, not enough disk, another dataset there)."""
