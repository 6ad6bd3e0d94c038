"""Every solution in notebooks/solutions/ passes the checker, and a blank or wrong answer does not."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT

from newretail.exercises import EXERCISES, ExerciseError, Result, check, show

SOLUTIONS = ROOT / "notebooks" / "solutions"


def _solutions() -> dict[str, Callable]:
    found = {}
    for path in sorted(SOLUTIONS.glob("0*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name in dir(module):
            if name.startswith("ex_"):
                _, nb, k = name.split("_")
                found[f"{nb}.{k}"] = getattr(module, name)
    return found


SOLVED = _solutions()


def test_every_exercise_has_a_solution_and_each_lesson_three():
    assert set(SOLVED) == set(EXERCISES)
    for nb in ("01", "02", "03", "04", "05"):
        ids = [i for i in EXERCISES if i.startswith(nb + ".")]
        assert len(ids) >= 3, nb
        assert {EXERCISES[i].kind for i in ids} >= {"compute"}, nb
    assert any(ex.kind == "design" for ex in EXERCISES.values())
    assert any(ex.kind == "predict, then run" for ex in EXERCISES.values())


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_solution_passes_and_blank_or_wrong_fails(exercise: str, small_dataset):
    answer = SOLVED[exercise](small_dataset)
    verdict = check(exercise, answer, ds=small_dataset)
    assert isinstance(verdict, Result) and verdict.correct, repr(verdict)
    blank = check(exercise, None, ds=small_dataset)
    assert not blank and blank.hint
    wrong = check(exercise, float(answer) * 1.5 + 1.0, ds=small_dataset)
    assert not wrong and ("too high" in wrong.message) and wrong.hint
    assert exercise in show(exercise) and "\n" not in repr(verdict)


def test_checker_refuses_unknown_exercise_and_missing_dataset(small_dataset):
    with pytest.raises(ExerciseError, match="exercise"):
        check("99.9", 1.0, ds=small_dataset)
    with pytest.raises(ExerciseError, match="ds"):
        check("02.1", 1.0, ds=None)  # type: ignore[arg-type]
    assert not check("02.1", "two", ds=small_dataset)


def test_erlang_c_recursion_matches_the_closed_form():
    """The checker's Erlang B recursion against the textbook closed form sum(a^k / k!) evaluated in logs."""
    import math

    from newretail.exercises.xiaomi import ANSWER_S, SERVICE_LEVEL, erlang_c_agents

    def closed_form(arrivals: float, aht: float) -> int:
        a = arrivals * aht / 3600
        c = math.floor(a) + 1
        while True:
            terms = [math.exp(k * math.log(a) - math.lgamma(k + 1)) for k in range(c)]
            last = math.exp(c * math.log(a) - math.lgamma(c + 1)) * c / (c - a)
            wait = last / (sum(terms) + last)
            if 1 - wait * math.exp(-(c - a) * ANSWER_S / aht) >= SERVICE_LEVEL:
                return c
            c += 1

    for arrivals in (12.0, 200.0, 950.0, 4000.0):
        for aht in (60.0, 180.0, 420.0):
            assert erlang_c_agents(arrivals, aht) == closed_form(arrivals, aht), (arrivals, aht)


def test_solutions_folder_has_one_file_per_lesson():
    stems = sorted(p.stem[:2] for p in Path(SOLUTIONS).glob("0*.py"))
    assert stems == ["01", "02", "03", "04", "05"]
