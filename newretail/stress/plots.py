"""Plots and summaries of a sweep: robustness table, holds/does-not-hold heatmaps, tornado charts, one point."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from newretail.fmt import format_value
from newretail.scenario import Scenario
from newretail.stress.checks import CHECKS, Check
from newretail.stress.grid import Axis, Grid, Study

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FONT = 10  # points: the smallest text of every stress figure, readable at notebook width
HOLDS_COLOR = "#1b9e77"
FAILS_COLOR = "#d95f02"
BASE_COLOR = "#333333"


def _holds_expr(judge: str) -> pl.Expr:
    """Whether a row holds under ``judge``; estimator checks (no truth verdict) always use the data's."""
    if judge == "truth":
        return pl.coalesce(pl.col("holds_truth"), pl.col("holds")).cast(pl.Float64)
    return pl.col("holds").cast(pl.Float64)


def value_label(value: float | None, unit: str) -> str:
    """Short label of a reading's value in a figure (:func:`newretail.fmt.format_value`, two significant digits for
    shares and three for other figures, without the unit the axis names); a log effect with its sign."""
    if unit == "log" and value is not None and math.isfinite(value):
        return f"{value:+.3f}"
    return format_value(value, unit, digits=2 if unit == "share" else 3, with_unit=False)


# the assumptions a grid varies, in words with their units (the tornado's rows); a field not listed reads as its
# last part with spaces
ASSUMPTION_NAMES = {
    "behaviour.banners.novelty_decay": "novelty fading per repeat view",
    "behaviour.banners.placement_allocation_skew": "AI banners steered to good slots",
    "behaviour.banners.repeat_exposure_prob": "chance of seeing a banner again",
    "behaviour.personalization.targeting_strength": "targeting on purchase intent",
    "behaviour.personalization.true_effect_logodds": "true effect of personalization (log-odds)",
    "behaviour.personalization.effect_heterogeneity": "effect's rise with intent (log-odds)",
    "behaviour.personalization.intent_weight": "intent's pull on conversion (log-odds)",
    "behaviour.personalization.conversion_reading": "reading of 20% conversion",
    "behaviour.orders.order_value_sigma": "spread of order values (log)",
    "behaviour.orders.vip_value_multiplier": "VIP order value multiple",
    "behaviour.traffic.fx_rmb_per_usd": "RMB per USD in 2017",
    "behaviour.traffic.fx_rmb_per_usd_2016": "RMB per USD in 2016",
    "behaviour.traffic.page_dwell_s": "time on a page (s)",
    "behaviour.traffic.pages_per_visit_dispersion": "spread of pages per visit",
    "behaviour.chatbot.anger_escalation_threshold": "anger that calls for a human",
    "behaviour.chatbot.bot_resolution_rate": "share the bot resolves",
    "behaviour.chatbot.human_resolution_rate": "share agents resolve",
    "behaviour.chatbot.repeat_contact_if_unresolved": "unresolved customers who write again",
    "behaviour.chatbot.bot_handle_s": "bot's time per inquiry (s)",
    "behaviour.chatbot.human_handle_s": "agent's time per inquiry (s)",
    "behaviour.chatbot.human_occupancy": "agents' busy share of the hour",
    "behaviour.stores.pilot_effect": "true pilot uplift (log)",
    "behaviour.stores.pilot_selection_on_growth": "pilots chosen on sales growth",
    "behaviour.stores.spillover_effect": "spill-over to nearby stores (log)",
    "behaviour.stores.spillover_radius_km": "spill-over radius (km)",
    "calibration.baseline.visits": "2016 visits (x solved)",
}


def assumption_name(field: str) -> str:
    """An assumption in words (:data:`ASSUMPTION_NAMES`; otherwise the field's last part, with spaces and a factor
    marked "(x solved)"), never a dotted field path."""
    if field in ASSUMPTION_NAMES:
        return ASSUMPTION_NAMES[field]
    words = field.rsplit(".", 1)[-1].replace("_", " ")
    return words + (" (x solved)" if field.startswith("calibration.") else "")


def _axis_label(axis: Axis) -> str:
    return axis.field.removeprefix("behaviour.").removeprefix("calibration.") + (" (factor)" if axis.is_factor else "")


