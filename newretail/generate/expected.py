"""The generator's truth, public: the true and expected values of the figures, under the parameters a dataset was
drawn from. Validation sections, tests and the stress tests read them here; nothing outside ``generate/`` needs the
generator's internal constants (source log-odds, bot difficulty, ...) to know what the data should show.

These are validation quantities, never inputs of an estimate: an analysis that reads them to estimate would be
reading the answer.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from newretail.generate.calibrate import CALIBRATION_DRAWS, CALIBRATION_SEED, Calibration, calibrate
from newretail.generate.random_effects import expit_mean
from newretail.scenario import Scenario

if TYPE_CHECKING:
    from newretail.generate.shoppers import ShopperParams

__all__ = [
    "bot_truth",
    "calibration_of",
    "conversion_given_features",
    "ctr_ratio_truth",
    "expected_values",
    "gmv_growth_truth",
    "population_truth",
    "shopper_params",
]


def expected_values(scenario: Scenario) -> dict[str, float]:
    """Expected figures of the whole event under ``scenario`` as calibrated (the calibration's ``expected``: visits,
    online orders, ``conversion_personalized``, ``true_uplift_att``, ``ai_banner_ctr_ratio_causal``, ...; counts at
    full scale, probabilities and ratios as shares), plus ``effect_logodds_at_mean_intent``, the true log-odds effect
    of personalization at average purchase intent.
    """
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario: expected a Scenario, got {type(scenario).__name__}")
    cal = calibrate(scenario)
    return {**cal.expected, "effect_logodds_at_mean_intent": float(cal.shoppers.effect_intercept)}


def calibration_of(manifest: Any, scenario: Scenario) -> Calibration:
    """The solved parameters a dataset was drawn from, read from its manifest's ``calibration`` record; solved for
    ``scenario`` (:func:`~newretail.generate.calibrate.calibrate`) when the record is missing or does not fit the
    current parameter classes (a dataset written by another version)."""
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario: expected a Scenario, got {type(scenario).__name__}")
    record = manifest.get("calibration") if isinstance(manifest, dict) else None
    try:
        return Calibration.from_dict(record)
    except ValueError:
        return calibrate(scenario)


def shopper_params(scenario: Scenario) -> ShopperParams:
    """The shopper parameters ``scenario`` calibrates to (the ``sp`` of :func:`conversion_given_features`)."""
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario: expected a Scenario, got {type(scenario).__name__}")
    return calibrate(scenario).shoppers


def population_truth(sp: ShopperParams, scenario: Scenario) -> dict[str, float]:
    """Expected conversion figures and online GMV of the whole event under shopper parameters ``sp``.

    Returns ``conversion_personalized``, ``conversion_other`` (shares of visits), ``causal_lift`` (expected
    conversion of personalized visits over the same visits without personalization, minus 1) and ``online_gmv_usd``
    (USD, full scale). Exact, as calibration computes them: over the exact distribution of the shopper features
    and the shoppers' random effect on converting (``sp.conversion_sd``); at the calibrated parameters they equal
    the calibration's expected figures.
    """
    from scipy.special import expit

    from newretail.generate.shoppers import SOURCE_LOGIT, SOURCE_P, intent_raw, user_feature_distribution

    # activity is independent of the features, so weighting users by their visits leaves these unchanged
    users = user_feature_distribution()
    intent = (intent_raw(users) - sp.intent_mean) / sp.intent_sd
    w = users["mass"]
    prop = expit(sp.targeting_intercept + sp.targeting_slope * intent)

    def conv(treated: float) -> np.ndarray:
        effect = (sp.effect_intercept + sp.effect_slope * intent[:, None]) * treated
        logit = sp.conversion_intercept + sp.intent_weight * intent[:, None] + SOURCE_LOGIT[None, :] + effect
        p = expit_mean(logit, sp.conversion_sd)  # over the shoppers' random effect on converting
        return np.asarray((p * SOURCE_P[None, :]).sum(axis=1))

    c1, c0 = conv(1.0), conv(0.0)
    buy = w * (prop * c1 + (1 - prop) * c0)
    mult = float(np.sum(buy * np.where(users["is_vip"], sp.vip_value_multiplier, 1.0)) / np.sum(buy))
    visits = sp.visits_per_user * scenario.behaviour.traffic.active_users
    value = math.exp(sp.value_log_mean + sp.value_log_sd**2 / 2) * mult
    return {
        "conversion_personalized": float(np.sum(w * prop * c1) / np.sum(w * prop)),
        "conversion_other": float(np.sum(w * (1 - prop) * c0) / np.sum(w * (1 - prop))),
        "causal_lift": float(np.sum(w * prop * c1) / np.sum(w * prop * c0) - 1.0),
        "online_gmv_usd": float(visits * np.sum(buy) / np.sum(w) * value),
    }


@lru_cache(maxsize=8)
def _reference_inquiries(threshold: float) -> dict[str, np.ndarray]:
    """The calibration's own reference sample of inquiries (same seed and size)."""
    from newretail.generate.inquiries import draw_inquiries

    stream = np.random.SeedSequence(CALIBRATION_SEED).spawn(4)[2]
    return draw_inquiries(np.random.default_rng(stream), CALIBRATION_DRAWS, threshold)


