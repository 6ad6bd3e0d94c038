"""What "10,000 times more efficient than human customer service" can mean.

An efficiency ratio divides what the bot does per unit of something by what a person does per unit of something
else; the figure depends on both units. :func:`efficiency_ratios` computes the ratio under several explicit
definitions, each from the data (handling times, concurrency, resolution, repeat contacts, arrivals per hour) and
the scenario's parameters (the agents' occupancy), plus the cost assumptions passed in. Some definitions reach the
report's 10,000; others land near 10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from matplotlib.figure import Figure

from newretail.analyses.chatbot._data import BOT, HUMAN, group_sums, interval_index
from newretail.methods.queueing import ErlangC
from newretail.methods.resampling import bootstrap_interval
from newretail.tables import Dataset

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
    for name, value in (
        ("agent_cost_usd_per_hour", agent_cost_usd_per_hour),
        ("bot_instance_cost_usd_per_hour", bot_instance_cost_usd_per_hour),
        ("shift_hours", shift_hours),
    ):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise ValueError(f"{name} = {value!r}: must be a positive number")
    if not (isinstance(teams, int) and teams >= 1):
        raise ValueError(f"teams = {teams!r}: must be a whole number >= 1")
    occupancy = ds.scenario.behaviour.chatbot.human_occupancy if human_occupancy is None else human_occupancy
    if not (isinstance(occupancy, float) and 0.0 < occupancy <= 1.0):
        raise ValueError(f"human_occupancy = {occupancy!r}: must be a share in (0, 1]")
    intervals = 1440 // interval_min if isinstance(interval_min, int) and interval_min > 0 else 0
    k = interval_index(interval_min)
    sums = {
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
    g = group_sums(ds, sums)
    if g["n_bot"].sum() == 0 or g["n_human"].sum() == 0:
        raise ValueError(f"dataset {ds.path}: needs inquiries handled by the bot and by people")
    names = list(sums)
    interval_s, interval_h = interval_min * 60.0, interval_min / 60.0

    def sides(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        s = {name: x.sum(axis=axis) for name, x in zip(names, samples, strict=True)}
        aht_bot, aht_human = s["handle_bot"] / s["n_bot"], s["handle_human"] / s["n_human"]
        concurrency = s["conc_bot"] / s["n_bot"]
        res_bot, res_human = s["resolved_bot"] / s["n_bot"], s["resolved_human"] / s["n_human"]
        repeat_bot = s["repeat_bot"] / s["n_bot"]
        rates = np.stack([s[f"human_{i}"] for i in range(intervals)]) / interval_s
        agents = teams * np.asarray(ErlangC(rates / teams, aht_human).agents(service_level, answer_s))
        agent_hours = agents.sum(axis=0) * interval_h
        per_paid_hour = occupancy * 3600.0 / aht_human
        per_instance_hour = concurrency * 3600.0 / aht_bot
        human_contact_usd = agent_cost_usd_per_hour * aht_human / (3600.0 * occupancy)
        bot_compute_usd = bot_instance_cost_usd_per_hour * aht_bot / (3600.0 * concurrency)
        bot_side = [
            3600.0 / aht_bot,
            concurrency,
            per_instance_hour,
            per_instance_hour * res_bot,
            per_instance_hour,
            bot_compute_usd / res_bot,
            (bot_compute_usd + repeat_bot * human_contact_usd) / res_bot,
            s["n_bot"],
        ]
        human_side = [
            per_paid_hour,
            np.ones_like(concurrency),
            per_paid_hour,
            per_paid_hour * res_human,
            s["n_human"] / agent_hours,
            human_contact_usd / res_human,
            human_contact_usd / res_human,
            s["n_human"] / (agent_hours / shift_hours),
        ]
        costs = {5, 6}  # for costs the ratio is human over bot: how many times cheaper the bot is
        ratio = [h / b if i in costs else b / h for i, (b, h) in enumerate(zip(bot_side, human_side, strict=True))]
        return np.stack(
            [
                *ratio,
                *bot_side,
                *human_side,
                aht_bot,
                aht_human,
                concurrency,
                res_bot,
                res_human,
                repeat_bot,
                agent_hours,
            ]
        )

    samples = tuple(g[name] for name in names)
    point = sides(*samples)
    n_def = len(EFFICIENCY_DEFINITIONS)

    def ratios_only(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        return sides(*xs, axis=axis)[:n_def]

    low, high = bootstrap_interval(samples, ratios_only)
    bot_units = [
        "inquiries per conversation-hour",
        "conversations at once",
        "inquiries per instance-hour",
        "resolved per instance-hour",
        "inquiries per instance-hour",
        "USD per resolved inquiry",
        "USD per resolved inquiry",
        "inquiries on the day",
    ]
    human_units = [
        "inquiries per paid agent-hour",
        "conversations at once",
        "inquiries per paid agent-hour",
        "resolved per paid agent-hour",
        "inquiries per staffed agent-hour",
        "USD per resolved inquiry",
        "USD per resolved inquiry",
        "inquiries per agent shift",
    ]
    table = pl.DataFrame(
        {
            "definition": list(EFFICIENCY_DEFINITIONS),
            "meaning": list(EFFICIENCY_DEFINITIONS.values()),
            "bot": point[n_def : 2 * n_def],
            "bot_unit": bot_units,
            "human": point[2 * n_def : 3 * n_def],
            "human_unit": human_units,
            "ratio": point[:n_def],
            "ci_low": low,
            "ci_high": high,
        }
    )
    extra = point[3 * n_def :]
    inputs = {
        "bot_aht_s": float(extra[0]),
        "human_aht_s": float(extra[1]),
        "bot_concurrency": float(extra[2]),
        "bot_resolution_rate": float(extra[3]),
        "human_resolution_rate": float(extra[4]),
        "bot_repeat_contact_rate": float(extra[5]),
        "staffed_agent_hours": float(extra[6]),
        "human_occupancy": float(occupancy),
        "agent_cost_usd_per_hour": float(agent_cost_usd_per_hour),
        "bot_instance_cost_usd_per_hour": float(bot_instance_cost_usd_per_hour),
        "shift_hours": float(shift_hours),
        "teams": float(teams),
    }
    return Efficiency(table=table, inputs=inputs, target_ratio=ds.scenario.targets.chatbot_efficiency_ratio)