# ---------------------------------------------------------------------------------------------------- robustness
def _ranges(st: Study) -> str:
    """The grid's range of each axis of a study, e.g. 'novelty_decay 0 to 0.6; conversion_reading rate, lift'
    (a share of the grid means nothing without them)."""
    parts = []
    for a in st.axes:
        if any(isinstance(v, str) for v in a.values):
            parts.append(f"{_axis_label(a)} {', '.join(str(v) for v in a.values)}")
        else:
            values = [float(v) for v in a.values]
            parts.append(f"{_axis_label(a)} {min(values):g} to {max(values):g} ({len(values)} values)")
    return "; ".join(parts)


def robustness_table(table: pl.DataFrame, grid: Grid, base: Scenario) -> pl.DataFrame:
    """Share of each ``grid``/``lhs`` study's points where each reading holds (see :class:`Robustness`); ``reported``
    marks the reading the claims table uses at the base scenario."""
    order = {claim: i for i, claim in enumerate(CHECKS)}
    base_rows: dict[tuple[str, str], float] = {}
    for st in grid.studies:
        if st.design != "oat":
            continue
        at_base = table.filter((pl.col("study") == st.name) & (pl.col("point") == 0))
        for b in at_base.group_by("claim", "reading").agg(_holds_expr("truth").mean().alias("h")).iter_rows(named=True):
            base_rows.setdefault((b["claim"], b["reading"]), b["h"])
    out = []
    for st in grid.studies:
        if st.design == "oat":
            continue
        rows = table.filter(pl.col("study") == st.name)
        if rows.height == 0:
            continue
        check = CHECKS[st.claim]
        for i, reading in enumerate(check.readings):
            r = rows.filter(pl.col("reading") == reading.name)
            truth = r["holds_truth"].drop_nulls()
            share_truth = float(np.mean(truth.to_numpy())) if truth.len() else None
            share_data = float(np.mean(r["holds"].to_numpy()))
            base_holds = base_rows.get((st.claim, reading.name))
            out.append(
                {
                    "claim": st.claim,
                    "reading": reading.name,
                    "label": reading.label,
                    "reported": reading.name == check.reported(base),
                    "study": st.name,
                    "mode": st.mode,
                    "assumptions": ", ".join(_axis_label(a) for a in st.axes),
                    "ranges": _ranges(st),
                    "points": int(r.select(pl.col("point").n_unique()).item()),
                    "share_truth": share_truth,
                    "share_data": share_data,
                    "share": share_truth if share_truth is not None else share_data,
                    "judged_on": "truth" if share_truth is not None else "data (coverage)",
                    "holds_at_base": None if base_holds is None else bool(base_holds >= 0.5),
                    "_order": (order[st.claim], i),
                }
            )
    if not out:
        return pl.DataFrame()
    frame = pl.DataFrame(out).with_columns(
        pl.col("_order").list.first().alias("_c"), pl.col("_order").list.last().alias("_r")
    )
    return frame.sort("_c", "_r", "study", maintain_order=True).drop("_order", "_c", "_r")


def robustness_plot(table: pl.DataFrame) -> Figure:
    """Horizontal bars of ``share`` per reading and study; reported readings in bold."""
    import matplotlib.pyplot as plt

    n = table.height
    fig, ax = plt.subplots(figsize=(10.5, 0.36 * n + 1.4))
    if n == 0:
        ax.text(0.5, 0.5, "no grid or lhs study in this sweep", ha="center", va="center")
        return fig
    y = np.arange(n)[::-1]
    share = np.array([np.nan if s is None else s for s in table["share"].to_list()], dtype=float)
    colors = [HOLDS_COLOR if s >= 0.5 else FAILS_COLOR for s in np.nan_to_num(share)]
    ax.barh(y, share, color=colors, height=0.7)
    labels = [
        f"{CHECKS[c].claim}: {label}  [{study}]"
        for c, label, study in zip(table["claim"], table["label"], table["study"], strict=True)
    ]
    ax.set_yticks(y, labels, fontsize=FONT)
    for tick, reported in zip(ax.get_yticklabels(), table["reported"].to_list(), strict=True):
        if reported:
            tick.set_fontweight("bold")
    for yi, s, judged in zip(y, share, table["judged_on"].to_list(), strict=True):
        ax.text(
            min(s, 0.98) + 0.01 if math.isfinite(s) else 0.01,
            yi,
            f"{s:.0%}" + ("*" if judged != "truth" else ""),
            va="center",
            fontsize=FONT,
        )
    claims = table["claim"].to_list()
    for yi, (above, below) in zip(y[1:], pairwise(claims), strict=True):
        if above != below:
            ax.axhline(yi + 0.5, color="grey", lw=0.5)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("share of the swept region where the reading holds", fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT)
    ax.axvline(0.5, color="grey", lw=0.6, ls=":")
    ax.set_title("Where each reading holds (bold: as reported; *: judged on the data)", fontsize=FONT + 1)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------------- heatmap
