"""Staffing the human queue: agents needed per hour for a service level by Erlang C, checked by simulation.

The inquiries the bot does not keep wait for a person. With arrivals at rate ``lambda`` per second, a mean handling
time ``AHT`` and ``N`` agents, the offered load is ``A = lambda * AHT`` Erlangs and Erlang C gives the chance that a
customer waits at all, ``C(N, A)``, and the service level (share answered within ``T`` seconds)
``1 - C(N, A) exp(-(N - A) T / AHT)``. Its assumptions (Poisson arrivals at a steady rate, exponential handling
times, nobody hangs up) are checked at the peak hour by a discrete-event simulation with SimPy, first under those
assumptions and then with the observed handling times and the observed minute-by-minute arrivals.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from newretail.analyses.chatbot._data import HUMAN, inquiries, interval_index
from newretail.methods import MethodInputError
from newretail.methods.comparisons import mean_interval
from newretail.methods.queueing import ErlangC
from newretail.methods.resampling import CONFIDENCE, GROUPS, Estimate, bootstrap_interval
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "PeakHourCheck",
    "QueueResult",
    "StaffingPlan",
    "erlang_c_agents",
    "erlang_c_service_level",
    "peak_hour_check",
    "simulate_queue",
    "staffing_plan",
]


@contextmanager
def _named_as_here() -> Iterator[None]:
    """Errors from :class:`ErlangC` with its argument names replaced by this module's (``aht_s``, ...)."""
    try:
        yield
    except MethodInputError as err:
        message = str(err).replace("handle_s", "aht_s").replace("arrivals_per_s", "arrival_rate_per_s")
        raise MethodInputError(message) from None


def erlang_c_service_level(
    agents: int | np.ndarray,
    arrival_rate_per_s: float | np.ndarray,
    aht_s: float | np.ndarray,
    *,
    answer_s: float = 20.0,
) -> np.ndarray:
    """Share of customers answered within ``answer_s`` seconds by ``agents`` agents, element-wise: a shortcut to
    :meth:`newretail.methods.ErlangC.service_level` (0 where ``A >= N``, 1 where nobody arrives)."""
    with _named_as_here():
        return np.asarray(ErlangC(arrival_rate_per_s, aht_s).service_level(agents, answer_s))


def erlang_c_agents(
    arrival_rate_per_s: float | np.ndarray,
    aht_s: float | np.ndarray,
    *,
    service_level: float = 0.8,
    answer_s: float = 20.0,
) -> np.ndarray:
    """Fewest agents answering ``service_level`` of customers within ``answer_s`` seconds, element-wise (int64): a
    shortcut to :meth:`newretail.methods.ErlangC.agents`."""
    with _named_as_here():
        return np.asarray(ErlangC(arrival_rate_per_s, aht_s).agents(service_level, answer_s), dtype=np.int64)


