"""ErlangC against a published worked example, the textbook factorial formula and a SimPy simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from newretail.analyses.chatbot.staffing import simulate_queue
from newretail.methods import ErlangC, MethodInputError


def test_published_call_centre_example() -> None:
    """pyworkforce's ErlangC tutorial ("Solving Queue Problems with ErlangC",
    https://pyworkforce.readthedocs.io/en/0.5.2/tutorials/erlangc_example.html; the same example as Call Centre
    Helper's "Erlang C Formula - Made Simple With an Easy Worked Example"): 100 calls in 30 minutes, 3 minutes
    handling time, 80% answered within 20 s, 30% shrinkage. Published: 14 raw positions, 20 positions after
    shrinkage, service level 0.888, occupancy 0.714, waiting probability 0.174 (three decimals)."""
    queue = ErlangC(100 / 1800, 180.0)
    assert queue.load_erlangs == pytest.approx(10.0)
    assert queue.agents(0.8, 20.0) == 14
    assert queue.agents(0.8, 20.0, shrinkage=0.3) == 20
    assert round(queue.service_level(14, 20.0), 3) == 0.888
    assert round(queue.occupancy(14), 3) == 0.714
    assert round(queue.p_wait(14), 3) == 0.174
    assert queue.service_level(13, 20.0) < 0.8  # 14 is the fewest


def _by_factorials(n: int, load: float) -> float:
    """Textbook Erlang C with factorial sums: a code path independent of the log-Poisson one."""
    top = load**n / math.factorial(n) * n / (n - load)
    return top / (sum(load**k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize(("rate", "aht"), [(0.05, 200.0), (0.4, 95.0), (1.3, 30.0)])
def test_matches_the_factorial_formula(rate: float, aht: float) -> None:
    queue = ErlangC(rate, aht)
    load = rate * aht
    for n in range(math.floor(load) + 1, math.floor(load) + 6):
        c = _by_factorials(n, load)
        assert queue.p_wait(n) == pytest.approx(c, rel=1e-9)
        assert queue.service_level(n, 15.0) == pytest.approx(1 - c * math.exp(-(n - load) * 15.0 / aht), rel=1e-9)
        assert queue.asa_s(n) == pytest.approx(c * aht / (n - load), rel=1e-9)
    assert queue.service_level(math.floor(load), 15.0) == 0.0  # unstable
    assert queue.asa_s(math.floor(load)) == math.inf


def test_vectorised_queues_equal_one_at_a_time() -> None:
    rates = np.array([0.0, 0.02, 0.3, 2.5])
    many = ErlangC(rates, 120.0).agents(0.9, 30.0, shrinkage=0.25)
    assert many.tolist() == [ErlangC(float(r), 120.0).agents(0.9, 30.0, shrinkage=0.25) for r in rates]
    assert many[0] == 0


def test_agrees_with_a_simpy_simulation() -> None:
    """Eight simulated hours of an M/M/N queue at the staffing Erlang C asks for: the simulated share answered
    within 20 s is within 0.02 of Erlang C's promise (the runs' standard error is about 0.005)."""
    rate, aht, answer = 0.25, 60.0, 20.0
    queue = ErlangC(rate, aht)
    agents = queue.agents(0.8, answer)
    levels, waits = [], []
    for rep in range(4):
        rng = np.random.default_rng([7, rep])
        length = 8 * 3600.0
        arrivals = np.sort(rng.uniform(-1800.0, length, rng.poisson(rate * (length + 1800.0))))
        run = simulate_queue(
            arrivals, rng.exponential(aht, arrivals.size), agents=agents, answer_s=answer, count_from_s=0.0
        )
        levels.append(run.service_level)
        waits.append(run.mean_wait_s)
    assert np.mean(levels) == pytest.approx(queue.service_level(agents, answer), abs=0.02)
    assert np.mean(waits) == pytest.approx(queue.asa_s(agents), abs=1.0)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: ErlangC(-1.0, 10.0), "arrivals_per_s"),
        (lambda: ErlangC(1.0, 0.0), "handle_s"),
        (lambda: ErlangC(float("nan"), 10.0), "arrivals_per_s"),
        (lambda: ErlangC("1", 10.0), "arrivals_per_s"),
        (lambda: ErlangC(1.0, 10.0).agents(80.0, 20.0), "service_level"),
        (lambda: ErlangC(1.0, 10.0).agents(0.8, 20.0, shrinkage=1.0), "shrinkage"),
        (lambda: ErlangC(1.0, 10.0).agents(0.8, -1.0), "answer_s"),
        (lambda: ErlangC(1.0, 10.0).service_level(2.5, 20.0), "agents"),
        (lambda: ErlangC(1.0, 10.0).p_wait(-3), "agents"),
    ],
)
def test_bad_inputs_are_refused_naming_the_argument(call: object, name: str) -> None:
    with pytest.raises(MethodInputError, match=rf"^{name}\b"):
        call()  # type: ignore[operator]


def _pyworkforce_positions(queue: ErlangC, level: float, answer: float, shrinkage: float, cap: float) -> int:
    """pyworkforce's ``ErlangC.required_positions`` written out by hand (pyworkforce is not installed): the fewest
    agents meeting the service level; if their occupancy A / N exceeds ``max_occupancy``, N = ceil(A /
    max_occupancy) instead; then ``ceil(N / (1 - shrinkage))``. The service-level count comes from the uncapped
    answer, itself checked against the factorial formula above."""
    raw = queue.agents(level, answer, max_occupancy=None)
    load = queue.load_erlangs
    if load / raw > cap:
        raw = math.ceil(load / cap)
    return math.ceil(raw / (1 - shrinkage))


def test_max_occupancy_caps_staffing_at_three_and_a_half_million_inquiries_a_day() -> None:
    """Ali Xiaomi's 3.5 million inquiries in a day at the published example's 180 s handling time: A = 7,292
    Erlangs. Erlang C alone meets 80% within 20 s with 7,305 agents busy 99.8% of the time (its economies of scale); the
    default cap of 85% staffs ceil(A / 0.85) = 8,579 agents instead: occupancy A / N at most 0.85, and one agent fewer
    would exceed it (the closed form of the cap)."""
    queue = ErlangC(3.5e6 / 86_400, 180.0)
    load = queue.load_erlangs
    assert load == pytest.approx(7_291.67, abs=0.01)
    uncapped = queue.agents(0.8, 20.0, max_occupancy=None)
    assert queue.occupancy(uncapped) > 0.99
    capped = queue.agents(0.8, 20.0)
    assert capped == math.ceil(load / 0.85) == 8_579
    assert queue.occupancy(capped) == pytest.approx(load / capped) and load / capped <= 0.85 < load / (capped - 1)
    assert queue.service_level(capped, 20.0) >= 0.8


@pytest.mark.parametrize(
    ("rate", "aht", "level", "answer", "shrinkage", "cap"),
    [
        (100 / 1800, 180.0, 0.8, 20.0, 0.3, 0.85),  # pyworkforce's tutorial: the cap does not bind (14, then 20)
        (100 / 1800, 180.0, 0.8, 20.0, 0.3, 0.6),  # it binds: ceil(10 / 0.6) = 17, then ceil(17 / 0.7) = 25
        (0.5, 240.0, 0.9, 15.0, 0.0, 0.9),
        (12.0, 300.0, 0.8, 20.0, 0.25, 0.85),
        (0.01, 60.0, 0.95, 10.0, 0.1, 0.5),
        (2.0, 30.0, 0.5, 60.0, 0.0, 1.0),
    ],
)
def test_max_occupancy_agrees_with_pyworkforces_rule(
    rate: float, aht: float, level: float, answer: float, shrinkage: float, cap: float
) -> None:
    queue = ErlangC(rate, aht)
    expected = _pyworkforce_positions(queue, level, answer, shrinkage, cap)
    assert queue.agents(level, answer, shrinkage=shrinkage, max_occupancy=cap) == expected
    if (rate, cap) == (100 / 1800, 0.6):
        assert expected == 25


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan"), "0.8", True])
def test_a_bad_max_occupancy_is_refused_by_name(bad: object) -> None:
    with pytest.raises(MethodInputError, match=r"^max_occupancy: must be a share in \(0, 1\] or None, got "):
        ErlangC(1.0, 10.0).agents(0.8, 20.0, max_occupancy=bad)  # type: ignore[arg-type]