def bot_truth(cal: Calibration) -> dict[str, float]:
    """Expected shares of all inquiries the bot handles (``handled``), handles without a repeat contact
    (``handled_no_repeat``) and resolves (``resolved``), under the inquiry parameters ``cal.inquiries`` (over the
    calibration's reference sample, and over the shoppers' random effect on transfer, sd ``transfer_sd``, exactly)."""
    from newretail.generate.inquiries import BOT_DIFFICULTY, MISSED_ANGER_RESOLUTION

    if not isinstance(cal, Calibration):
        raise ValueError(f"cal: expected a Calibration, got {type(cal).__name__}")
    p = cal.inquiries
    draws = _reference_inquiries(p.escalation_threshold)
    # over the shoppers' random effect on transfer, as calibration integrates it (inquiries.expected_bot_share)
    transfer = expit_mean(p.transfer_intercept + BOT_DIFFICULTY, p.transfer_sd)
    stay = np.where(draws["escalated"], 0.0, 1.0 - transfer[draws["intent"]])
    resolve = p.bot_resolution_rate * np.where(draws["needs_escalation"], MISSED_ANGER_RESOLUTION, 1.0)
    return {
        "handled": float(np.mean(stay)),
        "handled_no_repeat": float(np.mean(stay * (1.0 - (1.0 - resolve) * p.repeat_contact_if_unresolved))),
        "resolved": float(np.mean(stay * resolve)),
    }


def gmv_growth_truth(cal: Calibration, scenario: Scenario) -> dict[str, float]:
    """Expected growth of the whole event's GMV (stores included) over the 2016 event, as shares: ``usd`` (both
    years in USD) and ``rmb`` (each year in RMB at its own day's exchange rate), under the parameters ``cal``."""
    from newretail.generate.city import expected_store_orders

    if not isinstance(cal, Calibration):
        raise ValueError(f"cal: expected a Calibration, got {type(cal).__name__}")
    sp, bl = cal.shoppers, cal.baseline
    fx17 = sp.fx_rmb_per_usd
    _, store_rmb = expected_store_orders(scenario.behaviour.stores, cal.city.pilot_stores)
    online = population_truth(sp, scenario)["online_gmv_usd"]
    e17_usd, e17_rmb = online + store_rmb / fx17, online * fx17 + store_rmb
    e16_usd = bl.visits * bl.conversion * math.exp(bl.value_log_mean + bl.value_log_sd**2 / 2)
    return {"usd": e17_usd / e16_usd - 1.0, "rmb": e17_rmb / (e16_usd * bl.fx_rmb_per_usd) - 1.0}


