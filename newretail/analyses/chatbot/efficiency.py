"""What "10,000 times more efficient than human customer service" can mean.

An efficiency ratio divides what the bot does per unit of something by what a person does per unit of something
else; the figure depends on both units. :func:`efficiency_ratios` computes the ratio under several explicit
definitions, each from the data (handling times, concurrency, resolution, repeat contacts, arrivals per hour) and
the scenario's parameters (the agents' occupancy), plus the cost assumptions passed in. Some definitions reach the
report's 10,000; others land near 10.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.analyses.chatbot._data import BOT, HUMAN, group_sums, interval_index
from newretail.methods.queueing import ErlangC
from newretail.methods.resampling import bootstrap_interval
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["EFFICIENCY_DEFINITIONS", "Efficiency", "efficiency_ratios"]

EFFICIENCY_DEFINITIONS: dict[str, str] = {
    "per_conversation": "one bot conversation slot against one paid agent: inquiries per hour each",
    "concurrency": "conversations a bot instance holds at once against an agent's one",
    "per_instance_hour": "inquiries per bot instance-hour against inquiries per paid agent-hour",
    "resolved_per_instance_hour": "resolved inquiries per bot instance-hour against per paid agent-hour",
    "per_staffed_agent_hour": "inquiries per bot instance-hour against per agent-hour staffed by Erlang C",
    "cost_per_resolved_compute": "cost per resolved inquiry, the bot's computing cost only",
    "cost_per_resolved_with_fallback": "cost per resolved inquiry, the bot's failed customers writing again to people",
    "system_vs_agent_shift": "all the bot's inquiries on the day against one agent's shift",
}


@dataclass(frozen=True)
class Efficiency:
    """The bot-to-human ratio under each definition in :data:`EFFICIENCY_DEFINITIONS`.

    ``table``: ``definition``, ``meaning``, ``bot`` and ``bot_unit``, ``human`` and ``human_unit`` (what each side
    does per its unit), ``ratio`` (bot over human; for costs, human cost over bot cost) with 95% bootstrap
    ``ci_low``/``ci_high``. ``inputs``: the measured quantities and assumptions the ratios are made of.
    """

    table: pl.DataFrame
    inputs: dict[str, float]
    target_ratio: float

    def ratio(self, definition: str) -> float:
        """The ratio under one definition."""
        if definition not in EFFICIENCY_DEFINITIONS:
            raise ValueError(f"definition = {definition!r}: must be one of {', '.join(EFFICIENCY_DEFINITIONS)}")
        return float(self.table.filter(pl.col("definition") == definition)["ratio"][0])

    def plot(self) -> Figure:
        """Ratios per definition on a log scale, with intervals, the reported ratio and 10; each row named in words
        and its ratio printed at the end of its bar."""
        import matplotlib.pyplot as plt

        labels = {
            "per_conversation": "one conversation each, per hour",
            "concurrency": "conversations held at once",
            "per_instance_hour": "bot instance-hour vs paid agent-hour",
            "resolved_per_instance_hour": "the same, resolved inquiries only",
            "per_staffed_agent_hour": "vs agent-hours staffed by Erlang C",
            "cost_per_resolved_compute": "cost per resolved inquiry, computing only",
            "cost_per_resolved_with_fallback": "cost, failed customers writing to people",
            "system_vs_agent_shift": "the whole bot vs one agent's shift",
        }
        t = self.table.reverse()
        y = np.arange(t.height)
        ratio = t["ratio"].to_numpy()
        err = np.vstack([ratio - t["ci_low"].to_numpy(), t["ci_high"].to_numpy() - ratio])
        with plt.rc_context({"font.size": 11}):
            fig, ax = plt.subplots(figsize=(9.5, 4.6), layout="constrained")
            ax.barh(y, ratio, color="tab:blue", alpha=0.7)
            ax.errorbar(ratio, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="black", capsize=3)
            for yi, value, high in zip(y, ratio, t["ci_high"].to_numpy(), strict=True):
                ax.text(high * 1.25, float(yi), f"{value:,.0f}×" if value >= 100 else f"{value:.1f}×", va="center")
            ax.axvline(self.target_ratio, color="tab:red", linestyle="--", label=f"reported {self.target_ratio:,.0f}×")
            ax.axvline(10.0, color="tab:grey", linestyle=":", label="10×")
            ax.set_xscale("log")
            ax.set_xlim(right=ratio.max() * 12)
            ax.set_yticks(y, [labels.get(d, d.replace("_", " ")) for d in t["definition"]])
            ax.set_xlabel("how many times the bot does what a person does (log scale)")
            ax.legend(frameon=False, loc="upper right", fontsize=10)
            low, high = (f"{v:,.0f}" if v >= 10 else f"{v:.1f}" for v in (ratio.min(), ratio.max()))
            fig.suptitle(f"From {low} to {high} times as efficient: it depends on what is compared", fontsize=12)
        return fig


@dataclass(frozen=True)
class _Quantities:
    """What the definitions are made of, per bootstrap sample (arrays) or at the point estimate."""

    n_bot: np.ndarray
    n_human: np.ndarray
    aht_bot: np.ndarray
    aht_human: np.ndarray
    concurrency: np.ndarray
    res_bot: np.ndarray
    res_human: np.ndarray
    repeat_bot: np.ndarray
    agent_hours: np.ndarray
    per_paid_hour: np.ndarray
    per_instance_hour: np.ndarray
    human_contact_usd: np.ndarray
    bot_compute_usd: np.ndarray
    shift_hours: float


@dataclass(frozen=True)
class _Definition:
    """One definition of the ratio: what the bot and a person each do per their unit, and whether it is a cost
    (then the ratio is human over bot: how many times cheaper the bot is)."""

    name: str
    bot_unit: str
    human_unit: str
    bot: Callable[[_Quantities], np.ndarray]
    human: Callable[[_Quantities], np.ndarray]
    cost: bool = False

    def ratio(self, q: _Quantities) -> np.ndarray:
        b, h = self.bot(q), self.human(q)
        return h / b if self.cost else b / h


_PAID, _INSTANCE = "inquiries per paid agent-hour", "inquiries per instance-hour"
_RESOLVED_USD = "USD per resolved inquiry"
_DEFINITIONS: tuple[_Definition, ...] = (
    _Definition("per_conversation", "inquiries per conversation-hour", _PAID, lambda q: 3600.0 / q.aht_bot,
                lambda q: q.per_paid_hour),
    _Definition("concurrency", "conversations at once", "conversations at once", lambda q: q.concurrency,
                lambda q: np.ones_like(q.concurrency)),
    _Definition("per_instance_hour", _INSTANCE, _PAID, lambda q: q.per_instance_hour, lambda q: q.per_paid_hour),
    _Definition("resolved_per_instance_hour", "resolved per instance-hour", "resolved per paid agent-hour",
                lambda q: q.per_instance_hour * q.res_bot, lambda q: q.per_paid_hour * q.res_human),
    _Definition("per_staffed_agent_hour", _INSTANCE, "inquiries per staffed agent-hour",
                lambda q: q.per_instance_hour, lambda q: q.n_human / q.agent_hours),
    _Definition("cost_per_resolved_compute", _RESOLVED_USD, _RESOLVED_USD, lambda q: q.bot_compute_usd / q.res_bot,
                lambda q: q.human_contact_usd / q.res_human, cost=True),
    _Definition("cost_per_resolved_with_fallback", _RESOLVED_USD, _RESOLVED_USD,
                lambda q: (q.bot_compute_usd + q.repeat_bot * q.human_contact_usd) / q.res_bot,
                lambda q: q.human_contact_usd / q.res_human, cost=True),
    _Definition("system_vs_agent_shift", "inquiries on the day", "inquiries per agent shift", lambda q: q.n_bot,
                lambda q: q.n_human / (q.agent_hours / q.shift_hours)),
)  # fmt: skip
assert tuple(d.name for d in _DEFINITIONS) == tuple(EFFICIENCY_DEFINITIONS)
_INPUTS = ("aht_bot", "aht_human", "concurrency", "res_bot", "res_human", "repeat_bot", "agent_hours")


def _check_costs(agent_cost: float, bot_cost: float, shift_hours: float, teams: int) -> None:
    for name, value in (
        ("agent_cost_usd_per_hour", agent_cost),
        ("bot_instance_cost_usd_per_hour", bot_cost),
        ("shift_hours", shift_hours),
    ):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise ValueError(f"{name} = {value!r}: must be a positive number")
    if not (isinstance(teams, int) and teams >= 1):
        raise ValueError(f"teams = {teams!r}: must be a whole number >= 1")


def _sums(interval_min: int, intervals: int) -> dict[str, pl.Expr]:
    """The per-shopper sums the definitions are made of: counts, handling seconds, sessions, resolutions, repeat
    contacts, and human arrivals in each planning interval."""
    k = interval_index(interval_min)
    return {
        "n_bot": BOT,
        "handle_bot": pl.when(BOT).then(pl.col("handle_s")).otherwise(0.0),
        "conc_bot": pl.when(BOT).then(pl.col("concurrent_sessions")).otherwise(0),
        "resolved_bot": BOT & pl.col("resolved"),
        "repeat_bot": BOT & pl.col("repeat_contact"),
        "n_human": HUMAN,
        "handle_human": pl.when(HUMAN).then(pl.col("handle_s")).otherwise(0.0),
        "resolved_human": HUMAN & pl.col("resolved"),
        **{f"human_{i}": HUMAN & (k == i) for i in range(intervals)},
    }


def efficiency_ratios(
    ds: Dataset,
    *,
    agent_cost_usd_per_hour: float,
    bot_instance_cost_usd_per_hour: float,
    shift_hours: float = 8.0,
    service_level: float = 0.8,
    answer_s: float = 20.0,
    interval_min: int = 60,
    teams: int = 1,
    human_occupancy: float | None = None,
) -> Efficiency:
    """The bot-to-human efficiency ratio under several explicit definitions, with 95% bootstrap intervals.

    Parameters
    ----------
    ds : the dataset.
    agent_cost_usd_per_hour : cost of one paid agent-hour, USD (an assumption; not in the data).
    bot_instance_cost_usd_per_hour : cost of running one bot instance for an hour, USD (an assumption).
    shift_hours : paid hours of one agent's shift on the day.
    service_level, answer_s, interval_min, teams : the Erlang C staffing rule of
        :func:`~newretail.analyses.chatbot.staffing.staffing_plan` (share answered within ``answer_s`` seconds,
        planned per ``interval_min`` minutes, for ``teams`` separate queues) behind ``per_staffed_agent_hour`` and
        ``system_vs_agent_shift``.
    human_occupancy : share of a paid agent-hour spent on inquiries; default the scenario's
        ``behaviour.chatbot.human_occupancy``.

    From the data: mean handling times (s) of bot and human inquiries, the bot's mean concurrent conversations,
    resolution and repeat-contact rates, and human arrivals per interval. Nothing is copied from the targets.
    """
    _check_costs(agent_cost_usd_per_hour, bot_instance_cost_usd_per_hour, shift_hours, teams)
    occupancy = ds.scenario.behaviour.chatbot.human_occupancy if human_occupancy is None else human_occupancy
    if not (isinstance(occupancy, float) and 0.0 < occupancy <= 1.0):
        raise ValueError(f"human_occupancy = {occupancy!r}: must be a share in (0, 1]")
    intervals = 1440 // interval_min if isinstance(interval_min, int) and interval_min > 0 else 0
    sums = _sums(interval_min, intervals)
    g = group_sums(ds, sums)
    if g["n_bot"].sum() == 0 or g["n_human"].sum() == 0:
        raise ValueError(f"dataset {ds.path}: needs inquiries handled by the bot and by people")
    names = list(sums)
    interval_s, interval_h = interval_min * 60.0, interval_min / 60.0

    def quantities(*samples: np.ndarray, axis: int = -1) -> _Quantities:
        s = {name: x.sum(axis=axis) for name, x in zip(names, samples, strict=True)}
        aht_bot, aht_human = s["handle_bot"] / s["n_bot"], s["handle_human"] / s["n_human"]
        concurrency = s["conc_bot"] / s["n_bot"]
        rates = np.stack([s[f"human_{i}"] for i in range(intervals)]) / interval_s
        agents = teams * np.asarray(ErlangC(rates / teams, aht_human).agents(service_level, answer_s))
        return _Quantities(
            n_bot=s["n_bot"],
            n_human=s["n_human"],
            aht_bot=aht_bot,
            aht_human=aht_human,
            concurrency=concurrency,
            res_bot=s["resolved_bot"] / s["n_bot"],
            res_human=s["resolved_human"] / s["n_human"],
            repeat_bot=s["repeat_bot"] / s["n_bot"],
            agent_hours=agents.sum(axis=0) * interval_h,
            per_paid_hour=occupancy * 3600.0 / aht_human,
            per_instance_hour=concurrency * 3600.0 / aht_bot,
            human_contact_usd=agent_cost_usd_per_hour * aht_human / (3600.0 * occupancy),
            bot_compute_usd=bot_instance_cost_usd_per_hour * aht_bot / (3600.0 * concurrency),
            shift_hours=shift_hours,
        )

    def ratios(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        q = quantities(*xs, axis=axis)
        return np.stack([d.ratio(q) for d in _DEFINITIONS])

    samples = tuple(g[name] for name in names)
    point = quantities(*samples)
    low, high = bootstrap_interval(samples, ratios)
    table = pl.DataFrame(
        {
            "definition": [d.name for d in _DEFINITIONS],
            "meaning": [EFFICIENCY_DEFINITIONS[d.name] for d in _DEFINITIONS],
            "bot": [float(d.bot(point)) for d in _DEFINITIONS],
            "bot_unit": [d.bot_unit for d in _DEFINITIONS],
            "human": [float(d.human(point)) for d in _DEFINITIONS],
            "human_unit": [d.human_unit for d in _DEFINITIONS],
            "ratio": [float(d.ratio(point)) for d in _DEFINITIONS],
            "ci_low": low,
            "ci_high": high,
        }
    )
    inputs = {
        **dict(zip(("bot_aht_s", "human_aht_s", "bot_concurrency", "bot_resolution_rate", "human_resolution_rate",
                    "bot_repeat_contact_rate", "staffed_agent_hours"),
                   (float(getattr(point, name)) for name in _INPUTS), strict=True)),
        "human_occupancy": float(occupancy),
        "agent_cost_usd_per_hour": float(agent_cost_usd_per_hour),
        "bot_instance_cost_usd_per_hour": float(bot_instance_cost_usd_per_hour),
        "shift_hours": float(shift_hours),
        "teams": float(teams),
    }  # fmt: skip
    return Efficiency(table=table, inputs=inputs, target_ratio=ds.scenario.targets.chatbot_efficiency_ratio)
