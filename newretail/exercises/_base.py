"""The exercise record shared by the lesson modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newretail.tables import Dataset

KINDS = ("compute", "predict, then run", "design")


class ExerciseError(ValueError):
    """An exercise that cannot be checked as asked; the message names the argument."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its number, kind, text, how the checker computes the answer, tolerance and hint.

    ``expected(ds)`` returns the answer the checker accepts (a number in ``unit``, or a word); a numeric answer is
    right when within ``max(abs_tol, rel_tol * |expected|)``.
    """

    id: str
    kind: str
    prompt: str
    unit: str
    expected: Callable[[Dataset], float | str]
    hint: str
    rel_tol: float = 0.0
    abs_tol: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ExerciseError(f"kind = {self.kind!r}: must be one of {', '.join(KINDS)}")
        if self.rel_tol < 0 or self.abs_tol < 0:
            raise ExerciseError(f"{self.id}: tolerances must be 0 or more")


def z(p: float) -> float:
    """The standard normal quantile (scipy's), for the design exercises."""
    from scipy.stats import norm

    return float(norm.ppf(p))
