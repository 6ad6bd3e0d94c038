"""Scenarios: the report's figures (targets) and the assumptions behind a synthetic sales day (behaviour).

A scenario is a TOML file validated by pydantic. The shipped one, ``singles_day_2017``, lives in
``newretail/scenarios/``; any other path works too, so a user can copy it (``newretail scenario show``),
edit it and generate from it.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
)

__all__ = [
    "PRESS_KEYS",
    "TARGET_KEYS",
    "Scenario",
    "ScenarioError",
    "available_scenarios",
    "load_scenario",
    "scenario_text",
]

Share = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
OpenShare = Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Real = Annotated[float, Field(allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Hour = Annotated[float, Field(ge=0.0, lt=24.0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    # strict: a number is a number (a string such as "25e9" is refused by name, not converted), a count is an int
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Targets(_Frozen):
    """The report's figures. Keys are stable: claims use them as ids."""

    gmv_usd: Positive
    gmv_yoy_growth: Annotated[float, Field(gt=-1.0, allow_inf_nan=False)]
    ai_banners: Positive
    ai_banner_ctr_ratio: Positive
    personalized_pages: Positive
    personalized_page_conversion: OpenShare
    chatbot_inquiries: Positive
    chatbot_share: OpenShare
    chatbot_efficiency_ratio: Positive
    hema_radius_km: Positive
    hema_delivery_minutes: Positive
    sanjiang_pilot_stores: PositiveInt
    sanjiang_delivery_minutes: Positive


class Press(_Frozen):
    """Secondary targets from public press coverage of the same day (not from the report)."""

    gmv_rmb: Positive
    peak_orders_per_second: Positive
    peak_payments_per_second: Positive
    payment_transactions: Positive
    delivery_orders: Positive
    mobile_gmv_share: OpenShare


class Traffic(_Frozen):
    active_users: Positive
    user_activity_shape: Positive
    evening_peak_hour: Hour
    night_trough_hour: Hour
    diurnal_amplitude: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
    midnight_spike_decay_min: Positive
    pages_per_visit_dispersion: Positive
    page_dwell_s: Positive
    fx_rmb_per_usd: Positive
    fx_rmb_per_usd_2016: Positive


class Personalization(_Frozen):
    personalized_visit_share: OpenShare
    targeting_strength: Real
    true_effect_logodds: Real
    effect_heterogeneity: Real
    intent_weight: NonNegative
    conversion_reading: Literal["rate", "lift"]
    lift_reading_base_conversion: OpenShare


class Orders(_Frozen):
    order_value_sigma: Positive
    vip_value_multiplier: Positive


class Banners(_Frozen):
    ai_impression_share: OpenShare
    human_ctr: OpenShare
    placement_allocation_skew: Real
    novelty_decay: NonNegative
    repeat_exposure_prob: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
    brands: PositiveInt


class Chatbot(_Frozen):
    bot_handle_s: Positive
    human_handle_s: Positive
    human_occupancy: OpenShare
    anger_escalation_threshold: Share
    bot_resolution_rate: Share
    human_resolution_rate: Share
    repeat_contact_if_unresolved: Share


