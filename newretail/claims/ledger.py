"""The ledger behind each verdict: how precisely the source states a figure, whether the data could have
contradicted it, what the calibration had to assume for it to come out, and where it stops holding.

* **Stated precision** (:func:`~newretail.claims.verdicts.stated_range`). "USD 25 billion" is a rounded figure: the
  values that round to it, [24.5, 25.5) billion. A claim *holds* when its 95% interval overlaps that range (a promise
  such as "within 30 minutes" when the interval's low end is under the range's top; an exact count when it lies in
  it); the old reading, the exact target inside the interval, stays available as ``holds_exact``. Both are
  :func:`~newretail.claims.verdicts.holds`.
* **Evidence** (:data:`CONSTRUCTION`). A figure is ``"construction"`` when the generator writes the target (or a
  value computed from it) into the data, so no sample could contradict it; such figures are not counted among those
  the data recreate. Every other figure is ``"data"``: calibration solves a parameter so that its *expected* value
  equals the target, and the sample's interval can still miss it.
* **Implied assumptions** (:func:`implied`). For each figure, the values the calibration solved or assumed that a
  reader can compare with the outside world, each with a public reference range from ``references.toml`` (shipped
  with the package) or "no public reference found". A value more than :data:`FAR` times beyond its range is
  *implausible*.
* **Break-evens** (:func:`frontiers`): the frontiers :func:`newretail.stress.frontier.scenario_frontiers` found for
  the claim's readings along the assumptions the paper's grid sweeps, with the other assumptions and the solved
  parameters held (``fixed``). They depend on the scenario only, so the stress layer computes them once per scenario
  and keeps them in :mod:`newretail.cache` (shipped with the package for the bundled scenarios); the ledger reads
  them there, or receives them (``evaluate(..., break_even={...})``).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from newretail import cache
from newretail.claims.verdicts import stated_range
from newretail.generate.expected import calibration_of
from newretail.scenario import Scenario

__all__ = [
    "CONSTRUCTION",
    "FAR",
    "FrontiersMissing",
    "Implied",
    "calibration_of",
    "frontiers",
    "implied",
    "ledger_summary",
    "references",
    "stated_range",
]

FAR = 3.0  # a value more than this factor beyond its reference range is implausible
GRID = "paper"  # the grid whose assumptions and ranges the break-evens are searched along
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


# ------------------------------------------------------------------------------------------------------ break-evens
class FrontiersMissing(LookupError):
    """The break-even frontiers of a scenario were asked for but are not computed yet."""


def frontiers(scenario: Scenario, *, grid: str = GRID) -> dict[str, list[dict[str, Any]]] | None:
    """The break-even frontiers of every claim the stress checks cover, by claim id, as
    :func:`newretail.stress.frontier.scenario_frontiers` computed and stored them for ``scenario``: each a dict with
    assumption, value, unit, direction, then reading, bracket, searched range, base value and a sentence. None when
    they are not computed yet (a search of about a minute, once per scenario and code; ``newretail claims`` does it
    with a progress bar)."""
    found = cache.load("frontiers", scenario, grid=grid)
    if not isinstance(found, dict) or not all(isinstance(v, list) for v in found.values()):
        return None
    return {str(k): [dict(f) for f in v] for k, v in found.items()}


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
