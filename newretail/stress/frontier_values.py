"""The generator's expected value of each reading of a claim at a changed assumption (fixed or recalibrated), which
the frontiers of :mod:`newretail.stress.frontier` bisect.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from newretail.generate import traffic
from newretail.generate.calibrate import Calibration, calibrate, calibrate_banners, calibrate_shoppers
from newretail.generate.city import expected_store_orders
from newretail.generate.expected import bot_truth, ctr_ratio_truth, population_truth
from newretail.scenario import Scenario
from newretail.stress.grid import FIXED_LEVERS
from newretail.stress.judging import CTR_LATE_EXPOSURE

SUPPORTED = (
    "ai_banner_ctr_ratio",
    "personalized_page_conversion",
    "chatbot_share",
    "chatbot_efficiency_ratio",
    "gmv_yoy_growth",
)


# ---------------------------------------------------------------------------------------- expected values per claim
def _banners(sc: Scenario, cal: Calibration) -> dict[str, float]:
    everyone = ctr_ratio_truth(cal, sc)
    late = ctr_ratio_truth(cal, sc, min_exposure=CTR_LATE_EXPOSURE)
    return {"reported": everyone["reported"], "causal": everyone["causal"], "causal_after_novelty": late["causal"]}


def _conversion(sc: Scenario, cal: Calibration) -> dict[str, float]:
    truth = population_truth(cal.shoppers, sc)
    rate, other = truth["conversion_personalized"], truth["conversion_other"]
    return {"rate": rate, "lift": rate / other - 1.0, "causal_lift": truth["causal_lift"]}


def _chatbot_share(sc: Scenario, cal: Calibration) -> dict[str, float]:
    return bot_truth(cal)


def _efficiency(sc: Scenario, cal: Calibration) -> dict[str, float]:
    p, occ = cal.inquiries, sc.behaviour.chatbot.human_occupancy
    instance = p.bot_concurrency * p.human_handle_s / (occ * p.bot_handle_s)
    shares = bot_truth(cal)
    return {
        "instance_hour": instance,
        "conversation_hour": p.human_handle_s / (occ * p.bot_handle_s),
        "resolved_instance_hour": instance * (shares["resolved"] / shares["handled"]) / p.human_resolution_rate,
    }


def _growth(sc: Scenario, cal: Calibration) -> dict[str, float]:
    sp, bl = cal.shoppers, cal.baseline
    _, store_rmb = expected_store_orders(sc.behaviour.stores, cal.city.pilot_stores)
    fx17 = sc.behaviour.traffic.fx_rmb_per_usd
    e17_usd = cal.expected["gmv_usd"]
    online_usd = e17_usd - store_rmb / fx17
    e16_usd = bl.visits * bl.conversion * math.exp(bl.value_log_mean + bl.value_log_sd**2 / 2)
    e17_rmb = online_usd * sp.fx_rmb_per_usd + store_rmb
    return {"usd": e17_usd / e16_usd - 1.0, "rmb": e17_rmb / (e16_usd * bl.fx_rmb_per_usd) - 1.0}


_EXPECTED: dict[str, Callable[[Scenario, Calibration], dict[str, float]]] = {
    "ai_banner_ctr_ratio": _banners,
    "personalized_page_conversion": _conversion,
    "chatbot_share": _chatbot_share,
    "chatbot_efficiency_ratio": _efficiency,
    "gmv_yoy_growth": _growth,
}


def _setup(
    base: Scenario, cal: Calibration, claim: str, field: str, value: float, mode: str
) -> tuple[Scenario, Calibration]:
    """The scenario and parameters at ``field = value``: ``fixed`` sets the solved parameter the field names (or
    scales a ``calibration.*`` factor); ``recalibrated`` solves the claim's generator group again."""
    if field.startswith("calibration."):
        _, group, name = field.split(".")
        part = dataclasses.replace(getattr(cal, group), **{name: getattr(getattr(cal, group), name) * value})
        return base, dataclasses.replace(cal, **{group: part})
    sc = base.with_changes({field: value})
    if mode == "fixed":
        lever = FIXED_LEVERS.get(field)
        if field not in FIXED_LEVERS:
            raise ValueError(
                f"field = {field!r}: not an assumption a fixed frontier can move ({', '.join(FIXED_LEVERS)})"
            )
        if lever is None:
            return sc, cal
        part = dataclasses.replace(getattr(cal, lever[0]), **{lever[1]: value})
        return sc, dataclasses.replace(cal, **{lever[0]: part})
    if claim == "ai_banner_ctr_ratio":  # only the banner model depends on banner assumptions
        density = traffic.event_density(sc.behaviour.traffic, cal.shoppers.spike_height)
        bp, _ = calibrate_banners(sc, density)
        return sc, dataclasses.replace(cal, banners=bp)
    if claim == "personalized_page_conversion":
        sp, expected = calibrate_shoppers(sc)
        return sc, dataclasses.replace(cal, shoppers=sp, expected={**cal.expected, **expected})
    return sc, calibrate(sc)


def expected_readings(
    claim: str, base: Scenario, calibration: Calibration, field: str, value: float, *, mode: str = "fixed"
) -> dict[str, float]:
    """The generator's expected value of each reading of ``claim`` with ``field`` set to ``value`` (see the module
    docstring for the modes). Raises ValueError for a claim without expected values (see ``SUPPORTED``)."""
    if claim not in _EXPECTED:
        raise ValueError(f"claim = {claim!r}: expected values are available for {', '.join(SUPPORTED)}")
    if mode not in ("fixed", "recalibrated"):
        raise ValueError(f"mode = {mode!r}: must be 'fixed' or 'recalibrated'")
    sc, cal = _setup(base, calibration, claim, field, float(value), mode)
    return _EXPECTED[claim](sc, cal)
