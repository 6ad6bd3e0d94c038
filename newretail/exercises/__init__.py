"""Exercises for the notebooks, checked against the data or the generator's truth.

In a notebook::

    from newretail.exercises import check, show
    show("02.1")                       # the exercise's text
    check("02.1", my_ratio, ds=ds)     # judged with a tolerance; a hint when it is not right yet

Each exercise computes its expected answer itself from the day's tables (or from the ``truth_*`` tables, which
an analysis never reads), so a check needs the dataset the notebook opened. Solutions live in
``notebooks/solutions/``. A small checker of our own rather than otter-grader: the answers are numbers judged
against a dataset the student chose (any scale, seed or changed scenario), which otter's fixed test files with
literal expected values cannot express, and a lesson should not need a grading service to run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newretail.exercises._base import Exercise, ExerciseError

if TYPE_CHECKING:
    from newretail.tables import Dataset

__all__ = ["EXERCISES", "Exercise", "ExerciseError", "Result", "check", "show"]


def _registry() -> dict[str, Exercise]:
    from newretail.exercises import hema, lu_ban, pages, sales_day, xiaomi

    found: dict[str, Exercise] = {}
    for module in (sales_day, lu_ban, pages, xiaomi, hema):
        for ex in module.EXERCISES:
            found[ex.id] = ex
    return found


EXERCISES: dict[str, Exercise] = _registry()


@dataclass(frozen=True)
class Result:
    """The verdict on one answer: ``correct``, a short ``message`` and, when it is not right yet, a ``hint``."""

    exercise: str
    correct: bool
    message: str
    hint: str = ""

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        mark = "correct" if self.correct else "not yet"
        text = f"{self.exercise} {mark}: {self.message}"
        return text + (f"\nhint: {self.hint}" if self.hint else "")

    def _repr_markdown_(self) -> str:
        mark = "✅ **correct**" if self.correct else "❌ **not yet**"
        text = f"{self.exercise} {mark}: {self.message}"
        return text + (f"  \n*Hint:* {self.hint}" if self.hint else "")


def _lookup(exercise: str) -> Exercise:
    if exercise not in EXERCISES:
        raise ExerciseError(f"exercise = {exercise!r}: no such exercise (known: {', '.join(sorted(EXERCISES))})")
    return EXERCISES[exercise]


def show(exercise: str) -> str:
    """The text of an exercise: what to compute and in which unit."""
    ex = _lookup(exercise)
    return f"{ex.id} ({ex.kind}): {ex.prompt}"


def check(exercise: str, answer: object, *, ds: Dataset) -> Result:
    """Judge ``answer`` to ``exercise`` against the dataset ``ds`` (or its truth tables).

    Parameters
    ----------
    exercise : the exercise's number, e.g. ``"02.1"``.
    answer : the student's answer: a number in the exercise's unit (or a word where it asks for one); None, an
        unfinished answer, is judged not yet correct.
    ds : the dataset the notebook opened.

    Returns
    -------
    A :class:`Result` that displays as one line (Markdown in a notebook).
    """
    ex = _lookup(exercise)
    if ds is None or not hasattr(ds, "scan"):
        raise ExerciseError(f"ds = {ds!r}: pass the dataset the notebook opened (ds=ds)")
    if answer is None or answer is Ellipsis:
        return Result(ex.id, False, "no answer yet: replace `None` with your computation.", ex.hint)
    expected = ex.expected(ds)
    if isinstance(expected, str):
        given = str(answer).strip().lower()
        ok = given == expected.lower()
        return Result(ex.id, ok, f"{expected!r}." if ok else f"{given!r} is not it.", "" if ok else ex.hint)
    try:
        value = float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return Result(ex.id, False, f"expected a number ({ex.unit}), got {type(answer).__name__}.", ex.hint)
    if not math.isfinite(value):
        return Result(ex.id, False, f"{value} is not a finite number.", ex.hint)
    target = float(expected)
    allowed = max(ex.abs_tol, ex.rel_tol * abs(target))
    gap = value - target
    if abs(gap) <= allowed:
        return Result(ex.id, True, f"{value:.6g} {ex.unit} (within {allowed:.2g} of the checker's {target:.6g}).")
    direction = "too high" if gap > 0 else "too low"
    size = f" by {abs(gap) / abs(target):.0%}" if target else ""
    return Result(ex.id, False, f"{value:.6g} {ex.unit} is {direction}{size}.", ex.hint)