@dataclass(frozen=True)
class StaffingPlan:
    """Agents needed in each interval of the day for the human queue.

    ``table``: ``interval``, ``start_h`` (hour of day the interval starts), ``human_inquiries`` (full scale),
    ``arrival_rate_per_s``, ``load_erlangs``, ``agents`` (all teams) with ``agents_low``/``agents_high`` (95%
    bootstrap over the sampled inquiries), ``agents_per_team``, ``service_level`` (Erlang C at the team's agents)
    and ``occupancy`` (load over agents).
    """

    table: pl.DataFrame
    aht_s: Estimate
    agent_hours: Estimate
    service_level_target: float
    answer_s: float
    interval_min: int
    teams: int

    @property
    def peak(self) -> dict[str, float]:
        """The interval with the most arrivals, as a dict of its ``table`` row."""
        row: dict[str, float] = self.table.row(int(self.table["arrival_rate_per_s"].arg_max() or 0), named=True)
        return row

    def plot(self) -> Figure:
        """Agents needed per interval (with intervals) and human inquiries per minute."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 3.6))
        t = self.table
        width = self.interval_min / 60
        agents = t["agents"].to_numpy()
        err = np.vstack([agents - t["agents_low"].to_numpy(), t["agents_high"].to_numpy() - agents])
        ax.bar(t["start_h"], agents, width=width * 0.9, align="edge", color="tab:orange", alpha=0.8, label="agents")
        ax.errorbar(t["start_h"] + width / 2, agents, yerr=err, fmt="none", ecolor="black", capsize=2)
        ax.set(xlabel="hour of the day", ylabel="agents needed (Erlang C)", xlim=(0, 24))
        ax.set_xticks(range(0, 25, 3))
        rate = ax.twinx()
        rate.plot(t["start_h"] + width / 2, t["arrival_rate_per_s"] * 60, color="black", marker=".", label="arrivals")
        rate.set_ylabel("human inquiries per minute")
        rate.set_ylim(0, None)
        ax.set_title(
            f"{self.service_level_target:.0%} answered within {self.answer_s:.0f} s, "
            f"mean handling {self.aht_s.value:.0f} s"
        )
        fig.tight_layout()
        return fig


def staffing_plan(
    ds: Dataset, *, service_level: float = 0.8, answer_s: float = 20.0, interval_min: int = 60, teams: int = 1
) -> StaffingPlan:
    """Agents needed per ``interval_min`` minutes for the inquiries that reach people, by Erlang C.

    Parameters
    ----------
    ds : the dataset.
    service_level : target share of customers answered within ``answer_s`` seconds, in (0, 1).
    answer_s : answer time, seconds.
    interval_min : planning interval, minutes (dividing a day).
    teams : independent teams with their own queue, sharing the arrivals equally (as shops on a marketplace
        staff their own service desks); 1 is one pooled queue. Each team is staffed by Erlang C.

    The arrival rate of each interval is the full-scale count of human-handled inquiries opened in it over its
    length; the handling time is the day's mean over human-handled inquiries (seconds). Intervals (95%) are a
    bootstrap over random groups of sampled inquiries, carrying the error of both.
    """
    if not (isinstance(service_level, float) and 0.0 < service_level < 1.0):
        raise ValueError(f"service_level = {service_level!r}: must be a share in (0, 1), e.g. 0.8")
    if not (isinstance(answer_s, (int, float)) and np.isfinite(answer_s) and answer_s >= 0):
        raise ValueError(f"answer_s = {answer_s!r}: must be a number of seconds >= 0")
    if not (isinstance(teams, int) and teams >= 1):
        raise ValueError(f"teams = {teams!r}: must be a whole number >= 1")
    k = interval_index(interval_min)
    intervals = 1440 // interval_min
    w = pl.col("weight")
    cells = (
        inquiries(ds)
        .filter(HUMAN)
        .group_by((pl.col("inquiry_id") % GROUPS).cast(pl.Int64).alias("g"), k.alias("k"))
        .agg(n=w.sum(), handle=(w * pl.col("handle_s")).sum())
        .collect(engine="streaming")
    )
    if cells.height == 0:
        raise ValueError(f"dataset {ds.path}: no inquiry reached a person (generate at a larger scale)")
    counts = np.zeros((intervals, GROUPS))
    counts[cells["k"].to_numpy(), cells["g"].to_numpy()] = cells["n"].to_numpy()
    handle = np.zeros(GROUPS)
    np.add.at(handle, cells["g"].to_numpy(), cells["handle"].to_numpy())
    seconds = interval_min * 60.0
    hours = interval_min / 60.0

    def plan(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        *per_interval, handled = samples
        n = np.stack([c.sum(axis=axis) for c in per_interval])
        aht = handled.sum(axis=axis) / n.sum(axis=0)
        agents = teams * erlang_c_agents(n / seconds / teams, aht, service_level=service_level, answer_s=answer_s)
        return np.concatenate([agents, agents.sum(axis=0, keepdims=True) * hours, np.expand_dims(aht, 0)], axis=0)

    samples = (*counts, handle)
    value = plan(*samples)
    low, high = bootstrap_interval(samples, plan)
    total = counts.sum(axis=1)
    rate = total / seconds
    aht = float(value[-1])
    agents = value[:intervals].astype(np.int64)
    table = pl.DataFrame(
        {
            "interval": np.arange(intervals, dtype=np.int32),
            "start_h": np.arange(intervals) * hours,
            "human_inquiries": total,
            "arrival_rate_per_s": rate,
            "load_erlangs": rate * aht,
            "agents": agents,
            "agents_low": low[:intervals],
            "agents_high": high[:intervals],
            "agents_per_team": agents // teams,
            "service_level": erlang_c_service_level(agents // teams, rate / teams, aht, answer_s=answer_s),
            "occupancy": np.where(agents > 0, rate * aht / np.maximum(agents, 1), 0.0),
        }
    )
    return StaffingPlan(
        table=table,
        aht_s=Estimate(aht, float(low[-1]), float(high[-1])),
        agent_hours=Estimate(float(value[intervals]), float(low[intervals]), float(high[intervals])),
        service_level_target=service_level,
        answer_s=float(answer_s),
        interval_min=interval_min,
        teams=teams,
    )


@dataclass(frozen=True)
class QueueResult:
    """One simulated run: share answered within the answer time, mean wait (s) and customers counted."""

    service_level: float
    mean_wait_s: float
    customers: int


def simulate_queue(
    arrival_s: np.ndarray,
    service_s: np.ndarray,
    *,
    agents: int,
    answer_s: float = 20.0,
    count_from_s: float = 0.0,
    team: np.ndarray | None = None,
) -> QueueResult:
    """First-come first-served queues with ``agents`` agents each, simulated with SimPy.

    Parameters
    ----------
    arrival_s : arrival times, seconds.
    service_s : handling time of each arrival, seconds.
    agents : agents answering in each team.
    answer_s : answer time of the service level, seconds.
    count_from_s : only customers arriving at or after this time are counted (earlier ones warm the queue up).
    team : the team (0, 1, ...) whose queue each arrival joins; default one team.
    """
    import simpy

    arrival = np.asarray(arrival_s, dtype=np.float64)
    service = np.asarray(service_s, dtype=np.float64)
    which = np.zeros(arrival.size, dtype=np.int64) if team is None else np.asarray(team, dtype=np.int64)
    if arrival.shape != service.shape or arrival.shape != which.shape or arrival.ndim != 1:
        raise ValueError("arrival_s, service_s, team: must be 1-d arrays of equal length")
    if not (isinstance(agents, (int, np.integer)) and agents >= 1):
        raise ValueError(f"agents = {agents!r}: must be a whole number >= 1")
    if which.size and which.min() < 0:
        raise ValueError("team: must be team numbers 0, 1, ...")
    if arrival.size == 0:
        return QueueResult(float("nan"), float("nan"), 0)
    order = np.argsort(arrival, kind="stable")
    env = simpy.Environment(initial_time=float(arrival[order[0]]))
    desks = [simpy.Resource(env, capacity=int(agents)) for _ in range(int(which.max()) + 1)]
    waits = np.full(arrival.size, np.nan)

    def customer(i: int, at: float, hold: float, desk: simpy.Resource) -> Generator[Any, Any, None]:
        yield env.timeout(at - env.now)
        with desk.request() as turn:
            yield turn
            waits[i] = env.now - at
            yield env.timeout(hold)

    # one process per customer, scheduled up front (Python floats: SimPy's event heap is faster with them)
    for i, at, hold, k in zip(
        order.tolist(), arrival[order].tolist(), service[order].tolist(), which[order].tolist(), strict=True
    ):
        env.process(customer(i, at, hold, desks[k]))
    env.run()
    counted = waits[arrival >= count_from_s]
    if counted.size == 0:
        return QueueResult(float("nan"), float("nan"), 0)
    return QueueResult(float(np.mean(counted <= answer_s)), float(np.mean(counted)), int(counted.size))


@dataclass(frozen=True)
class PeakHourCheck:
    """Erlang C's service level at the peak interval against simulated ones.

    ``table``: ``case``, ``arrivals`` and ``handling`` (what the case assumes), ``service_level`` with
    ``ci_low``/``ci_high`` (95% t interval over replications; none for the formula), ``run_min``/``run_max`` (the
    lowest and highest service level of a single simulated interval) and ``mean_wait_s``.
    """

    table: pl.DataFrame
    agents_per_team: int
    teams: int
    start_h: float
    arrival_rate_per_s: float
    aht_s: float
    service_level_target: float
    replications: int
    warmup_s: float

    def level(self, case: str) -> float:
        """Service level of one case."""
        rows = self.table.filter(pl.col("case") == case)
        if rows.height == 0:
            raise ValueError(f"case = {case!r}: must be one of {', '.join(self.table['case'])}")
        return float(rows["service_level"][0])

    def plot(self) -> Figure:
        """Service level per case with its interval and the range of single runs, against the target."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 0.6 * self.table.height + 1.4))
        t = self.table.reverse()
        y = np.arange(t.height)
        level = t["service_level"].to_numpy() * 100
        low = np.nan_to_num(level - t["ci_low"].to_numpy() * 100)
        high = np.nan_to_num(t["ci_high"].to_numpy() * 100 - level)
        ax.barh(y, level, color=["tab:grey" if c == "Erlang C" else "tab:orange" for c in t["case"]], alpha=0.8)
        ax.errorbar(level, y, xerr=np.vstack([low, high]), fmt="none", ecolor="black", capsize=3, label="95% interval")
        runs = np.isfinite(t["run_min"].to_numpy())
        ax.scatter(t["run_min"].to_numpy()[runs] * 100, y[runs], marker="|", color="black", s=120, label="single runs")
        ax.scatter(t["run_max"].to_numpy()[runs] * 100, y[runs], marker="|", color="black", s=120)
        ax.axvline(self.service_level_target * 100, color="tab:red", linestyle="--", label="target")
        ax.set_yticks(y, t["case"].to_list(), fontsize=8)
        ax.set(xlabel="share answered in time, %", xlim=(0, 101))
        team = (
            f"{self.teams} teams of {self.agents_per_team} agents"
            if self.teams > 1
            else f"{self.agents_per_team} agents"
        )
        ax.set_title(f"{team} from {self.start_h:.0f} h, {self.arrival_rate_per_s * 60:.0f} arrivals per minute")
        ax.legend(frameon=False, loc="lower right", fontsize=7)
        fig.tight_layout()
        return fig


