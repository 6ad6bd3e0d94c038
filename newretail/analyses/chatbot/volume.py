"""Inquiries over the day, the bot's count and share against the targets, and deflection against resolution.

"Handled 95% of inquiries" counts every inquiry the bot kept to its end. Whether those customers were helped is
another matter: some were not, and some of those wrote again. :func:`deflection` computes the bot's share under
several definitions that a contact centre could defensibly report, each with a 95% bootstrap interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.analyses.chatbot._data import BOT, HUMAN, group_sums, inquiries, interval_index, weight
from newretail.methods.intervals import poisson_interval
from newretail.methods.resampling import CONFIDENCE, Estimate, bootstrap_interval, ratio_interval, total_interval
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFLECTION_DEFINITIONS", "Deflection", "InquiryVolume", "deflection", "inquiry_volume"]

DEFLECTION_DEFINITIONS: dict[str, str] = {
    "handled": "kept by the bot to the end, of all inquiries",
    "handled_per_contact": "kept by the bot, of all contacts (a repeat contact counts again and reaches a person)",
    "no_repeat": "kept by the bot and the customer did not write again, of all inquiries",
    "resolved": "resolved by the bot, of all inquiries",
    "resolved_per_contact": "resolved by the bot, of all contacts",
}


@dataclass(frozen=True)
class InquiryVolume:
    """Full-scale inquiry counts and the bot's share, with 95% intervals, and inquiries per minute over the day.

    ``per_minute`` has one row per minute of the day and handler: ``minute`` (since midnight), ``handled_by`` and
    ``inquiries_per_min`` (full scale).
    """

    bot_inquiries: Estimate
    all_inquiries: Estimate
    bot_share: Estimate
    target_bot_inquiries: float
    target_share: float
    per_minute: pl.DataFrame
    sample_rows: int

    @property
    def target_all_inquiries(self) -> float:
        """All inquiries implied by the targets: the bot's count over its share."""
        return self.target_bot_inquiries / self.target_share

    def plot(self) -> Figure:
        """Inquiries per minute over the day (10-minute means) and minute by minute in the first hour."""
        import matplotlib.pyplot as plt

        fig, (day, rush) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [2, 1]})
        for handler, colour in (("bot", "tab:blue"), ("human", "tab:orange")):
            rows = self.per_minute.filter(pl.col("handled_by") == handler)
            per10 = rows.group_by(pl.col("minute") // 10).agg(pl.col("inquiries_per_min").mean()).sort("minute")
            day.plot(per10["minute"] * 10 / 60, per10["inquiries_per_min"], label=handler, color=colour)
            first = rows.filter(pl.col("minute") < 60)
            rush.plot(first["minute"], first["inquiries_per_min"], label=handler, color=colour, marker=".")
        day.set(yscale="log", xlabel="hour of the day", ylabel="inquiries per minute (full scale)", xlim=(0, 24))
        day.set_xticks(range(0, 25, 3))
        day.legend(title="handled by", frameon=False)
        rush.set(yscale="log", xlabel="minutes after midnight", title="the midnight rush")
        day.set_title("10-minute means")
        fig.tight_layout()
        return fig


def _poisson_count(rows: int, per_row: float) -> Estimate:
    """Full-scale count from a Poisson number of sampled rows: exact (Garwood) interval, scaled."""
    _, low, high = poisson_interval(rows, alpha=1.0 - CONFIDENCE)
    return Estimate(rows * per_row, float(low) * per_row, float(high) * per_row)


def inquiry_volume(ds: Dataset) -> InquiryVolume:
    """Inquiries the bot handled and all inquiries on the day (full-scale counts), the bot's share, and the
    inquiries per minute by handler.

    Customers write in bursts (repeat inquiries about one problem), so counts and the share carry 95% BCa
    bootstrap intervals over random groups of whole shoppers (``user_id``), not the Poisson and Wilson intervals of
    independent rows, which would be too narrow.
    """
    counts = inquiries(ds).select(n=pl.len(), bot=BOT.sum()).collect(engine="streaming")
    n = int(counts["n"][0])
    if n == 0:
        raise ValueError(f"dataset {ds.path}: the inquiries table is empty (generate at a larger scale)")
    g = group_sums(ds, {"bot": BOT, "all": pl.lit(1.0)})
    found = (
        inquiries(ds)
        .group_by(interval_index(1).alias("minute"), "handled_by")
        .agg(inquiries_per_min=pl.col("weight").sum())
        .collect(engine="streaming")
    )
    grid = pl.DataFrame({"minute": np.arange(1440, dtype=np.int32)}).join(
        pl.DataFrame({"handled_by": ["bot", "human"]}).cast({"handled_by": found.schema["handled_by"]}), how="cross"
    )
    per_minute = (
        grid.join(found, on=["minute", "handled_by"], how="left")
        .with_columns(pl.col("inquiries_per_min").fill_null(0.0))
        .sort("minute", "handled_by")
    )
    t = ds.scenario.targets
    return InquiryVolume(
        bot_inquiries=total_interval(g["bot"]),
        all_inquiries=total_interval(g["all"]),
        bot_share=ratio_interval(g["bot"], g["all"]),
        target_bot_inquiries=t.chatbot_inquiries,
        target_share=t.chatbot_share,
        per_minute=per_minute,
        sample_rows=n,
    )


@dataclass(frozen=True)
class Deflection:
    """The bot's share of inquiries under each definition in :data:`DEFLECTION_DEFINITIONS`.

    ``table`` columns: ``definition`` (key), ``meaning``, ``share``, ``ci_low``, ``ci_high`` (95% bootstrap).
    ``repeat_contacts`` is the full-scale count of repeat contacts, ``repeat_share_bot`` and
    ``repeat_share_human`` the share of bot- and human-handled inquiries whose customer wrote again.
    """

    table: pl.DataFrame
    repeat_contacts: Estimate
    repeat_share_bot: float
    repeat_share_human: float
    target_share: float

    def share(self, definition: str) -> Estimate:
        """The share (and interval) under one definition."""
        if definition not in DEFLECTION_DEFINITIONS:
            raise ValueError(f"definition = {definition!r}: must be one of {', '.join(DEFLECTION_DEFINITIONS)}")
        row = self.table.filter(pl.col("definition") == definition).row(0, named=True)
        return Estimate(row["share"], row["ci_low"], row["ci_high"])

    def plot(self) -> Figure:
        """The bot's share under each definition with its interval, against the reported share."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 3.2))
        rows = self.table.reverse()
        y = np.arange(rows.height)
        share = rows["share"].to_numpy() * 100
        err = np.vstack([share - rows["ci_low"].to_numpy() * 100, rows["ci_high"].to_numpy() * 100 - share])
        ax.barh(y, share, color="tab:blue", alpha=0.7)
        ax.errorbar(share, y, xerr=err, fmt="none", ecolor="black", capsize=3)
        ax.axvline(self.target_share * 100, color="tab:red", linestyle="--", label="reported share")
        ax.set_yticks(y, rows["definition"].to_list())
        ax.set(xlabel="share of inquiries or contacts, %", xlim=(0, 100))
        ax.legend(frameon=False, loc="lower right")
        fig.tight_layout()
        return fig


def deflection(ds: Dataset) -> Deflection:
    """The bot's share of inquiries as handled, as unrepeated and as resolved, per inquiry and per contact.

    A contact is an inquiry or a repeat contact about the same problem (``repeat_contact``); repeat contacts are
    assumed to reach a person (the bot already failed that customer once). Intervals are 95% bootstrap intervals
    over random groups of inquiries.
    """
    g = group_sums(
        ds,
        {
            "all": pl.lit(1.0),
            "bot": BOT,
            "bot_no_repeat": BOT & ~pl.col("repeat_contact"),
            "bot_resolved": BOT & pl.col("resolved"),
            "repeat": pl.col("repeat_contact"),
            "bot_repeat": BOT & pl.col("repeat_contact"),
            "human": HUMAN,
            "human_repeat": HUMAN & pl.col("repeat_contact"),
        },
    )
    if g["all"].sum() == 0:
        raise ValueError(f"dataset {ds.path}: the inquiries table is empty (generate at a larger scale)")
    if g["bot"].sum() == 0 or g["human"].sum() == 0:
        raise ValueError(f"dataset {ds.path}: needs inquiries handled by the bot and by people")

    def shares(
        every: np.ndarray, bot: np.ndarray, no_rep: np.ndarray, res: np.ndarray, rep: np.ndarray, axis: int = -1
    ) -> np.ndarray:
        n, contacts = every.sum(axis=axis), every.sum(axis=axis) + rep.sum(axis=axis)
        b, nr, r = bot.sum(axis=axis), no_rep.sum(axis=axis), res.sum(axis=axis)
        return np.stack([b / n, b / contacts, nr / n, r / n, r / contacts])

    samples = (g["all"], g["bot"], g["bot_no_repeat"], g["bot_resolved"], g["repeat"])
    value = shares(*samples)
    low, high = bootstrap_interval(samples, shares)
    table = pl.DataFrame(
        {
            "definition": list(DEFLECTION_DEFINITIONS),
            "meaning": list(DEFLECTION_DEFINITIONS.values()),
            "share": value,
            "ci_low": low,
            "ci_high": high,
        }
    )
    per_row = weight(ds)
    return Deflection(
        table=table,
        repeat_contacts=_poisson_count(round(g["repeat"].sum() / per_row), per_row),
        repeat_share_bot=float(g["bot_repeat"].sum() / g["bot"].sum()),
        repeat_share_human=float(g["human_repeat"].sum() / g["human"].sum()),
        target_share=ds.scenario.targets.chatbot_share,
    )