class Stores(_Frozen):
    city_width_km: Positive
    city_height_km: Positive
    hema_stores: PositiveInt
    sanjiang_stores: PositiveInt
    other_supermarkets: PositiveInt
    hema_orders_per_store: Positive
    sanjiang_orders_per_pilot_store: Positive
    prep_min: Positive
    sanjiang_speed_ratio: Positive
    pilot_effect: Real
    pilot_selection_on_growth: Share
    spillover_effect: Real
    spillover_radius_km: NonNegative
    panel_days_before: Annotated[int, Field(ge=7)]
    panel_days_after: PositiveInt
    households: Positive = 2.8e6
    household_blocks: Annotated[int, Field(ge=10)] = 5000
    online_grocery_rmb_per_household: Positive = 3.0
    cannibalisation_log: Real = 0.03
    # a staggered rollout (defaults: the report's single-day pilot); see rollout_waves_of
    rollout_waves: PositiveInt = Field(
        default=1,
        description="waves in which Sanjiang stores open the pilot's format: the pilot stores on day 0, then "
        "rollout_stores_per_wave more in each later wave (1: the pilot alone, the report's single day)",
    )
    rollout_days_between_waves: PositiveInt = Field(
        default=14, description="days from one wave's opening to the next's"
    )
    rollout_stores_per_wave: PositiveInt = Field(
        default=13,
        description="Sanjiang stores opening in each wave after the pilot: those nearest the city centre first",
    )
    pilot_effect_growth_per_week: Real = Field(
        default=0.0,
        description="growth of a store's effect on its log sales per week since it opened (customers find the "
        "new format over time), log per week",
    )
    rollout_effect_change_per_wave: Real = Field(
        default=0.0,
        description="a wave's effect at opening minus the wave before's, log (negative: later waves, farther "
        "from the centre, gain less)",
    )

    @field_validator("rollout_days_between_waves")
    @classmethod
    def _last_wave_within_panel(cls, gap: int, info: ValidationInfo) -> int:
        waves, after = info.data.get("rollout_waves"), info.data.get("panel_days_after")
        if isinstance(waves, int) and isinstance(after, int) and (waves - 1) * gap >= after:
            raise ValueError(
                f"the last of {waves} waves would open on day {(waves - 1) * gap}, after the panel's last day "
                f"{after - 1} (panel_days_after = {after}): fewer waves, fewer days between them, or a longer panel"
            )
        return gap

    @model_serializer(mode="wrap")
    def _added_fields_at_default_left_out(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        """The canonical form leaves out the fields added after the first release while they hold their default,
        so a scenario that does not use them keeps its content hash (its datasets and cached entries stay valid);
        ``context={"every_field": True}`` keeps them (:meth:`Scenario.with_changes` edits every field)."""
        data: dict[str, Any] = handler(self)
        if isinstance(info.context, dict) and info.context.get("every_field"):
            return data
        for name in ADDED_STORE_FIELDS:
            if getattr(self, name) == type(self).model_fields[name].default:
                data.pop(name, None)
        return data

    def rollout_waves_of(self, *, sanjiang: Any, pilot: Any, x_km: Any, y_km: Any) -> Any:
        """Each store's wave in the rollout (0: the pilot, opening on day 0; -1: never opens), from the stores table.

        Wave 0 is the pilot stores; waves 1 to ``rollout_waves - 1`` take ``rollout_stores_per_wave`` Sanjiang
        stores outside the pilot each, nearest the city centre first (straight-line distance from the centre of the
        ``city_width_km`` x ``city_height_km`` city, ties in store order). Wave ``w`` opens on day
        ``w * rollout_days_between_waves``. The rule reads only what the stores table holds (type, pilot, position
        in km as stored), so the generator and an analyst derive the same waves.

        Parameters
        ----------
        sanjiang, pilot : bool per store (in ``store_id`` order): a Sanjiang store; a pilot store.
        x_km, y_km : position per store, km (the ``stores`` table's values).

        Returns
        -------
        numpy.ndarray of int64, one wave per store.
        """
        import numpy as np

        sanjiang, pilot = np.asarray(sanjiang, dtype=bool), np.asarray(pilot, dtype=bool)
        x, y = np.asarray(x_km, dtype=np.float64), np.asarray(y_km, dtype=np.float64)
        wave = np.where(pilot, 0, -1).astype(np.int64)
        candidates = np.flatnonzero(sanjiang & ~pilot)
        need = (self.rollout_waves - 1) * self.rollout_stores_per_wave
        if need > candidates.size:
            raise ValueError(
                f"behaviour.stores.rollout_waves = {self.rollout_waves}: {self.rollout_waves - 1} waves of "
                f"{self.rollout_stores_per_wave} stores need {need} Sanjiang stores outside the pilot; the city has "
                f"{candidates.size}"
            )
        distance = np.hypot(x[candidates] - self.city_width_km / 2, y[candidates] - self.city_height_km / 2)
        order = candidates[np.argsort(distance, kind="stable")][:need]
        wave[order] = 1 + np.arange(need) // self.rollout_stores_per_wave
        return wave


ADDED_STORE_FIELDS = (
    "rollout_waves",
    "rollout_days_between_waves",
    "rollout_stores_per_wave",
    "pilot_effect_growth_per_week",
    "rollout_effect_change_per_wave",
)
"""Fields of ``behaviour.stores`` added after the first release: left out of the canonical form at their default."""


class Growth(_Frozen):
    visitor_share: Share
    conversion_share: Share


class Dependence(_Frozen):
    """The dependence a real day's logs have: random effects of shoppers, banner designs and hours, and bursts of
    rows from one shopper. Magnitudes are modelling choices (no public source gives them for this day); each one
    is chosen to be moderate and to make an interval that ignores it visibly too narrow. All zero (and burst means
    of 1) give independent rows."""

    shopper_conversion_sd: NonNegative = Field(
        default=0.5,
        description="sd (log-odds) of a shopper's random effect on converting, shared by all the shopper's visits: "
        "some shoppers buy more readily than their observed features say",
    )
    shopper_click_sd: NonNegative = Field(
        default=1.0,
        description="sd (log-odds) of a shopper's random effect on clicking banners, shared by every impression "
        "the shopper sees: banner blindness varies a lot between people",
    )
    shopper_allocation_sd: NonNegative = Field(
        default=1.5,
        description="sd (log-odds) of a shopper's random effect on being shown an AI creative: Lu Ban serves some "
        "shoppers mostly AI banners, so a shopper's click effect does not cancel in the CTR ratio",
    )
    design_click_sd: NonNegative = Field(
        default=0.6,
        description="sd (log-odds) of a banner design's random effect on clicks, shared by every impression of "
        "the design: some designs simply work better",
    )
    designs_per_brand: PositiveInt = Field(
        default=2,
        description="designs per brand and creative source: human creatives and the Lu Ban templates AI "
        "creatives are generated from; few designs make their effects weigh on the CTR",
    )
    hour_click_sd: NonNegative = Field(
        default=0.2,
        description="sd (log-odds) of an hour-of-day shock on banner clicks, shared by AI and human creatives "
        "(flash promotions, app pushes)",
    )
    banner_burst_mean: Annotated[float, Field(ge=1.0, allow_inf_nan=False)] = Field(
        default=4.0,
        description="mean impressions per browsing burst of one shopper (1 + gamma-Poisson): a shopper scrolling a "
        "feed sees several banners in a row",
    )
    banner_burst_shape: Positive = Field(
        default=1.0, description="gamma shape of the burst's extra impressions (lower = more over-dispersed)"
    )
    inquiry_burst_mean: Annotated[float, Field(ge=1.0, allow_inf_nan=False)] = Field(
        default=2.5,
        description="mean inquiries per burst of one shopper about one problem (1 + gamma-Poisson): customers "
        "write again about the same issue, with the same intent and anger",
    )
    inquiry_burst_shape: Positive = Field(
        default=0.5, description="gamma shape of the burst's repeat inquiries (lower = more over-dispersed arrivals)"
    )
    shopper_transfer_sd: NonNegative = Field(
        default=1.0,
        description="sd (log-odds) of a shopper's random effect on the bot passing an inquiry to a human: some "
        "customers ask for a person whatever the question",
    )


class Behaviour(_Frozen):
    traffic: Traffic
    personalization: Personalization
    orders: Orders
    banners: Banners
    chatbot: Chatbot
    stores: Stores
    growth: Growth
    dependence: Dependence = Field(default_factory=Dependence)


class Sampling(_Frozen):
    users_per_partition: PositiveInt
    banner_oversample: Positive
    inquiry_oversample: Positive


class Scenario(_Frozen):
    """A validated scenario: targets to reproduce and the behaviour assumed to reproduce them."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    event_date: str
    targets: Targets
    press: Press
    behaviour: Behaviour
    sampling: Sampling

    def with_changes(self, changes: dict[str, Any]) -> Scenario:
        """Return a copy with dotted fields replaced, e.g. ``{"behaviour.banners.novelty_decay": 0.3}``.

        The copy is validated again, so a bad value raises :class:`ScenarioError`.
        """
        data = self.model_dump(context={"every_field": True})
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                if not isinstance(node, dict) or key not in node:
                    raise ScenarioError(f"{dotted}: no such field in the scenario")
                node = node[key]
            if leaf not in node:
                raise ScenarioError(f"{dotted}: no such field in the scenario")
            node[leaf] = value
        return _validate(data, source=f"{self.name} (modified)")


TARGET_KEYS: tuple[str, ...] = tuple(Targets.model_fields)
PRESS_KEYS: tuple[str, ...] = tuple(Press.model_fields)


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the field, the value and what is allowed."""


def _describe(error: Any) -> str:
    loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{loc}: unknown key (allowed keys are listed by 'newretail scenario show')"
    if kind == "missing":
        return f"{loc}: required key is missing"
    value = error.get("input")
    shown = repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        shown = str(value)
    return f"{loc} = {shown}: {error['msg'][0].lower()}{error['msg'][1:]}"


def _validate(data: dict[str, Any], source: str) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ScenarioError(f"scenario {source}: {_describe(first)}{suffix}") from None
    s = scenario.behaviour.stores
    need = scenario.targets.sanjiang_pilot_stores + (s.rollout_waves - 1) * s.rollout_stores_per_wave
    if s.rollout_waves > 1 and need > s.sanjiang_stores:
        raise ScenarioError(
            f"scenario {source}: behaviour.stores.rollout_stores_per_wave = {s.rollout_stores_per_wave}: the pilot's "
            f"{scenario.targets.sanjiang_pilot_stores} stores and {s.rollout_waves - 1} more waves need {need} "
            f"Sanjiang stores; the city has {s.sanjiang_stores} (behaviour.stores.sanjiang_stores)"
        )
    return scenario


def available_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package."""
    folder = resources.files("newretail") / "scenarios"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _resolve(name_or_path: str | Path) -> tuple[str, str]:
    """Return (text, source label) for a shipped scenario name or a TOML path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise ScenarioError(f"scenario {candidate}: no such file")
        return candidate.read_text(encoding="utf-8"), str(candidate)
    name = str(name_or_path)
    if name not in available_scenarios():
        raise ScenarioError(
            f"scenario {name!r}: not a shipped scenario ({', '.join(available_scenarios())}) nor a TOML file"
        )
    text = (resources.files("newretail") / "scenarios" / f"{name}.toml").read_text(encoding="utf-8")
    return text, name


def scenario_text(name_or_path: str | Path) -> str:
    """The TOML text of a scenario, for a user to copy and edit."""
    return _resolve(name_or_path)[0]


def load_scenario(name_or_path: str | Path | Scenario) -> Scenario:
    """Load and validate a scenario from a shipped name (``"singles_day_2017"``) or a TOML path.

    Raises
    ------
    ScenarioError
        With one line naming the first bad field, its value and what is allowed.
    """
    if isinstance(name_or_path, Scenario):
        return name_or_path
    text, source = _resolve(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {source}: not valid TOML ({exc})") from None
    return _validate(data, source)


def scenario_from_dict(data: dict[str, Any], source: str = "(dict)") -> Scenario:
    """Validate a scenario given as a plain dict (as stored in a dataset manifest)."""
    return _validate(data, source)
