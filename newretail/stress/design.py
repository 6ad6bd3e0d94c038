"""A stress grid's design: the modes, the assumptions a fixed sweep may vary (and the solved parameter each sets),
the axes, studies and points, and how a point is checked (the TOML loading is :mod:`newretail.stress.grid`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from newretail.scenario import Scenario, ScenarioError

Mode = Literal["recalibrated", "fixed"]
Design = Literal["grid", "oat", "lhs"]
MODES: tuple[str, ...] = ("recalibrated", "fixed")
DESIGNS: tuple[str, ...] = ("grid", "oat", "lhs")
CALIBRATION_GROUPS = ("shoppers", "banners", "inquiries", "city", "baseline")
MAX_POINTS = 5000  # per study: a typo in a grid should not start a week-long sweep

# Behaviour fields a "fixed" sweep may vary, and the solved parameter each one sets (group, field); None when the
# generators (or the claim's definition) read the field from the scenario at draw time.
FIXED_LEVERS: dict[str, tuple[str, str] | None] = {
    "behaviour.banners.novelty_decay": ("banners", "novelty_decay"),
    "behaviour.banners.placement_allocation_skew": ("banners", "allocation_slope"),
    "behaviour.banners.repeat_exposure_prob": ("banners", "repeat_exposure_prob"),
    "behaviour.personalization.targeting_strength": ("shoppers", "targeting_slope"),
    "behaviour.personalization.true_effect_logodds": ("shoppers", "effect_intercept"),
    "behaviour.personalization.effect_heterogeneity": ("shoppers", "effect_slope"),
    "behaviour.personalization.intent_weight": ("shoppers", "intent_weight"),
    "behaviour.orders.order_value_sigma": ("shoppers", "value_log_sd"),
    "behaviour.orders.vip_value_multiplier": ("shoppers", "vip_value_multiplier"),
    "behaviour.traffic.fx_rmb_per_usd": ("shoppers", "fx_rmb_per_usd"),  # store orders read it from the scenario
    "behaviour.traffic.fx_rmb_per_usd_2016": ("baseline", "fx_rmb_per_usd"),
    "behaviour.traffic.page_dwell_s": ("shoppers", "page_dwell_s"),
    "behaviour.traffic.pages_per_visit_dispersion": ("shoppers", "pages_dispersion"),
    "behaviour.chatbot.anger_escalation_threshold": ("inquiries", "escalation_threshold"),
    "behaviour.chatbot.bot_resolution_rate": ("inquiries", "bot_resolution_rate"),
    "behaviour.chatbot.human_resolution_rate": ("inquiries", "human_resolution_rate"),
    "behaviour.chatbot.repeat_contact_if_unresolved": ("inquiries", "repeat_contact_if_unresolved"),
    "behaviour.chatbot.bot_handle_s": ("inquiries", "bot_handle_s"),
    "behaviour.chatbot.human_handle_s": ("inquiries", "human_handle_s"),
    "behaviour.chatbot.human_occupancy": None,  # part of the efficiency definition
    **{
        f"behaviour.stores.{name}": None
        for name in (
            "pilot_effect",
            "pilot_selection_on_growth",
            "spillover_effect",
            "spillover_radius_km",
            "cannibalisation_log",
            "prep_min",
            "hema_orders_per_store",
            "sanjiang_orders_per_pilot_store",
            "online_grocery_rmb_per_household",
        )
    },
}

Value = float | str


class GridError(ValueError):
    """A grid that cannot be used; the message names the file, the study, the key and what is allowed."""


@dataclass(frozen=True)
class Axis:
    """One varied assumption: a dotted scenario field (or ``calibration.<group>.<parameter>``, a factor) and its
    values (for ``lhs``, the low and high ends of its range)."""

    field: str
    values: tuple[Value, ...]

    @property
    def is_factor(self) -> bool:
        """True for ``calibration.*`` axes, whose values multiply a solved parameter."""
        return self.field.startswith("calibration.")

    @property
    def short(self) -> str:
        """The last part of the field name, for plot labels."""
        return self.field.rsplit(".", 1)[-1] + (" (x solved)" if self.is_factor else "")


@dataclass(frozen=True)
class Study:
    """One break-even analysis: a claim, a mode, a design and the assumptions it varies."""

    name: str
    claim: str
    mode: Mode
    design: Design
    axes: tuple[Axis, ...]
    title: str = ""
    points: int = 0  # lhs only
    seeds: int | None = None  # overrides the grid's seeds per point
    scale: float | None = None  # overrides the grid's scale


@dataclass(frozen=True)
class Point:
    """One point of a study at one seed: what the sweep generates and evaluates."""

    study: str
    index: int  # point number within the study (seeds share it)
    claim: str
    mode: Mode
    values: tuple[tuple[str, Value], ...]  # (field, value) for every axis of the study
    varied: str  # for "oat": the axis moved away from the base ("" for the base point and other designs)
    seed: int
    scale: float

    def changes(self) -> dict[str, Value]:
        """The axis values as a dict, field to value."""
        return dict(self.values)


@dataclass(frozen=True)
class Grid:
    """A validated grid file: the sweep's scale, seeds per point and studies."""

    name: str
    scale: float
    seeds: int
    studies: tuple[Study, ...]
    description: str = ""
    lhs_seed: int = 0

    def study(self, name: str) -> Study:
        """The study called ``name``."""
        for s in self.studies:
            if s.name == name:
                return s
        raise GridError(f"grid {self.name}: no study {name!r} (studies: {', '.join(s.name for s in self.studies)})")

    def points(self, scenario: Scenario, *, seed: int = 0) -> list[Point]:
        """Every point of every study at every seed, in a fixed order; values are checked against ``scenario``.

        Parameters
        ----------
        scenario : the base scenario (its values are the base of ``oat`` designs).
        seed : first seed; a point with ``n`` seeds is drawn with ``seed, seed + 1, ..., seed + n - 1``.
        """
        if not (isinstance(seed, int) and 0 <= seed < 2**63 - 10_000):
            raise GridError(f"seed = {seed!r}: must be a whole number from 0 to 2**63 - 10001")
        out: list[Point] = []
        for number, st in enumerate(self.studies):
            rows = _design_rows(st, scenario, self.lhs_seed, number)
            n_seeds = st.seeds if st.seeds is not None else self.seeds
            scale = st.scale if st.scale is not None else self.scale
            for index, (values, varied) in enumerate(rows):
                _check_point(self.name, st, values, scenario)
                out.extend(
                    Point(st.name, index, st.claim, st.mode, values, varied, seed + k, scale) for k in range(n_seeds)
                )
        return out


