"""Exercises of notebook 04 (Ali Xiaomi): definitions of a share, queueing and Erlang C, pooling."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from newretail.exercises._base import Exercise

if TYPE_CHECKING:
    from newretail.tables import Dataset

HOUR_US = 3_600_000_000
SERVICE_LEVEL, ANSWER_S = 0.8, 20.0


def bot_share(ds: Dataset) -> float:
    return float(ds.scan("inquiries").select((pl.col("handled_by") == "bot").mean()).collect().item())


def bot_resolved_share(ds: Dataset) -> float:
    expr = ((pl.col("handled_by") == "bot") & pl.col("resolved")).mean()
    return float(ds.scan("inquiries").select(expr).collect().item())


def peak_load(ds: Dataset) -> tuple[float, float]:
    """Arrivals per hour of human-handled inquiries in their busiest hour (weighted) and their mean handling time."""
    human = ds.scan("inquiries", weights=True).filter(pl.col("handled_by") == "human")
    per_hour = human.group_by(hour=pl.col("ts_us") // HOUR_US).agg(n=pl.col("weight").sum()).collect()
    aht = human.select(pl.col("handle_s").mean()).collect().item()
    return float(per_hour["n"].max()), float(aht)  # type: ignore[arg-type]


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


def peak_agents(ds: Dataset) -> float:
    return float(erlang_c_agents(*peak_load(ds), level=0.9, answer_s=30.0))


def peak_agents_in_teams(ds: Dataset, teams: int = 100) -> float:
    arrivals, aht = peak_load(ds)
    return float(teams * erlang_c_agents(arrivals / teams, aht))


EXERCISES = (
    Exercise(
        "04.1",
        "compute",
        "The report's reading: the share of inquiries handled by the bot to their end.",
        "share of inquiries",
        bot_share,
        "`(handled_by == 'bot').mean()` over `inquiries`.",
        abs_tol=1e-9,
    ),
    Exercise(
        "04.2",
        "predict, then run",
        "Guess first how far the share drops when 'handled' must also mean 'resolved'. Then compute the share of "
        "all inquiries that the bot handled and that were resolved.",
        "share of inquiries",
        bot_resolved_share,
        "both conditions at once: `(handled_by == 'bot') & resolved`, averaged over all inquiries.",
        abs_tol=1e-9,
    ),
    Exercise(
        "04.3",
        "compute",
        "Erlang C: in the busiest hour of human-handled inquiries (weighted arrivals per hour; hours from `ts_us`), "
        "with their mean handling time over the day, how many agents in one pooled queue answer 90% within 30 s?",
        "agents",
        peak_agents,
        "load a = arrivals x AHT / 3600; P(wait) from Erlang C; service level = 1 - P(wait) exp(-(c - a) t / AHT); "
        "take the smallest c > a reaching 0.9 with t = 30 s.",
        abs_tol=0.5,
    ),
    Exercise(
        "04.4",
        "design",
        "Pooling: the same hour served by 100 separate teams, each with its own queue and a hundredth of the "
        "arrivals. How many agents in all for the same 80% within 20 s?",
        "agents",
        peak_agents_in_teams,
        "size one team with Erlang C at arrivals / 100, then multiply by 100.",
        abs_tol=0.5,
    ),
)