def _cell_grid(rows: pl.DataFrame, axes: Sequence[Axis], judge: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean holds and mean label value per cell (rows: second axis, columns: first axis). Judged on the truth, the
    label is the expected value; on the data (and for estimators), the estimate."""
    x_axis = axes[0]
    y_axis = axes[1] if len(axes) > 1 else None
    share = np.full((len(y_axis.values) if y_axis else 1, len(x_axis.values)), np.nan)
    value = np.full_like(share, np.nan)
    keys = [x_axis.field] + ([y_axis.field] if y_axis else [])
    estimate = pl.when(pl.col("value").is_nan()).then(pl.col("truth")).otherwise(pl.col("value"))
    label = pl.when(pl.col("holds_truth").is_not_null()).then(pl.col("truth")).otherwise(estimate)
    cells = rows.group_by(keys).agg(
        _holds_expr(judge).mean().alias("h"), (label if judge == "truth" else estimate).mean().alias("v")
    )
    for r in cells.iter_rows(named=True):
        i = y_axis.values.index(r[y_axis.field]) if y_axis else 0
        j = x_axis.values.index(r[x_axis.field])
        share[i, j], value[i, j] = r["h"], r["v"]
    return share, value


def _base_mark(ax: Axes, axes: Sequence[Axis], base: Scenario) -> None:
    """A star where the base scenario sits, if it is inside the grid's ranges (interpolated between cells)."""
    from newretail.stress.grid import base_value

    coords = []
    for axis in axes[:2]:
        values = axis.values
        b = base_value(axis.field, base)
        if isinstance(b, str):
            if b not in values:
                return
            coords.append(float(values.index(b)))
            continue
        nums = np.array(values, dtype=float)
        if not (nums.min() <= b <= nums.max()) or np.any(np.diff(nums) <= 0):
            return
        coords.append(float(np.interp(b, nums, np.arange(nums.size))))
    if len(coords) == 1:
        coords.append(0.0)
    ax.plot(coords[0] + 0.34, coords[1] + 0.3, marker="*", color=BASE_COLOR, markersize=8, markeredgecolor="white")


def heatmap(rows: pl.DataFrame, st: Study, base: Scenario, *, judge: str, readings: Sequence[str] | None) -> Figure:
    """One panel per reading: cells coloured by the share of seeds where it holds, labelled with its value."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    if st.design == "lhs" or len(st.axes) > 2:
        raise ValueError(f"study = {st.name!r}: a heatmap needs a 'grid' or 'oat' design with one or two axes")
    check = CHECKS[st.claim]
    names = list(readings) if readings is not None else [r.name for r in check.readings]
    for name in names:
        check.reading(name)
    cmap = LinearSegmentedColormap.from_list("holds", [FAILS_COLOR, "#f2f2f2", HOLDS_COLOR])
    x_axis = st.axes[0]
    y_axis = st.axes[1] if len(st.axes) > 1 else None
    # at most two panels a row, each wide enough for its cell labels at FONT points
    width = max(4.2, 0.85 * len(x_axis.values) + 1.8)
    height = max(2.8, 0.55 * (len(y_axis.values) if y_axis else 1) + 2.0)
    cols = min(2, len(names))
    rows_n = math.ceil(len(names) / cols)
    fig, axs = plt.subplots(rows_n, cols, figsize=(width * cols, height * rows_n + 0.5), squeeze=False)
    for ax in axs.ravel()[len(names) :]:
        ax.set_visible(False)
    for ax, name in zip(axs.ravel(), names, strict=False):
        reading = check.reading(name)
        r = rows.filter(pl.col("reading") == name)
        share, value = _cell_grid(r, st.axes, judge)
        ax.imshow(share, cmap=cmap, vmin=0, vmax=1, origin="lower", aspect="auto")
        for (i, j), v in np.ndenumerate(value):
            ax.text(j, i, value_label(v, check.unit), ha="center", va="center", fontsize=FONT)
        ax.set_xticks(
            range(len(x_axis.values)), [f"{v:g}" if isinstance(v, float) else v for v in x_axis.values], fontsize=FONT
        )
        ax.set_xlabel(_axis_label(x_axis), fontsize=FONT)
        if y_axis:
            ax.set_yticks(
                range(len(y_axis.values)),
                [f"{v:g}" if isinstance(v, float) else v for v in y_axis.values],
                fontsize=FONT,
            )
            ax.set_ylabel(_axis_label(y_axis), fontsize=FONT)
        else:
            ax.set_yticks([])
        _base_mark(ax, st.axes, base)
        target = float(r["target"][0]) if reading.direction != "covers-truth" and r.height else None
        what = {"two-sided": "equals", "at-least": "at least", "covers-truth": "covers the true effect"}[
            reading.direction
        ]
        suffix = f" {value_label(target, check.unit)}" if target is not None else ""
        ax.set_title(f"{reading.label}\n(holds: {what}{suffix})", fontsize=FONT)
    judged = "expected value" if judge == "truth" else "95% interval"
    # a short title; what the colours and labels mean belongs in the figure's caption
    fig.suptitle(f"{check.title} ({st.mode}; green: holds, by {judged}; star: base)", fontsize=FONT + 1)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------------- tornado
Bar = tuple[float, Axis, list[float | None], list[float | None]]  # swing from the base, axis, ends' values, holds


def _tornado_bars(per: pl.DataFrame, st: Study, base: float) -> list[Bar]:
    """One bar per assumption (values at its ends, whether the reading holds there), smallest swing first."""
    bars = []
    for axis in st.axes:
        ends = per.filter(pl.col("varied") == axis.field).sort("point")
        vals = ends["v"].to_list()
        swing = max((abs(v - base) for v in vals if v is not None and math.isfinite(v)), default=0.0)
        bars.append((swing, axis, vals, ends["h"].to_list()))
    return sorted(bars, key=lambda t: t[0])


def _tornado_panel(ax: Axes, rows: pl.DataFrame, st: Study, judge: str) -> tuple[int, int]:
    """Draw one study's bars; return (changes under which the reading still holds, changes drawn)."""
    from matplotlib.transforms import blended_transform_factory

    check = CHECKS[st.claim]
    reported = rows.filter(pl.col("reported"))
    reading = check.reading(reported["reading"].first()) if reported.height else check.readings[0]  # type: ignore[arg-type]
    r = rows.filter(pl.col("reading") == reading.name)
    bias = reading.direction == "covers-truth"
    if bias:  # an estimator: how far it lands from the true effect
        measure = pl.col("value") - pl.col("truth")
    elif judge == "truth":  # the generator's expected value, free of sampling noise
        measure = pl.col("truth")
    else:
        measure = pl.when(pl.col("value").is_nan()).then(pl.col("truth")).otherwise(pl.col("value"))
    per = (
        r.group_by("point", "varied").agg(measure.mean().alias("v"), _holds_expr(judge).mean().alias("h")).sort("point")
    )
    base = per.filter(pl.col("point") == 0)
    ax.set_title(check.title, fontsize=FONT + 1, loc="left")
    if base.height == 0:
        ax.text(0.5, 0.5, "no base point", ha="center", va="center", transform=ax.transAxes, fontsize=FONT)
        return 0, 0
    b = float(base["v"][0])
    bars = _tornado_bars(per, st, b)
    reference = 0.0 if bias else float(r["target"][0])
    ends = [b, reference, *(v for _, _, vals, _ in bars for v in vals if v is not None and math.isfinite(v))]
    low, high = min(ends), max(ends)
    pad = 0.3 * (high - low) if high > low else max(abs(b), 1.0) * 0.1
    ax.set_xlim(low - pad, high + pad)  # room for the end labels on both sides: no bar or label off the axis
    scale = max(abs(b), max((t[0] for t in bars), default=0.0), 1e-300)
    middle = blended_transform_factory(ax.transAxes, ax.transData)  # x in the axes, y on a bar's row
    kept = drawn = 0
    for y, (swing, axis, vals, holds) in enumerate(bars):
        if swing <= 1e-9 * scale:
            ax.text(0.98, y, "no effect", va="center", ha="right", fontsize=FONT, color="grey", transform=middle)
            continue
        # each end of the assumption on its own half of the row (the first above): two ends on the same side of
        # the base neither hide each other nor their labels
        height = 0.7 / len(vals)
        for i, (v, h, label) in enumerate(zip(vals, holds, axis.values, strict=True)):
            if v is None or not math.isfinite(v):
                continue
            drawn += 1
            kept += (h or 0) >= 0.5
            row = y + (len(vals) - 1) / 2 * height - i * height
            color = HOLDS_COLOR if (h or 0) >= 0.5 else FAILS_COLOR
            ax.barh(row, v - b, left=b, height=0.9 * height, color=color, alpha=0.85)
            text = f"{label:g}" if isinstance(label, float) else str(label)
            ax.text(v, row, f" {text} ", va="center", ha="left" if v >= b else "right", fontsize=FONT)
    ax.set_yticks(range(len(bars)), [assumption_name(axis.field) for _, axis, _, _ in bars], fontsize=FONT)
    ax.set_ylim(-0.6, len(bars) - 0.4)
    ax.axvline(b, color=BASE_COLOR, lw=0.8)
    ax.axvline(reference, color="black", lw=0.8, ls="--")
    if bias:
        xlabel = f"{reading.label}: estimate minus true effect (log)"
    else:
        what = "expected value" if judge == "truth" else "estimate"
        xlabel = f"{reading.label}, {what} (the figure: {value_label(reference, check.unit)})"
    ax.set_xlabel(textwrap.fill(xlabel, 70), fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT)
    return kept, drawn


def tornado(table: pl.DataFrame, studies: Sequence[Study], *, judge: str) -> Figure:
    """A panel per one-at-a-time study (see :meth:`SweepResult.tornado`), under a takeaway: how many of the single
    changes leave each figure's reported reading holding."""
    import matplotlib.pyplot as plt

    n = len(studies)
    # one column (long assumption names and end labels need the width); each panel as tall as its bars
    heights = [len(st.axes) + 1.2 for st in studies] or [1.0]
    fig, axs = plt.subplots(
        max(n, 1),
        1,
        figsize=(8.0, 0.55 * sum(heights) + 0.9 * n + 1.0),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"height_ratios": heights},
    )
    kept = drawn = 0
    for ax, st in zip(axs.ravel(), studies, strict=False):
        k, d = _tornado_panel(ax, table.filter(pl.col("study") == st.name), st, judge)
        kept, drawn = kept + k, drawn + d
    for ax in axs.ravel()[n:]:
        ax.set_visible(False)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    key = [Patch(color=HOLDS_COLOR, label="the figure holds"), Patch(color=FAILS_COLOR, label="does not hold"),
           Line2D([], [], color=BASE_COLOR, lw=0.8, label="base value"),
           Line2D([], [], color="black", lw=0.8, ls="--", label="the figure (no bias)")]  # fmt: skip
    fig.legend(handles=key, loc="outside lower center", ncols=4, frameon=False, fontsize=FONT)
    fig.suptitle(f"{kept} of {drawn} single changes of an assumption leave the figure holding", fontsize=FONT + 2)
    return fig


