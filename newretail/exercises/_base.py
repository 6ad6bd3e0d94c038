"""The exercise record shared by the lesson modules: what is asked, how the checker answers it, and the wrong answers
a student is likely to give, each with what it tells about the mistake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newretail.tables import Dataset

KINDS = ("compute", "predict, then run", "design", "explain why")
LETTERS = "abcdefgh"

Answer = Callable[["Dataset"], "float | str"]


class ExerciseError(ValueError):
    """An exercise that cannot be checked as asked; the message names the argument."""


@dataclass(frozen=True)
class Wrong:
    """A plausible wrong answer: what it is (``label``), how to compute it (``answer(ds)``, or the letter of a wrong
    choice), and ``why`` it is not the answer, shown to a student whose answer matches it."""

    label: str
    answer: Answer | str
    why: str

    def value(self, ds: Dataset) -> float | str:
        return self.answer if isinstance(self.answer, str) else self.answer(ds)


@dataclass(frozen=True)
class Exercise:
    """One exercise: its number, kind, text, how the checker computes the answer, tolerance, hint and wrong answers.

    ``expected(ds)`` returns the answer the checker accepts: a number in ``unit``, or for an "explain why" question
    the letter of the right one of ``choices``. A numeric answer is right when within
    ``max(abs_tol, rel_tol * |expected|)``; each of ``wrong`` must lie outside that (the tests check it), so a
    tolerance never passes a plausible mistake. The ``hint`` gives the idea, not the code.
    """

    id: str
    kind: str
    prompt: str
    unit: str
    expected: Answer
    hint: str
    rel_tol: float = 0.0
    abs_tol: float = 0.0
    wrong: tuple[Wrong, ...] = ()
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ExerciseError(f"kind = {self.kind!r}: must be one of {', '.join(KINDS)}")
        if self.rel_tol < 0 or self.abs_tol < 0:
            raise ExerciseError(f"{self.id}: tolerances must be 0 or more")
        if (self.kind == "explain why") != bool(self.choices):
            raise ExerciseError(f"{self.id}: an 'explain why' question, and only one, lists its choices")
        if len(self.choices) > len(LETTERS):
            raise ExerciseError(f"{self.id}: at most {len(LETTERS)} choices")

    def allowed(self, expected: float) -> float:
        """The largest distance from ``expected`` still judged correct."""
        return max(self.abs_tol, self.rel_tol * abs(expected))

    def text(self) -> str:
        """The prompt, with the choices of an "explain why" question on lines of their own."""
        lines = [self.prompt, *(f"({LETTERS[i]}) {c}" for i, c in enumerate(self.choices))]
        return "\n".join(lines)


def z(p: float) -> float:
    """The standard normal quantile, for the design exercises (:func:`newretail.methods.power.normal_quantile`)."""
    from newretail.methods.power import normal_quantile

    return normal_quantile(p)