def base_value(field: str, scenario: Scenario) -> Value:
    if field.startswith("calibration."):
        return 1.0
    node: Any = scenario
    for part in field.split("."):
        node = getattr(node, part)
    return node if isinstance(node, str) else float(node)


def _design_rows(
    st: Study, scenario: Scenario, lhs_seed: int, number: int
) -> list[tuple[tuple[tuple[str, Value], ...], str]]:
    fields = [a.field for a in st.axes]
    if st.design == "grid":
        combos = itertools.product(*(a.values for a in st.axes))
        return [(tuple(zip(fields, combo, strict=True)), "") for combo in combos]
    if st.design == "oat":
        base = {f: base_value(f, scenario) for f in fields}
        rows = [(tuple(base.items()), "")]
        for axis in st.axes:
            rows.extend((tuple({**base, axis.field: v}.items()), axis.field) for v in axis.values)
        return rows
    from scipy.stats import qmc

    sampler = qmc.LatinHypercube(d=len(st.axes), rng=np.random.default_rng([lhs_seed, number]))
    unit = sampler.random(st.points)
    low = np.array([float(a.values[0]) for a in st.axes])
    high = np.array([float(a.values[1]) for a in st.axes])
    table = low + unit * (high - low)
    return [(tuple(zip(fields, (float(round(x, 12)) for x in row), strict=True)), "") for row in table]


def _check_point(grid: str, st: Study, values: tuple[tuple[str, Value], ...], scenario: Scenario) -> None:
    behaviour = {f: v for f, v in values if not f.startswith("calibration.")}
    try:
        scenario.with_changes(behaviour)
    except ScenarioError as exc:
        raise GridError(f"grid {grid}: study {st.name!r}: {exc}") from None
