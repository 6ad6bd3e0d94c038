"""Stress grids: which assumptions a sweep varies, over which values, in which mode, for which claim.

A grid is a TOML file (the shipped ones are in ``newretail/stress/grids/``)::

    name = "paper"
    scale = 1e-5          # share of the full event generated at each point
    seeds = 1             # datasets per point (seed, seed + 1, ...)

    [[study]]
    name = "ctr_fixed"
    claim = "ai_banner_ctr_ratio"
    mode = "fixed"        # or "recalibrated"
    design = "grid"       # full factorial; "oat" one at a time around the base; "lhs" Latin hypercube
    [study.axes]
    "behaviour.banners.novelty_decay" = [0.0, 0.15, 0.3, 0.45, 0.6]
    "behaviour.banners.placement_allocation_skew" = [0.0, 1.0, 2.0]

Modes (see the package docstring): ``recalibrated`` changes the scenario and solves the generator again, so the
observed figure is reproduced and what moves is what it means; ``fixed`` keeps the parameters solved for the base
scenario and changes only the named assumptions, so the observed figure itself moves. In ``fixed`` mode an axis
must be an assumption the generator reads (:data:`FIXED_LEVERS`) or a solved parameter scaled by a factor
(``calibration.<group>.<parameter>``, e.g. ``calibration.baseline.visits = [0.9, 1.1]`` for a 2016 event 10%
smaller or larger than the calibrated one).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from newretail.scenario import Scenario, ScenarioError

__all__ = [
    "DESIGNS",
    "FIXED_LEVERS",
    "MODES",
    "Axis",
    "Grid",
    "GridError",
    "Point",
    "Study",
    "available_grids",
    "load_grid",
]

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


def check_point(
    scenario: Scenario, *, claim: str, changes: dict[str, Value], mode: str, scale: float, seed: int
) -> Point:
    """A single validated point outside any grid (see :func:`newretail.stress.point`)."""
    from newretail.stress.checks import CHECKS

    if claim not in CHECKS:
        raise GridError(f"claim = {claim!r}: must be one of {', '.join(CHECKS)}")
    if mode not in MODES:
        raise GridError(f"mode = {mode!r}: must be one of {', '.join(MODES)}")
    if not (_number(scale) and 0 < scale <= 1):
        raise GridError(f"scale = {scale!r}: must be a number in (0, 1]")
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise GridError(f"seed = {seed!r}: must be a whole number from 0 to 2**63 - 1")
    values: list[tuple[str, Value]] = []
    for field, value in changes.items():
        _check_field("changes", field, mode)
        if isinstance(value, str):
            values.append((field, value))
        elif _number(value):
            values.append((field, float(value)))
        else:
            raise GridError(f"changes[{field!r}] = {value!r}: must be a finite number or a string")
    study = Study("point", claim, mode, "grid", ())  # type: ignore[arg-type]
    _check_point("point()", study, tuple(values), scenario)
    return Point("point", 0, claim, mode, tuple(values), "", seed, float(scale))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------------- loading
def available_grids() -> list[str]:
    """Names of the grids shipped with the package."""
    folder = resources.files("newretail") / "stress" / "grids"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _read(name_or_path: str | Path) -> tuple[str, str]:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file() or len(candidate.parts) > 1:
        if not candidate.is_file():
            raise GridError(f"grid {candidate}: no such file")
        return candidate.read_text(encoding="utf-8"), str(candidate)
    name = str(name_or_path)
    if name not in available_grids():
        raise GridError(f"grid {name!r}: not a shipped grid ({', '.join(available_grids())}) nor a TOML file")
    return (resources.files("newretail") / "stress" / "grids" / f"{name}.toml").read_text(encoding="utf-8"), name


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_keys(where: str, data: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise GridError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in data:
            raise GridError(f"{where}: required key {key!r} is missing")


def _param_classes() -> dict[str, type]:
    from newretail.generate.baseline import BaselineParams
    from newretail.generate.city import CityParams
    from newretail.generate.impressions import BannerParams
    from newretail.generate.inquiries import InquiryParams
    from newretail.generate.shoppers import ShopperParams

    return {
        "shoppers": ShopperParams,
        "banners": BannerParams,
        "inquiries": InquiryParams,
        "city": CityParams,
        "baseline": BaselineParams,
    }


def _check_field(where: str, field: str, mode: str) -> None:
    if field.startswith("calibration."):
        parts = field.split(".")
        if mode != "fixed":
            raise GridError(f"{where}: {field}: calibration.* axes scale a solved parameter and need mode = 'fixed'")
        classes = _param_classes()
        if len(parts) != 3 or parts[1] not in classes:
            raise GridError(
                f"{where}: {field}: must be calibration.<group>.<parameter>, group one of {', '.join(classes)}"
            )
        params = {f.name for f in dataclasses.fields(classes[parts[1]]) if f.type in ("float", float)}
        if parts[2] not in params:
            raise GridError(f"{where}: {field}: no parameter {parts[2]!r} in {parts[1]} ({', '.join(sorted(params))})")
        return
    if field not in scenario_fields():
        raise GridError(
            f"{where}: {field}: not a scenario field (see 'newretail scenario show'; write it dotted, "
            "e.g. behaviour.banners.novelty_decay)"
        )
    if not field.startswith("behaviour."):
        raise GridError(f"{where}: {field}: only behaviour.* assumptions can be varied")
    if mode == "fixed" and field not in FIXED_LEVERS:
        raise GridError(
            f"{where}: {field}: the parameters solved for the base scenario absorb it, so it has no effect in mode "
            "'fixed'; use mode 'recalibrated' (fixed-mode assumptions: see newretail.stress.FIXED_LEVERS)"
        )


def scenario_fields() -> set[str]:
    """Every dotted leaf field of a scenario, e.g. ``behaviour.banners.novelty_decay``."""
    from pydantic import BaseModel

    fields: set[str] = set()

    def walk(prefix: str, model: type[BaseModel]) -> None:
        for key, info in model.model_fields.items():
            kind = info.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                walk(f"{prefix}{key}.", kind)
            else:
                fields.add(f"{prefix}{key}")

    walk("", Scenario)
    return fields


def _axes(where: str, raw: Any, design: str, mode: str) -> tuple[Axis, ...]:
    if not isinstance(raw, dict) or not raw:
        raise GridError(f"{where}: axes must be a table of field = [values] with at least one field")
    axes = []
    for field, values in raw.items():
        at = f"{where}: axes.{field!r}"
        _check_field(f"{where}: axes", field, mode)
        if not isinstance(values, list) or not values:
            raise GridError(f"{at}: must be a non-empty list of values")
        kinds = {type(v) for v in values}
        if all(_number(v) for v in values):
            clean: tuple[Value, ...] = tuple(float(v) for v in values)
        elif kinds == {str}:
            clean = tuple(values)
        else:
            raise GridError(f"{at} = {values!r}: values must be all finite numbers or all strings")
        if design == "lhs":
            low, high = (*clean, None, None)[:2]
            if len(clean) != 2 or not (isinstance(low, float) and isinstance(high, float) and low < high):
                raise GridError(f"{at} = {values!r}: a Latin hypercube axis is [low, high] with low < high")
        if len(set(clean)) != len(clean):
            raise GridError(f"{at} = {values!r}: values repeat")
        if field.startswith("calibration.") and not all(isinstance(v, float) and v > 0 for v in clean):
            raise GridError(f"{at} = {values!r}: factors of a solved parameter must be positive numbers")
        axes.append(Axis(field, clean))
    return tuple(axes)


def _study(where: str, raw: Any, claims: tuple[str, ...]) -> Study:
    if not isinstance(raw, dict):
        raise GridError(f"{where}: must be a table")
    _check_keys(
        where,
        raw,
        ("name", "title", "claim", "mode", "design", "axes", "points", "seeds", "scale"),
        ("name", "claim", "mode", "design", "axes"),
    )
    name = raw["name"]
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise GridError(f"{where}: name = {name!r}: must be letters, digits, '_' or '-'")
    where = f"{where} {name!r}"
    if raw["claim"] not in claims:
        raise GridError(f"{where}: claim = {raw['claim']!r}: must be one of {', '.join(claims)}")
    if raw["mode"] not in MODES:
        raise GridError(f"{where}: mode = {raw['mode']!r}: must be one of {', '.join(MODES)}")
    if raw["design"] not in DESIGNS:
        raise GridError(f"{where}: design = {raw['design']!r}: must be one of {', '.join(DESIGNS)}")
    axes = _axes(where, raw["axes"], raw["design"], raw["mode"])
    points = raw.get("points", 0)
    if raw["design"] == "lhs":
        if not (isinstance(points, int) and not isinstance(points, bool) and 2 <= points <= MAX_POINTS):
            raise GridError(f"{where}: points = {points!r}: a Latin hypercube needs 2 to {MAX_POINTS} points")
    elif "points" in raw:
        raise GridError(f"{where}: points: only for design = 'lhs'")
    n = (
        points
        if raw["design"] == "lhs"
        else (
            math.prod(len(a.values) for a in axes) if raw["design"] == "grid" else 1 + sum(len(a.values) for a in axes)
        )
    )
    if n > MAX_POINTS:
        raise GridError(f"{where}: {n} points: at most {MAX_POINTS} per study")
    seeds = raw.get("seeds")
    if seeds is not None and not (isinstance(seeds, int) and not isinstance(seeds, bool) and 1 <= seeds <= 100):
        raise GridError(f"{where}: seeds = {seeds!r}: must be a whole number from 1 to 100")
    scale = raw.get("scale")
    if scale is not None and not (_number(scale) and 0 < scale <= 1):
        raise GridError(f"{where}: scale = {scale!r}: must be a number in (0, 1]")
    title = raw.get("title", "")
    if not isinstance(title, str):
        raise GridError(f"{where}: title = {title!r}: must be a string")
    return Study(
        name=name,
        claim=raw["claim"],
        mode=raw["mode"],
        design=raw["design"],
        axes=axes,
        title=title,
        points=int(points),
        seeds=seeds,
        scale=None if scale is None else float(scale),
    )


def load_grid(name_or_path: str | Path | Grid) -> Grid:
    """Load and validate a grid from a shipped name (``"paper"``, ``"dense"``, ``"smoke"``) or a TOML path.

    Raises
    ------
    GridError
        With one line naming the file, the study and the first bad key, its value and what is allowed.
    """
    if isinstance(name_or_path, Grid):
        return name_or_path
    from newretail.stress.checks import CHECKS

    text, source = _read(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"grid {source}: not valid TOML ({exc})") from None
    where = f"grid {source}"
    _check_keys(where, data, ("name", "description", "scale", "seeds", "lhs_seed", "study"), ("scale", "study"))
    scale = data["scale"]
    if not (_number(scale) and 0 < scale <= 1):
        raise GridError(f"{where}: scale = {scale!r}: must be a number in (0, 1], the share of the full event")
    seeds = data.get("seeds", 1)
    if not (isinstance(seeds, int) and not isinstance(seeds, bool) and 1 <= seeds <= 100):
        raise GridError(f"{where}: seeds = {seeds!r}: must be a whole number from 1 to 100")
    lhs_seed = data.get("lhs_seed", 0)
    if not (isinstance(lhs_seed, int) and not isinstance(lhs_seed, bool) and lhs_seed >= 0):
        raise GridError(f"{where}: lhs_seed = {lhs_seed!r}: must be a whole number, 0 or more")
    studies_raw = data["study"]
    if not isinstance(studies_raw, list) or not studies_raw:
        raise GridError(f"{where}: study: needs at least one [[study]] table")
    studies = tuple(_study(f"{where}: study {i + 1}", raw, tuple(CHECKS)) for i, raw in enumerate(studies_raw))
    names = [s.name for s in studies]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise GridError(f"{where}: study name {dup!r} is used twice")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise GridError(f"{where}: name = {name!r}: must be a string")
    description = data.get("description", "")
    return Grid(name, float(scale), int(seeds), studies, str(description), int(lhs_seed))