# ---------------------------------------------------------------------------------------------------- one point
def point_plot(table: pl.DataFrame, check: Check, changes: dict[str, Any]) -> Figure:
    """Each reading at one point: estimate and interval (hollow marker: truth), figure as a dashed line."""
    import matplotlib.pyplot as plt

    n = table.height
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * n + 1.3))
    for y, r in enumerate(table.iter_rows(named=True)):
        color = HOLDS_COLOR if r["holds"] else FAILS_COLOR
        if math.isfinite(r["value"]):
            ax.errorbar(
                r["value"],
                y,
                xerr=[[r["value"] - r["ci_low"]], [r["ci_high"] - r["value"]]],
                fmt="o",
                color=color,
                capsize=3,
            )
        ax.plot(r["truth"], y, marker="D", mfc="none", color=color)
        if r["direction"] != "covers-truth":
            ax.plot([r["target"]] * 2, [y - 0.35, y + 0.35], color="black", ls="--", lw=1)
    ax.set_yticks(range(n), [check.reading(r).label for r in table["reading"]], fontsize=FONT)
    ax.set_ylim(-0.6, n - 0.4)
    shown = ", ".join(f"{k.rsplit('.', 1)[-1]} = {v}" for k, v in changes.items()) or "base scenario"
    ax.set_title(f"{check.title}\n{shown}", fontsize=FONT + 1)
    ax.set_xlabel("estimate and 95% interval (dots), truth (diamonds), figure (dashed)", fontsize=FONT)
    fig.tight_layout()
    return fig