CASES: dict[str, tuple[str, str]] = {
    "Erlang C": ("steady Poisson", "exponential"),
    "simulated, Erlang's assumptions": ("steady Poisson", "exponential"),
    "simulated, observed handling times": ("steady Poisson", "observed"),
    "simulated, observed minute-by-minute arrivals": ("observed per minute", "observed"),
}
"""The cases :func:`peak_hour_check` can run: name -> (arrivals, handling times)."""


def _minute_profile(ds: Dataset, plan: StaffingPlan) -> np.ndarray:
    """Human arrivals per second in each minute of the plan's peak interval: all inquiries (many rows) per minute,
    scaled to the interval's human inquiries."""
    peak = plan.peak
    start_min = int(peak["interval"]) * plan.interval_min
    per_min = (
        inquiries(ds)
        .filter(interval_index(plan.interval_min) == int(peak["interval"]))
        .group_by((pl.col("ts_us") // 60_000_000 - start_min).cast(pl.Int32).alias("m"))
        .agg(n=pl.col("weight").sum())
        .collect()
    )
    profile = np.zeros(plan.interval_min)
    profile[per_min["m"].to_numpy()] = per_min["n"].to_numpy()
    return profile * (peak["human_inquiries"] / max(profile.sum(), 1.0) / 60.0)


def peak_hour_check(
    ds: Dataset,
    plan: StaffingPlan,
    *,
    replications: int = 3,
    seed: int = 0,
    warmup_s: float | None = None,
    cases: tuple[str, ...] = tuple(CASES),
) -> PeakHourCheck:
    """Simulate the peak interval of ``plan`` with its Erlang C agents and compare service levels.

    Parameters
    ----------
    ds : the dataset the plan was made from (for handling times and the minute-by-minute arrivals).
    plan : a :func:`staffing_plan`; its teams are simulated as separate queues, arrivals joining one at random.
    replications : simulated runs per case (their spread gives a 95% t interval).
    seed : seed of the simulated arrivals, teams and handling times.
    warmup_s : seconds simulated before the interval so the queues start in their usual state (default: five mean
        handling times). Steady cases warm up at the interval's rate; the minute-by-minute case at the rate of the
        interval before it.
    cases : which of :data:`CASES` to run.
    """
    if not (isinstance(replications, int) and replications >= 2):
        raise ValueError(f"replications = {replications!r}: must be a whole number >= 2")
    if unknown := [c for c in cases if c not in CASES]:
        raise ValueError(f"cases: unknown {', '.join(map(repr, unknown))}; must be among {', '.join(CASES)}")
    peak = plan.peak
    agents, rate, aht = int(peak["agents_per_team"]), float(peak["arrival_rate_per_s"]), plan.aht_s.value
    if agents < 1:
        raise ValueError("plan: no agents are needed at its peak (no human inquiries)")
    warmup = 5.0 * aht if warmup_s is None else float(warmup_s)
    length = plan.interval_min * 60.0
    before = float(plan.table["arrival_rate_per_s"][(int(peak["interval"]) - 1) % plan.table.height])
    handled = inquiries(ds).filter(HUMAN).select("handle_s").collect()["handle_s"].to_numpy()
    profile = _minute_profile(ds, plan)

    def arrivals(rng: np.random.Generator, steady: bool) -> np.ndarray:
        warm = rng.uniform(-warmup, 0.0, rng.poisson((rate if steady else before) * warmup))
        if steady:
            main = rng.uniform(0.0, length, rng.poisson(rate * length))
        else:
            counts = rng.poisson(profile * 60.0)
            main = np.repeat(np.arange(profile.size) * 60.0, counts) + rng.uniform(0.0, 60.0, counts.sum())
        return np.concatenate([warm, main])

    rows = []
    for case_no, case in enumerate(cases):
        arrive, handling = CASES[case]
        if case == "Erlang C":
            level = float(erlang_c_service_level(agents, rate / plan.teams, aht, answer_s=plan.answer_s))
            rows.append(
                {"case": case, "arrivals": arrive, "handling": handling, "service_level": level}
                | dict.fromkeys(("ci_low", "ci_high", "run_min", "run_max", "mean_wait_s"), float("nan"))
            )
            continue
        runs = []
        for rep in range(replications):
            rng = np.random.default_rng([seed, case_no, rep])
            times = arrivals(rng, arrive == "steady Poisson")
            service = rng.exponential(aht, times.size) if handling == "exponential" else rng.choice(handled, times.size)
            team = rng.integers(0, plan.teams, times.size)
            runs.append(simulate_queue(times, service, agents=agents, answer_s=plan.answer_s, team=team))
        levels = np.array([r.service_level for r in runs])
        _, low, high = mean_interval(levels, alpha=1.0 - CONFIDENCE)
        rows.append(
            {
                "case": case,
                "arrivals": arrive,
                "handling": handling,
                "service_level": float(levels.mean()),
                "ci_low": float(max(low, 0.0)),
                "ci_high": float(min(high, 1.0)),
                "run_min": float(levels.min()),
                "run_max": float(levels.max()),
                "mean_wait_s": float(np.mean([r.mean_wait_s for r in runs])),
            }
        )
    return PeakHourCheck(
        table=pl.DataFrame(rows),
        agents_per_team=agents,
        teams=plan.teams,
        start_h=float(peak["start_h"]),
        arrival_rate_per_s=rate,
        aht_s=aht,
        service_level_target=plan.service_level_target,
        replications=replications,
        warmup_s=warmup,
    )
