"""The Sanjiang pilot's store panel for newretail.methods (DiD, EventStudy, SyntheticControl), and its truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from newretail.methods import SyntheticControl
from newretail.tables import Dataset
from newretail.tables.categories import STORE_TYPES

if TYPE_CHECKING:
    from newretail.scenario import Stores
from newretail.analyses.stores._store_tables import Source, _mean, _tables

WAVES = ("pilot", "all")


def rollout_plan(source: Source, rollout: Stores | None = None) -> Stores | None:
    """The store behaviour whose rollout plan says when each store opens: ``rollout`` when given, else the dataset's
    own scenario's; None for a mapping of frames without ``rollout`` (the pilot alone, on day 0)."""
    if rollout is None and isinstance(source, Dataset):
        return source.scenario.behaviour.stores
    return rollout


def rollout_waves(stores: pl.DataFrame, plan: Stores | None) -> np.ndarray:
    """Each store's wave in the rollout (0: the pilot, opening on day 0; -1: never opens), in the row order of
    ``stores``, by :meth:`newretail.scenario.Stores.rollout_waves_of`; with no ``plan``, the pilot alone."""
    pilot = stores["pilot"].to_numpy()
    if plan is None:
        return np.where(pilot, 0, -1).astype(np.int64)
    order = np.argsort(stores["store_id"].to_numpy(), kind="stable")  # the plan breaks ties in store order
    wave = np.empty(stores.height, dtype=np.int64)
    wave[order] = plan.rollout_waves_of(
        sanjiang=(stores["store_type"].cast(pl.String) == "sanjiang").to_numpy()[order],
        pilot=pilot[order],
        x_km=stores["x_km"].to_numpy()[order],
        y_km=stores["y_km"].to_numpy()[order],
    )
    return wave


# ---------------------------------------------------------------------------------------------------------------
# the pilot's store panel


def store_panel(
    source: Source,
    *,
    outcome: str = "sales_rmb",
    controls: Sequence[str] = ("sanjiang", "other"),
    buffer_km: float = 0.0,
    waves: Literal["pilot", "all"] = "pilot",
    rollout: Stores | None = None,
) -> pl.DataFrame:
    """The pilot stores and their candidate controls, one row per store and day.

    Parameters
    ----------
    source : a dataset, or a mapping with ``stores`` and ``store_days`` frames.
    outcome : ``store_days`` column to analyse on the log scale (``sales_rmb``, ``transactions`` or
        ``catchment_online_rmb``); stores with a non-positive value on any day are left out.
    controls : store types whose stores outside the pilot (and outside any rollout) serve as controls.
    buffer_km : leave out controls within this distance (km) of a pilot store, or of any store of a rollout (a guard
        against spill-over).
    waves : ``"pilot"``: the pilot stores are the treated, from day 0; the stores of a rollout's later waves are left
        out (treated later, they are no clean control). ``"all"``: every store of the rollout is treated from its own
        opening day, a staggered design (for :class:`newretail.methods.StaggeredDiD`).
    rollout : the store behaviour whose rollout plan says when each store opens
        (:meth:`newretail.scenario.Stores.rollout_waves_of`); default: the dataset's own scenario, or for a mapping
        of frames the pilot alone. Without a rollout (one wave) both ``waves`` give the same panel.

    Returns
    -------
    Columns ``store_id``, ``day``, ``treated`` (the store opens in the panel: a pilot, or with ``waves="all"`` any
    store of the rollout), ``pilot_open`` (the store has opened by that day: the treatment indicator of
    :class:`newretail.methods.DiD`), ``y`` (log of the outcome), ``distance_to_pilot_km`` (to the nearest store of the
    rollout: the pilot stores unless it has later waves), ``store_type`` and ``open_day`` (the day the store opens;
    null for controls).
    """
    allowed_outcomes = ("sales_rmb", "transactions", "catchment_online_rmb")
    if outcome not in allowed_outcomes:
        raise ValueError(f"outcome = {outcome!r}: must be one of {', '.join(allowed_outcomes)}")
    bad = [c for c in controls if c not in STORE_TYPES]
    if bad or not controls:
        raise ValueError(f"controls = {list(controls)!r}: must be a non-empty list of {', '.join(STORE_TYPES)}")
    if not buffer_km >= 0:
        raise ValueError(f"buffer_km = {buffer_km!r}: must be a distance in km, 0 or more")
    if waves not in WAVES:
        raise ValueError(f"waves = {waves!r}: must be 'pilot' (the pilot stores) or 'all' (every wave of a rollout)")
    tb = _tables(source, ("stores", "store_days"))
    stores = tb["stores"]
    if stores.filter("pilot").height == 0:
        raise ValueError("source: no pilot store in the stores table")
    plan = rollout_plan(source, rollout)
    wave = rollout_waves(stores, plan)
    gap = plan.rollout_days_between_waves if plan is not None else 0
    opens = wave >= 0
    ox, oy = stores["x_km"].to_numpy()[opens], stores["y_km"].to_numpy()[opens]
    dist = np.hypot(stores["x_km"].to_numpy()[:, None] - ox, stores["y_km"].to_numpy()[:, None] - oy).min(axis=1)
    treated = opens if waves == "all" else wave == 0
    stores = stores.with_columns(
        distance_to_pilot_km=pl.Series(dist),
        treated=pl.Series(treated),
        open_day=pl.Series(np.maximum(wave, 0) * gap, dtype=pl.Int32),
        never=pl.Series(~opens),
    )
    keep = pl.col("treated") | (
        pl.col("never")
        & pl.col("store_type").cast(pl.String).is_in(list(controls))
        & (pl.col("distance_to_pilot_km") > buffer_km)
    )
    chosen = stores.filter(keep).select(
        "store_id", "store_type", "treated", "distance_to_pilot_km", open_day=pl.when("treated").then("open_day")
    )
    panel = (
        tb["store_days"]
        .select("store_id", "day", pl.col(outcome).cast(pl.Float64).alias("value"))
        .join(chosen, on="store_id")
        .filter((pl.col("value") > 0).all().over("store_id"))
        .select(
            "store_id",
            "day",
            "treated",
            pilot_open=pl.col("treated") & (pl.col("day") >= pl.col("open_day")).fill_null(False),
            y=pl.col("value").log(),
            distance_to_pilot_km="distance_to_pilot_km",
            store_type="store_type",
            open_day="open_day",
        )
        .sort("store_id", "day")
    )
    if panel.filter("treated").height == 0 or panel.filter(~pl.col("treated")).height == 0:
        raise ValueError(
            "store_panel: needs both pilot and control stores with a positive outcome (controls: stores of the "
            f"types {', '.join(controls)} that never open)"
        )
    return panel


