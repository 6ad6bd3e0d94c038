"""Exercises of notebook 04 (Ali Xiaomi): a share in a subgroup, queueing and Erlang C, pooling."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from newretail.exercises._base import Exercise, Wrong

if TYPE_CHECKING:
    from newretail.tables import Dataset

HOUR_US = 3_600_000_000
SERVICE_LEVEL, ANSWER_S = 0.8, 20.0  # the lesson's staffing rule
TEAMS, TEAM_LEVEL, TEAM_ANSWER_S = 20, 0.9, 30.0  # 04.3's variant of it
BOT = pl.col("handled_by") == "bot"
COMPLAINT = pl.col("intent") == "complaint"


def _mean(ds: Dataset, expr: pl.Expr, where: pl.Expr | None = None) -> float:
    lf = ds.scan("inquiries")
    if where is not None:
        lf = lf.filter(where)
    return float(lf.select(expr.cast(pl.Float64).mean()).collect().item())


def bot_share(ds: Dataset) -> float:
    """Share of all inquiries the bot kept to the end (the report's reading)."""
    return _mean(ds, BOT)


def complaint_bot_share(ds: Dataset) -> float:
    """The same among complaints."""
    return _mean(ds, BOT, COMPLAINT)


def peak_load(ds: Dataset) -> tuple[float, float]:
    """Arrivals per hour of human-handled inquiries in their busiest hour (weighted) and their mean handling time."""
    human = ds.scan("inquiries", weights=True).filter(pl.col("handled_by") == "human")
    per_hour = human.group_by(hour=pl.col("ts_us") // HOUR_US).agg(n=pl.col("weight").sum()).collect()
    aht = human.select(pl.col("handle_s").mean()).collect().item()
    return float(per_hour["n"].max()), float(aht)  # type: ignore[arg-type]


def erlang_c_wait(arrivals_per_hour: float, aht_s: float, agents: int) -> float:
    """Chance that a customer waits at all (Erlang C), by the Erlang B recursion."""
    load = arrivals_per_hour * aht_s / 3600.0
    if agents <= load:
        return 1.0
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return agents * blocking / (agents - load * (1 - blocking))


def service_level(arrivals_per_hour: float, aht_s: float, agents: int, answer_s: float = ANSWER_S) -> float:
    """Share answered within ``answer_s`` seconds with ``agents`` agents (Erlang C)."""
    load = arrivals_per_hour * aht_s / 3600.0
    if agents <= load:
        return 0.0
    return 1 - erlang_c_wait(arrivals_per_hour, aht_s, agents) * math.exp(-(agents - load) * answer_s / aht_s)


def erlang_c_agents(
    arrivals_per_hour: float, aht_s: float, level: float = SERVICE_LEVEL, answer_s: float = ANSWER_S
) -> int:
    """Fewest agents answering ``level`` of calls within ``answer_s`` seconds (Erlang C, by the Erlang B recursion)."""
    load = arrivals_per_hour * aht_s / 3600.0
    blocking, agents = 1.0, 0
    while True:
        agents += 1
        blocking = load * blocking / (agents + load * blocking)
        if agents <= load:
            continue
        wait = agents * blocking / (agents - load * (1 - blocking))
        if 1 - wait * math.exp(-(agents - load) * answer_s / aht_s) >= level:
            return agents


def peak_wait(ds: Dataset, teams: int = 1) -> float:
    """Share of customers who wait at all in the busiest hour, ``teams`` queues staffed for the lesson's rule."""
    arrivals, aht = peak_load(ds)
    return erlang_c_wait(arrivals / teams, aht, erlang_c_agents(arrivals / teams, aht))


def peak_service_level(ds: Dataset) -> float:
    arrivals, aht = peak_load(ds)
    return service_level(arrivals, aht, erlang_c_agents(arrivals, aht))


def team_agents(ds: Dataset, teams: int = TEAMS, level: float = TEAM_LEVEL, answer_s: float = TEAM_ANSWER_S) -> float:
    """Agents in all for ``teams`` separate queues, each with 1/teams of the busiest hour's arrivals."""
    arrivals, aht = peak_load(ds)
    return float(teams * erlang_c_agents(arrivals / teams, aht, level=level, answer_s=answer_s))


def offered_load(ds: Dataset) -> float:
    arrivals, aht = peak_load(ds)
    return float(math.ceil(arrivals * aht / 3600.0))


EXERCISES = (
    Exercise(
        "04.1",
        "compute",
        "A subgroup: the share of *complaints* (`intent == 'complaint'`) that the bot kept to their end.",
        "share of inquiries",
        complaint_bot_share,
        "The report's reading applied to one kind of inquiry: the denominator is every complaint, whoever handled it.",
        abs_tol=1e-9,
        wrong=(
            Wrong("the share over all inquiries", bot_share, "keep only the complaints before taking the share."),
            Wrong(
                "the share resolved by the bot",
                lambda ds: _mean(ds, BOT & pl.col("resolved"), COMPLAINT),
                "kept to the end is not resolved: count every complaint the bot handled.",
            ),
            Wrong(
                "the share of the bot's inquiries that are complaints",
                lambda ds: _mean(ds, COMPLAINT, BOT),
                "the denominator is the complaints, not the bot's inquiries.",
            ),
        ),
    ),
    Exercise(
        "04.2",
        "predict, then run",
        "Predict first: with one pooled queue staffed with the fewest agents that answer 80% of customers within "
        "20 s, what share of customers waits at all? Then compute it for the busiest hour of human-handled "
        "inquiries (weighted arrivals per hour, hours from `ts_us`, their mean handling time over the day): "
        "Erlang C's P(wait) at that number of agents.",
        "share of customers",
        peak_wait,
        "First find the fewest agents c reaching the service level (as in the lesson's Erlang C by hand), then "
        "evaluate Erlang C's chance of waiting at that c. A large queue can answer 80% within 20 s and still make "
        "most customers wait a few seconds.",
        abs_tol=1e-6,
        wrong=(
            Wrong(
                "the share not answered within 20 s",
                lambda ds: 1 - peak_service_level(ds),
                "waiting at all is more common than waiting longer than 20 s: compute P(wait) itself.",
            ),
            Wrong(
                "the service level",
                peak_service_level,
                "the service level is the share answered within 20 s; the question asks who waits at all.",
            ),
            Wrong(
                "P(wait) in each of 100 team queues",
                lambda ds: peak_wait(ds, teams=100),
                "the question is about one pooled queue with all the arrivals.",
            ),
        ),
    ),
    Exercise(
        "04.3",
        "design",
        "Pooling, another rule: the busiest hour served by 20 separate teams, each with its own queue and a "
        "twentieth of the arrivals. How many agents in all to answer 90% of customers within 30 s?",
        "agents",
        team_agents,
        "Size one team with Erlang C at its share of the arrivals and the new service level, then count all teams.",
        abs_tol=0.5,
        wrong=(
            Wrong(
                "one pooled queue at the same rule",
                lambda ds: team_agents(ds, teams=1),
                "split the arrivals over 20 queues and staff each on its own.",
            ),
            Wrong(
                "20 teams at the lesson's 80% within 20 s",
                lambda ds: team_agents(ds, level=SERVICE_LEVEL, answer_s=ANSWER_S),
                "use the new rule: 90% answered within 30 s.",
            ),
            Wrong(
                "100 teams",
                lambda ds: team_agents(ds, teams=100),
                "the question has 20 teams.",
            ),
            Wrong(
                "the offered load",
                offered_load,
                "as many agents as the load keeps busy leaves no one free: queues grow without end.",
            ),
        ),
    ),
    Exercise(
        "04.4",
        "explain why",
        "100 separate team queues need more agents in all than one pooled queue for the same service "
        "level. Which reason is right?",
        "choice",
        lambda ds: "a",
        "Think of one team with a sudden burst of customers while the agents of another team sit idle.",
        choices=(
            "Each small queue must keep spare agents for its own random bursts; in one pool an idle agent anywhere "
            "takes the next customer, so the spare capacity is shared.",
            "Agents in small teams handle each inquiry more slowly.",
            "The teams' service level is measured per team, which is stricter than over all customers.",
            "Erlang C overstates the agents a small queue needs.",
        ),
        wrong=(
            Wrong("b", "b", "the calculation uses the same handling time for every queue."),
            Wrong("c", "c", "each team meets the same rule; the same share of all customers is answered in time."),
            Wrong("d", "d", "Erlang C is exact for Poisson arrivals and exponential times, small queue or large."),
        ),
    ),
)
