"""Exercises for the notebooks, checked against the data or the generator's truth.

In a notebook::

    from newretail.exercises import check, show
    show("02.1")                       # the exercise's text
    check("02.1", my_ratio, ds=ds)     # judged with a tolerance; a hint when it is not right yet
    check("02.4", "c", ds=ds)          # an "explain why" question: the letter of a choice

Each exercise computes its expected answer itself from the day's tables (or from the ``truth_*`` tables, which
an analysis never reads), so a check needs the dataset the notebook opened. Every exercise asks for a computation
on a variant of the lesson (another subgroup, a changed assumption, another design) or for a prediction, and lists
the wrong answers a student is likely to give (the naive estimate, the other level, another exercise's answer); an
answer that matches one is told which, and why it is not the answer. Solutions live in
``notebooks/solutions/``. A small checker of our own rather than otter-grader: the answers are numbers judged
against a dataset the student chose (any scale, seed or changed scenario), which otter's fixed test files with
literal expected values cannot express, and a lesson should not need a grading service to run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newretail.exercises._base import LETTERS, Exercise, ExerciseError, Wrong

if TYPE_CHECKING:
    from newretail.tables import Dataset

__all__ = ["EXERCISES", "Exercise", "ExerciseError", "Result", "Wrong", "check", "show", "two_digits"]


def _registry() -> dict[str, Exercise]:
    from newretail.exercises import hema, lu_ban, pages, real_data, sales_day, xiaomi

    found: dict[str, Exercise] = {}
    for module in (sales_day, lu_ban, pages, xiaomi, hema, real_data):
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
    """The text of an exercise: what to compute and in which unit (the choices of an "explain why" question)."""
    ex = _lookup(exercise)
    return f"{ex.id} ({ex.kind}): {ex.text()}"


def two_digits(x: float) -> str:
    """``x`` with two significant digits, without exponent between 1e-5 and 1e7: ``0.34``, ``12``, ``150``."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    rounded = float(f"{x:.2g}")
    magnitude = math.floor(math.log10(abs(rounded)))
    if -5 <= magnitude <= 6:
        return f"{rounded:,.{max(1 - magnitude, 0)}f}"
    return f"{rounded:.1e}"


def _choice(ex: Exercise, answer: object, expected: str) -> Result:
    letters = LETTERS[: len(ex.choices)]
    given = str(answer).strip().strip("()").strip().lower()
    if given not in letters:
        return Result(ex.id, False, f"answer with one letter, {letters[0]} to {letters[-1]}; got {answer!r}.", ex.hint)
    if given == expected:
        return Result(ex.id, True, f"({given}) {ex.choices[letters.index(given)]}")
    why = next((w.why for w in ex.wrong if w.answer == given), "")
    return Result(ex.id, False, f"({given}) is not it" + (f": {why}" if why else "."), ex.hint)


def _near_miss(ex: Exercise, value: float, target: float, ds: Dataset) -> Result:
    """The verdict on a wrong number: which listed mistake it matches, else how far off it is (two digits)."""
    allowed = ex.allowed(target)
    near = []
    for w in ex.wrong:
        if isinstance(w.answer, str):
            continue
        other = float(w.value(ds))
        if abs(value - other) <= max(allowed, ex.allowed(other), 1e-12 * abs(value)):
            near.append((abs(value - other), w))
    if near:
        w = min(near, key=lambda pair: pair[0])[1]
        return Result(ex.id, False, f"{value:.6g} {ex.unit} looks like {w.label}: {w.why}", ex.hint)
    gap = value - target
    direction = "too high" if gap > 0 else "too low"
    size = (
        f"by {two_digits(100 * abs(gap) / abs(target))}% ({two_digits(abs(gap))} {ex.unit})"
        if target
        else (f"by {two_digits(abs(gap))} {ex.unit}")
    )
    return Result(ex.id, False, f"{value:.6g} {ex.unit} is {direction} {size}.", ex.hint)


def check(exercise: str, answer: object, *, ds: Dataset) -> Result:
    """Judge ``answer`` to ``exercise`` against the dataset ``ds`` (or its truth tables).

    Parameters
    ----------
    exercise : the exercise's number, e.g. ``"02.1"``.
    answer : the student's answer: a number in the exercise's unit, or for an "explain why" question the letter of
        a choice; None, an unfinished answer, is judged not yet correct.
    ds : the dataset the notebook opened.

    Returns
    -------
    A :class:`Result` that displays as one line (Markdown in a notebook). A wrong answer that matches one of the
    exercise's listed mistakes says which; otherwise it says how far off it is, to two significant digits.
    """
    ex = _lookup(exercise)
    if ds is None or not hasattr(ds, "scan"):
        raise ExerciseError(f"ds = {ds!r}: pass the dataset the notebook opened (ds=ds)")
    if answer is None or answer is Ellipsis:
        what = "the letter of your choice" if ex.choices else "your computation"
        return Result(ex.id, False, f"no answer yet: replace `None` with {what}.", ex.hint)
    expected = ex.expected(ds)
    if isinstance(expected, str):
        return _choice(ex, answer, expected)
    if isinstance(answer, (str, bytes)):
        return Result(ex.id, False, f"expected a number ({ex.unit}), got the text {answer!r}.", ex.hint)
    try:
        value = float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return Result(ex.id, False, f"expected a number ({ex.unit}), got {type(answer).__name__}.", ex.hint)
    if not math.isfinite(value):
        return Result(ex.id, False, f"{value} is not a finite number.", ex.hint)
    target = float(expected)
    allowed = ex.allowed(target)
    if abs(value - target) <= allowed:
        return Result(ex.id, True, f"{value:.6g} {ex.unit} (within {allowed:.2g} of the checker's {target:.6g}).")
    return _near_miss(ex, value, target, ds)