PILOT_UNIT = -1  # store_id of the pilots' average in :func:`pilot_synthetic_control`


def pilot_synthetic_control(
    panel: pl.DataFrame,
    *,
    design: str = "demeaned",
    placebos: int = 200,
    alpha: float = 0.05,
    random_state: int = 0,
) -> SyntheticControl:
    """Synthetic control of the pilot stores' average log outcome (one unit, ``store_id`` = ``PILOT_UNIT``) from
    the control stores of a :func:`store_panel`, the pilot starting on day 0. ``effect_`` is the mean gap (log scale).

    The in-space placebos are a randomisation test of no effect: ``placebos`` random groups of as many stores as
    there are pilots, drawn among the panel's stores of the pilots' store type (pilots included: the pilots were
    chosen among them), each group's mean fitted from every other store of the panel, as the pilots' mean is fitted
    from every control (``placebo_size``, ``placebo_pool`` and ``treated_members`` of
    :class:`newretail.methods.SyntheticControl`). A single store is noisier than a mean of 13, and a group fitted
    from 13 fewer donors than the pilots matches its pre-period worse; either would make the rank test reject far
    too often. A group may hold pilots: under an effect its gap carries part of it, which widens ``ci_``.
    """
    for column in ("store_id", "day", "treated", "y", "store_type"):
        if column not in panel.columns:
            raise ValueError(f"panel: missing column {column!r}; build it with store_panel()")
    if "open_day" in panel.columns and panel.filter("treated")["open_day"].n_unique() > 1:
        raise ValueError(
            "panel: its stores open on different days (a staggered rollout); the synthetic control of the pilots' mean "
            "needs one opening day: build the panel with waves='pilot', or use staggered_rollout()"
        )
    pilots = panel.filter("treated").group_by("day").agg(pl.col("y").mean())
    units = pl.concat(
        [
            pilots.select(pl.lit(PILOT_UNIT, pl.Int64).alias("store_id"), "day", "y"),
            panel.select(pl.col("store_id").cast(pl.Int64), "day", "y"),
        ]
    )
    stores = panel.select(pl.col("store_id").cast(pl.Int64), pl.col("store_type").cast(pl.String), "treated").unique()
    members = stores.filter("treated")["store_id"].sort().to_list()
    pilot_types = stores.filter("treated")["store_type"].unique().to_list()
    pool = stores.filter(pl.col("store_type").is_in(pilot_types))["store_id"].sort().to_list()
    if len(pool) == len(members):
        raise ValueError(
            f"panel: no control store of the pilots' store type ({', '.join(pilot_types)}) to draw placebos"
        )
    sc = SyntheticControl(
        "store_id", "day", "y", PILOT_UNIT, 0, design=design, placebos=placebos, alpha=alpha,
        random_state=random_state, placebo_size=len(members), placebo_pool=pool, treated_members=members,
        treated_label=f"mean of the {len(members)} pilot stores",
    )  # fmt: skip
    return sc.fit(units)


# ---------------------------------------------------------------------------------------------------------------
# truth, for validation


@dataclass(frozen=True)
class PilotTruth:
    """The generator's truth about the pilot (read from ``truth_store_days``: for tests and validation only).

    effect_log: mean true effect on the pilots' log sales after day 0. extra_rmb: mean true extra sales per pilot
    store and day. online_effect_log: mean true effect on the log of the pilots' catchment online orders.
    online_lost_rmb: mean online orders per pilot catchment and day moved into the stores. spillover_stores: control
    stores exposed to spill-over.
    """

    effect_log: float
    extra_rmb: float
    online_effect_log: float
    online_lost_rmb: float
    spillover_stores: int

    @property
    def net_rmb(self) -> float:
        """Extra sales less the online orders they displaced, RMB per pilot store and day."""
        return self.extra_rmb - self.online_lost_rmb


def pilot_truth(source: Source) -> PilotTruth:
    """The true pilot effects of a dataset or simulated city (validation only: reads ``truth_store_days``)."""
    tb = _tables(source, ("stores", "truth_store_days"))
    truth = tb["truth_store_days"].join(tb["stores"].select("store_id", "pilot"), on="store_id")
    post = truth.filter(pl.col("pilot") & (pl.col("day") >= 0))
    return PilotTruth(
        effect_log=_mean(post["true_effect_log"]),
        extra_rmb=_mean(post["sales_rmb_without_pilot"] * (post["true_effect_log"].exp() - 1)),
        online_effect_log=_mean(post["true_online_effect_log"]),
        online_lost_rmb=_mean(post["catchment_online_rmb_without_pilot"] * (1 - post["true_online_effect_log"].exp())),
        spillover_stores=int(truth.filter(pl.col("spillover_exposed"))["store_id"].n_unique()),
    )
