"""The exercises need the lesson: every solution in notebooks/solutions/ passes the checker; a blank answer and each
wrong answer an exercise lists (the naive estimate, the other level, another exercise's answer, each wrong choice of
an "explain why" question) fail, with a message naming the mistake; the tolerance is tighter than the distance to
every listed mistake; a near miss says by how much to two significant digits; and no answer is one of the
scenario's own numbers.

The solutions are written like a student's (a bootstrap loop, NNLS weights, four means), not by calling the
checker's functions, so a passing solution is a second computation agreeing with the checker.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT

from newretail.exercises import EXERCISES, ExerciseError, Result, check, show, two_digits

SOLUTIONS = ROOT / "notebooks" / "solutions"
LESSONS = ("01", "02", "03", "04", "05", "07")


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


def test_every_exercise_has_a_solution_and_each_lesson_three_with_an_explain_why():
    assert set(SOLVED) == set(EXERCISES)
    for nb in LESSONS:
        ids = [i for i in EXERCISES if i.startswith(nb + ".")]
        assert len(ids) >= 3, nb
        kinds = {EXERCISES[i].kind for i in ids}
        assert "explain why" in kinds and kinds - {"explain why"}, (nb, kinds)
    assert {ex.kind for ex in EXERCISES.values()} >= {"compute", "design", "predict, then run", "explain why"}


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_each_exercise_lists_its_wrong_answers_and_gives_the_idea_not_the_code(exercise: str):
    ex = EXERCISES[exercise]
    if ex.choices:
        assert len(ex.choices) >= 3 and len(ex.wrong) == len(ex.choices) - 1, "every wrong choice says why"
    else:
        assert len(ex.wrong) >= 2, "at least two plausible wrong answers"
    assert all(w.why and w.label for w in ex.wrong)
    # a hint names ideas and columns, not the expression to type: no code span with a call, an index or an operator
    code = [span for span in re.findall(r"`([^`]*)`", ex.hint) if re.search(r"[()\[\]=<>*/+]|\.\w+\(", span)]
    assert code == [], f"{exercise}: the hint spells out code: {code}"


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_solution_passes_blank_and_each_listed_mistake_fail(exercise: str, small_dataset):
    ex = EXERCISES[exercise]
    answer = SOLVED[exercise](small_dataset)
    verdict = check(exercise, answer, ds=small_dataset)
    assert isinstance(verdict, Result) and verdict.correct, repr(verdict)
    assert exercise in show(exercise) and "\n" not in repr(verdict)
    blank = check(exercise, None, ds=small_dataset)
    assert not blank and blank.hint
    expected = ex.expected(small_dataset)
    for wrong in ex.wrong:
        value = wrong.value(small_dataset)
        if not isinstance(value, str):  # the tolerance never reaches a listed mistake
            assert abs(float(value) - float(expected)) > ex.allowed(float(expected)), (exercise, wrong.label)
        verdict = check(exercise, value, ds=small_dataset)
        assert not verdict and verdict.hint, (exercise, wrong.label)
        assert wrong.why in verdict.message, f"{exercise}, {wrong.label}: {verdict.message}"
        if not isinstance(value, str):
            assert wrong.label in verdict.message, f"{exercise}, {wrong.label}: {verdict.message}"


@pytest.mark.parametrize("exercise", sorted(i for i, ex in EXERCISES.items() if not ex.choices))
def test_a_near_miss_says_how_far_in_two_digits(exercise: str, small_dataset):
    ex = EXERCISES[exercise]
    expected = float(ex.expected(small_dataset))
    step = 1.5 * ex.allowed(expected) + 1e-9 * max(abs(expected), 1.0)
    for value, word in ((expected + step, "too high"), (expected - step, "too low")):
        verdict = check(exercise, value, ds=small_dataset)
        assert not verdict
        if "looks like" in verdict.message:  # the near miss happens to be a listed mistake
            continue
        assert word in verdict.message, verdict.message
        assert not re.search(r"by 0(\.0*)?%", verdict.message), verdict.message
        assert re.search(r"by [0-9.,e+-]+% \(", verdict.message) or expected == 0, verdict.message


def test_two_digits_never_rounds_a_miss_to_zero():
    assert two_digits(0.0034) == "0.0034" and two_digits(12.3) == "12" and two_digits(0.336) == "0.34"
    assert two_digits(150.4) == "150" and two_digits(1234.0) == "1,200" and two_digits(3e-9) == "3.0e-09"


def _scenario_numbers(ds) -> list[float]:
    found: list[float] = []

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            found.append(float(node))

    walk(json.loads(ds.scenario.model_dump_json()))
    walk(ds.manifest.get("calibration", {}).get("expected", {}))
    return found


@pytest.mark.parametrize("exercise", sorted(i for i, ex in EXERCISES.items() if not ex.choices))
def test_no_answer_is_a_number_of_the_scenario(exercise: str, small_dataset):
    ex = EXERCISES[exercise]
    expected = float(ex.expected(small_dataset))
    # equal up to rounding (the old 05.2 was the scenario's pilot effect, 0.08, to 16 digits); a wide tolerance that
    # happens to reach a scenario number (60 minutes) is not the answer being one
    same = [v for v in _scenario_numbers(small_dataset) if math.isclose(v, expected, rel_tol=1e-6, abs_tol=1e-12)]
    assert same == [], f"{exercise}: the answer {expected} is a number the scenario already holds"


def test_each_exercise_reads_in_its_notebook_as_the_checker_states_it():
    for exercise, ex in EXERCISES.items():
        path = next((ROOT / "notebooks").glob(f"{exercise[:2]}_*.ipynb"))
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        assert " ".join(ex.prompt.split()) in " ".join(text.split()), f"{exercise}: prompt not in {path.name}"
        for choice in ex.choices:
            assert " ".join(choice.split()) in " ".join(text.split()), f"{exercise}: choice not in {path.name}"
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert f'exercises.check("{exercise}"' in code, f"{exercise}: no check cell in {path.name}"


def test_an_explain_why_answer_is_a_letter(small_dataset):
    assert check("01.4", "(B)", ds=small_dataset).correct
    verdict = check("01.4", "e", ds=small_dataset)
    assert not verdict and "one letter, a to d" in verdict.message
    assert not check("01.4", 2, ds=small_dataset)


def test_checker_refuses_unknown_exercise_and_missing_dataset(small_dataset):
    with pytest.raises(ExerciseError, match="exercise"):
        check("99.9", 1.0, ds=small_dataset)
    with pytest.raises(ExerciseError, match="ds"):
        check("02.1", 1.0, ds=None)  # type: ignore[arg-type]
    assert not check("02.1", "two", ds=small_dataset)


def test_erlang_c_recursion_matches_the_closed_form():
    """The checker's Erlang B recursion against the textbook closed form sum(a^k / k!) evaluated in logs."""
    from newretail.exercises.xiaomi import ANSWER_S, SERVICE_LEVEL, erlang_c_agents, erlang_c_wait

    def closed_form(arrivals: float, aht: float) -> tuple[int, float]:
        a = arrivals * aht / 3600
        c = math.floor(a) + 1
        while True:
            terms = [math.exp(k * math.log(a) - math.lgamma(k + 1)) for k in range(c)]
            last = math.exp(c * math.log(a) - math.lgamma(c + 1)) * c / (c - a)
            wait = last / (sum(terms) + last)
            if 1 - wait * math.exp(-(c - a) * ANSWER_S / aht) >= SERVICE_LEVEL:
                return c, wait
            c += 1

    for arrivals in (12.0, 200.0, 950.0, 4000.0):
        for aht in (60.0, 180.0, 420.0):
            agents, wait = closed_form(arrivals, aht)
            assert erlang_c_agents(arrivals, aht) == agents, (arrivals, aht)
            assert erlang_c_wait(arrivals, aht, agents) == pytest.approx(wait, rel=1e-9), (arrivals, aht)


def test_the_real_data_exercises_agree_with_the_package_estimators():
    """07.1's four means equal the package's DiD on the same quarters (one treated state, one treated quarter)."""
    import polars as pl

    from newretail.exercises.real_data import PLACEBO_QUARTER, POLICY_QUARTER, organ_panel, placebo_did
    from newretail.methods import DiD

    pre = organ_panel().filter(pl.col("quarter") < POLICY_QUARTER)
    pre = pre.with_columns(d=(pl.col("State") == "California") & (pl.col("quarter") >= PLACEBO_QUARTER))
    assert DiD("State", "quarter", "Rate", "d").fit(pre).effect_ == pytest.approx(placebo_did(), abs=1e-12)


def test_solutions_folder_has_one_file_per_lesson():
    stems = sorted(p.stem[:2] for p in Path(SOLUTIONS).glob("0*.py"))
    assert stems == list(LESSONS)
