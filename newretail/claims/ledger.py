"""The ledger behind each verdict: how precisely the source states a figure, whether the data could have
contradicted it, what the calibration had to assume for it to come out, and where it stops holding.

* **Stated precision** (:func:`stated_range`). "USD 25 billion" is a rounded figure: the values that round to it,
  [24.5, 25.5) billion. A claim *holds* when its 95% interval overlaps that range (a promise such as "within 30
  minutes" when the interval's low end is under the range's top; an exact count when it lies in it); the old reading,
  the exact target inside the interval, stays available as ``holds_exact``.
* **Evidence** (:data:`CONSTRUCTION`). A figure is ``"construction"`` when the generator writes the target (or a
  value computed from it) into the data, so no sample could contradict it; such figures are not counted among those
  the data recreate. Every other figure is ``"data"``: calibration solves a parameter so that its *expected* value
  equals the target, and the sample's interval can still miss it.
* **Implied assumptions** (:func:`implied`). For each figure, the values the calibration solved or assumed that a
  reader can compare with the outside world, each with a public reference range from ``references.toml`` (shipped
  with the package) or "no public reference found". A value more than :data:`FAR` times beyond its range is
  *implausible*.
* **Break-evens** (:func:`break_even`): the frontiers of :mod:`newretail.stress.frontier` for the claim's readings
  along the assumptions the paper's grid sweeps, with the other assumptions and the solved parameters held (``fixed``).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from newretail.scenario import Scenario

__all__ = [
    "CONSTRUCTION",
    "FAR",
    "Implied",
    "break_even",
    "holds_stated",
    "implied",
    "ledger_summary",
    "references",
    "stated_range",
]

FAR = 3.0  # a value more than this factor beyond its reference range is implausible
MIN_SIGNIFICANT = 2  # a round figure ("400 million", "10,000 times") is read to two significant digits
NO_REFERENCE = "no public reference found"

CONSTRUCTION: dict[str, str] = {
    "sanjiang_pilot_stores": (
        "the scenario's target sets how many Sanjiang stores the city marks as pilots (CityParams.pilot_stores), and "
        "the claim counts them back: no draw can change the count"
    ),
    "chatbot_efficiency_ratio": (
        "calibration sets the bot's mean concurrent sessions to target x human_occupancy x bot_handle_s / "
        "human_handle_s, and the metric divides the same assumed occupancy back out; the data measure only handling "
        "times and sessions drawn around that set mean"
    ),
    "mobile_gmv_share": "each order's device is drawn with the press figure itself as the probability of 'mobile'",
}


def stated_range(target: float, unit: str, direction: str) -> tuple[float, float]:
    """The values that round to a published figure, [low, high): half a unit of its last written digit each side.

    Shares are read in percent to their last written decimal ("95%": 94.5% to 95.5%); other figures to their last
    significant digit, at least :data:`MIN_SIGNIFICANT` of them ("USD 25 billion": 24.5 to 25.5 billion; "400
    million": 395 to 405 million). Exact counts (``direction="exact"``) are their own range.
    """
    if not (isinstance(target, (int, float)) and math.isfinite(target)):
        raise ValueError(f"target = {target!r}: must be a finite number")
    if direction == "exact" or target == 0:
        return float(target), float(target)
    if unit == "share":
        percent = target * 100.0
        decimals = next((d for d in range(7) if abs(round(percent, d) - percent) < 1e-9), 6)
        half = 0.5 * 10.0 ** (-decimals) / 100.0
    else:
        digits = next((d for d in range(1, 16) if float(f"{target:.{d}g}") == target), 15)
        half = 0.5 * 10.0 ** (math.floor(math.log10(abs(target))) - max(digits, MIN_SIGNIFICANT) + 1)
    return float(target - half), float(target + half)


def holds_stated(
    direction: str, stated: tuple[float, float], value: float, low: float, high: float, margin: float = 0.0
) -> bool:
    """Whether a reproduced figure supports the stated one: its interval [low, high] overlaps the stated range
    [stated_low, stated_high) (``two-sided``), its low end is under the range's top (``at-most``, a promise), or
    the exact value lies in the range (``exact``); ``margin`` widens the stated range on each side."""
    if not all(math.isfinite(x) for x in (value, low, high)):
        return False
    s_low, s_high = stated[0] - margin, stated[1] + margin
    if direction == "exact":
        return s_low <= value <= s_high
    if direction == "at-most":
        return low < s_high
    if direction != "two-sided":
        raise ValueError(f"direction = {direction!r}: must be 'two-sided', 'at-most' or 'exact'")
    return low < s_high and high >= s_low


# ----------------------------------------------------------------------------------------------- implied assumptions
@dataclass(frozen=True)
class Implied:
    """One assumption a figure rests on: its value and unit, the public reference range, and the verdict."""

    parameter: str
    value: float
    unit: str
    reference_low: float | None
    reference_high: float | None
    source: str
    verdict: str  # "within", "outside", "implausible" or NO_REFERENCE
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@lru_cache(maxsize=1)
def references() -> dict[str, dict[str, Any]]:
    """The public reference ranges shipped in ``newretail/claims/references.toml``, by parameter."""
    text = (resources.files("newretail") / "claims" / "references.toml").read_text(encoding="utf-8")
    return {ref["parameter"]: ref for ref in tomllib.loads(text)["reference"]}


def judge_reference(value: float, low: float | None, high: float | None) -> tuple[str, str]:
    """(verdict, reason) of a value against a reference range: within it, outside it, or more than :data:`FAR`
    times beyond it (implausible)."""
    if low is None or high is None:
        return NO_REFERENCE, ""
    if not math.isfinite(value):
        return "implausible", "the calibration gives no finite value"
    if low <= value <= high:
        return "within", f"{value:.3g} lies in the reference range {low:.3g} to {high:.3g}"
    factor = value / high if value > high else (low / value if value > 0 else math.inf)
    side = "above the top" if value > high else "below the bottom"
    verdict = "implausible" if factor > FAR else "outside"
    return verdict, f"{value:.3g} is {factor:.3g}x {side} of the reference range {low:.3g} to {high:.3g}"


def _implied(parameter: str, value: float, unit: str, reference: str | None = None, note: str = "") -> Implied:
    ref = references().get(reference) if reference else None
    if ref is None:
        return Implied(parameter, float(value), unit, None, None, NO_REFERENCE, NO_REFERENCE, note)
    verdict, reason = judge_reference(float(value), float(ref["low"]), float(ref["high"]))
    reason = "; ".join(p for p in (reason, ref.get("note", ""), note) if p)
    return Implied(parameter, float(value), unit, float(ref["low"]), float(ref["high"]), ref["source"], verdict, reason)


def implied(claim_id: str, scenario: Scenario, calibration: Any) -> list[Implied]:
    """What the calibration had to assume for ``claim_id``'s figure to come out (empty for a figure with none).

    ``calibration`` is a :class:`~newretail.generate.calibrate.Calibration` (the dataset's own solved parameters).
    """
    e, sc, b = calibration.expected, scenario, scenario.behaviour
    s = b.personalization.personalized_visit_share
    out: dict[str, list[Implied]] = {
        "gmv_usd": [
            _implied("average_order_value", e["gmv_usd"] / e["payment_transactions"], "USD per order"),
            _implied("visits_per_active_user", e["visits"] / b.traffic.active_users, "visits"),
        ],
        "gmv_yoy_growth": [_implied("gmv_2016", e["baseline_gmv_usd"], "USD", "gmv_2016_usd")],
        "ai_banners": [_implied("ai_impression_share", b.banners.ai_impression_share, "share of banner impressions")],
        "ai_banner_ctr_ratio": [
            _implied("human_ctr", e["human_ctr"], "share of impressions", "human_ctr"),
            _implied(
                "ai_causal_ctr_ratio",
                e["ai_banner_ctr_ratio_causal"],
                "ratio",
                note="what the AI creative does in the same slot; the rest of the observed 2.0 is placement",
            ),
            _implied(
                "placement_allocation_skew", b.banners.placement_allocation_skew, "log-odds per unit of slot quality"
            ),
        ],
        "personalized_pages": [
            _implied("pages_per_personalized_visit", calibration.shoppers.pages_per_visit, "pages", "pages_per_visit"),
            _implied("personalized_visits", s * e["visits"], "visits"),
        ],
        "personalized_page_conversion": [
            _implied(
                "conversion_personalized_visits", e["conversion_personalized"], "share of visits", "visit_conversion"
            ),
            _implied("conversion_other_visits", e["conversion_other"], "share of visits", "visit_conversion"),
        ],
        "chatbot_inquiries": [_implied("inquiries_total", e["inquiries_total"], "inquiries")],
        "chatbot_share": [
            _implied("bot_share_handled", e["chatbot_share"], "share of inquiries", "bot_share_handled"),
            _implied("bot_resolution_rate", b.chatbot.bot_resolution_rate, "share of bot-handled inquiries"),
        ],
        "chatbot_efficiency_ratio": [
            _implied(
                "bot_concurrency",
                calibration.inquiries.bot_concurrency,
                "conversations per bot instance",
                note="public figures exist for human agents only (2-6 chats at once); vendors call a bot's "
                "concurrency unlimited, so an 'instance' has no outside scale",
            ),
            _implied("human_occupancy", b.chatbot.human_occupancy, "share of paid time", "human_occupancy"),
            _implied("human_handle_s", b.chatbot.human_handle_s, "s", "human_handle_s"),
            _implied("bot_handle_s", b.chatbot.bot_handle_s, "s"),
        ],
        "hema_delivery_minutes": [
            _implied("hema_courier_speed", calibration.city.hema_speed_kmh, "km/h", "courier_speed_kmh"),
        ],
        "sanjiang_pilot_stores": [_implied("sanjiang_stores_in_city", b.stores.sanjiang_stores, "stores")],
        "sanjiang_delivery_minutes": [
            _implied("sanjiang_courier_speed", calibration.city.sanjiang_speed_kmh, "km/h", "courier_speed_kmh"),
            _implied("sanjiang_picking_min", b.stores.prep_min * calibration.city.sanjiang_prep_multiplier, "min"),
        ],
        "mobile_gmv_share": [_implied("mobile_order_probability", sc.press.mobile_gmv_share, "share of orders")],
    }
    return out.get(claim_id, [])


def calibration_of(manifest: dict[str, Any], scenario: Scenario) -> Any:
    """The solved parameters a dataset was drawn from, rebuilt from its manifest (solved again when the manifest's
    record does not fit the current parameter classes)."""
    from newretail.generate import baseline, city, inquiries, shoppers
    from newretail.generate import impressions as banner_model
    from newretail.generate.calibrate import Calibration, calibrate

    d = manifest.get("calibration")
    try:
        assert isinstance(d, dict)
        return Calibration(
            shoppers=shoppers.ShopperParams(**d["shoppers"]),
            banners=banner_model.BannerParams(**d["banners"]),
            inquiries=inquiries.InquiryParams(**d["inquiries"]),
            city=city.CityParams(**d["city"]),
            baseline=baseline.BaselineParams(**d["baseline"]),
            expected={k: float(v) for k, v in d["expected"].items()},
        )
    except (AssertionError, KeyError, TypeError):
        return calibrate(scenario)


# ------------------------------------------------------------------------------------------------------ break-evens
@lru_cache(maxsize=4)
def _break_even_json(scenario_json: str, grid: str) -> dict[str, list[dict[str, Any]]]:
    from newretail.generate.calibrate import calibrate
    from newretail.stress.frontier import SUPPORTED, find_frontiers, grid_ranges
    from newretail.stress.grid import load_grid

    sc = Scenario.model_validate_json(scenario_json)
    cal = calibrate(sc)
    out: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, str]] = set()
    for (claim, _mode, field), rng in grid_ranges(load_grid(grid)).items():
        if claim not in SUPPORTED or (claim, field) in seen or rng[0] == rng[1]:
            continue
        seen.add((claim, field))
        frontiers = find_frontiers(
            claim, field, rng, base=sc, calibration=cal, mode="fixed", xtol=1e-4 * (rng[1] - rng[0])
        )
        out.setdefault(claim, []).extend(f.to_dict() for f in frontiers)
    return out


def break_even(claim_id: str, scenario: Scenario, *, grid: str = "paper") -> list[dict[str, Any]]:
    """The claim's frontiers along each assumption ``grid`` sweeps for it, searched over the grid's range, in
    ``fixed`` mode (each a dict with assumption, value, unit, direction, then reading, bracket, searched range,
    base value and a sentence). Empty for a claim the stress checks do not cover. Cached per scenario."""
    # the frontiers are expected values: how the generated rows are cut into files cannot move them, so scenarios
    # that differ only there (a day cut into more partitions) share one cache entry
    searched = scenario.with_changes({"sampling.users_per_partition": 1})
    return [dict(f) for f in _break_even_json(searched.model_dump_json(), grid).get(claim_id, [])]


def ledger_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What a claims table says about the report, from its JSON rows: how many report figures there are, which ones
    the data recreate (``evidence`` data and ``holds``), which the data do not, which are true by construction (not
    counted as recreated), and which rest on an implausible assumption (with the parameter and the reason)."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "id" in r for r in rows):
        raise ValueError("rows: must be a list of claim dicts (ClaimsTable.to_dicts())")
    report = [r for r in rows if r.get("kind", "report") == "report"]
    data = [r for r in report if r.get("evidence", "data") == "data"]
    return {
        "report_figures": len(report),
        "data_figures": len(data),
        "recreated_by_data": [r["id"] for r in data if r.get("holds")],
        "not_recreated": [r["id"] for r in data if not r.get("holds")],
        "construction": [r["id"] for r in report if r.get("evidence") == "construction"],
        "implausible": [
            {"id": r["id"], "parameter": i["parameter"], "reason": i["reason"]}
            for r in report
            for i in r.get("implied") or []
            if i.get("verdict") == "implausible"
        ],
    }