def ctr_ratio_truth(cal: Calibration, scenario: Scenario, min_exposure: int = 1) -> dict[str, float]:
    """Expected CTR ratios of AI banners over human ones under the banner parameters ``cal.banners``.

    Exact, as calibration computes them: over every (placement, brand, exposure) cell of the impressions, the
    shoppers' random effect on being shown an AI creative (``allocation_sd``) and the shopper, design and hour
    effects on clicking (``effect_sd``), all by Gauss-Hermite quadrature; brands at their appeal quantiles.

    Parameters
    ----------
    cal : the parameters the data were drawn from.
    scenario : the scenario (its traffic gives the hour-of-day density of impressions).
    min_exposure : keep only impressions seen for at least this many times (1: all).

    Returns
    -------
    ``reported``: expected CTR of AI impressions over that of human impressions; ``causal``: expected clicks of
    the AI impressions with their AI creative over the same impressions with a human one (ratios, unitless).
    """
    from newretail.generate import impressions, traffic

    if not isinstance(cal, Calibration):
        raise ValueError(f"cal: expected a Calibration, got {type(cal).__name__}")
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario: expected a Scenario, got {type(scenario).__name__}")
    if not 1 <= int(min_exposure) <= impressions.MAX_EXPOSURE:
        raise ValueError(f"min_exposure = {min_exposure!r}: must be from 1 to {impressions.MAX_EXPOSURE}")
    p = cal.banners
    density = traffic.event_density(scenario.behaviour.traffic, cal.shoppers.spike_height)
    cells, mass = impressions.impression_grid(p, density)
    mass = np.where(cells["exposure_index"] >= int(min_exposure), mass, 0.0)
    appeal = impressions.appeal_quantiles(p.brands)
    pi = cells["ai_prob"]
    ai = impressions.click_probability(p, cells, appeal, np.ones(pi.size))
    human = impressions.click_probability(p, cells, appeal, np.zeros(pi.size))
    ai_clicks, ai_as_human = float(np.sum(mass * pi * ai)), float(np.sum(mass * pi * human))
    ctr_ai = ai_clicks / float(np.sum(mass * pi))
    ctr_human = float(np.sum(mass * (1 - pi) * human)) / float(np.sum(mass * (1 - pi)))
    return {"reported": ctr_ai / ctr_human, "causal": ai_clicks / ai_as_human}


def conversion_given_features(
    sp: ShopperParams, intent: np.ndarray, source: np.ndarray, personalized: np.ndarray
) -> np.ndarray:
    """The best conversion probability a model of the observed features can reach: each visit's true probability
    integrated over the shopper's unobserved random effect on converting (sd ``sp.conversion_sd``, log-odds), as
    calibration integrates it. Equals the truth table's ``p_convert`` when that sd is 0.

    Parameters
    ----------
    sp : the shopper parameters the data were drawn from.
    intent : standardized purchase intent of each visit (``truth_visits.intent_sd``; a function of the features).
    source : traffic source of each visit, as names (``visits.source``) or codes of ``shoppers.SOURCES``.
    personalized : whether each visit was personalized (0/1 or bool).

    Returns
    -------
    Probability of an order per visit (share, 0 to 1).
    """
    from newretail.generate.shoppers import SOURCES, ShopperParams, conversion_logit

    if not isinstance(sp, ShopperParams):
        raise ValueError(f"sp: expected a ShopperParams, got {type(sp).__name__}")
    intent = np.asarray(intent, dtype=np.float64)
    src, treated = np.asarray(source), np.asarray(personalized, dtype=np.float64)
    if src.shape != intent.shape or treated.shape != intent.shape:
        raise ValueError("source: intent, source and personalized must have the same shape")
    if src.dtype.kind not in "iu":
        codes = {name: i for i, name in enumerate(SOURCES)}
        unknown = set(src.tolist()) - set(codes)
        if unknown:
            raise ValueError(f"source: unknown sources {sorted(map(str, unknown))}, expected {SOURCES}")
        src = np.array([codes[s] for s in src.tolist()], dtype=np.int64)
    elif src.size and not (0 <= src.min() and src.max() < len(SOURCES)):
        raise ValueError(f"source: codes must be from 0 to {len(SOURCES) - 1}")
    return expit_mean(conversion_logit(sp, intent, src, treated), sp.conversion_sd)
