"""Calibration: solve the generator's internal parameters so that each target's expected value equals the target.

Expectations are exact where the model allows: over the exact joint distribution of the shopper features
(Gauss-Hermite quadrature and Poisson sums), every (placement, brand, exposure) cell of the banners, and the
escalation integrals of the inquiries, and over every random effect of ``[behaviour.dependence]`` (shoppers'
effects on converting, clicking and transfer, designs' and hours' effects on clicks: Gauss-Hermite quadrature;
bursts of rows from one shopper leave each row's distribution unchanged), so calibration carries no sampling
error and the targets stay inside their intervals at any scale. Only the delivery percentiles use a fixed
reference sample of the generator's own draws (seeded with ``CALIBRATION_SEED``, independent of the dataset
seed); the city is generated whole at every scale, so its data's own sampling error dominates. ``expected``
recomputes every metric forward from the parameters.

What is *solved* (a root search, so that an expected value equals a figure): the personalization intercept
(personalized_visit_share), the conversion intercept (personalized_page_conversion; under the "lift" reading the
base conversion and the effect), visits per user (payment_transactions over the conversion), pages per visit
(personalized_pages over the personalized visits), the order value's log-mean (gmv_usd), the parcel share
(delivery_orders), the midnight spike and the payment delay (the two peaks), the banners' allocation intercept, click
intercept and AI effect (ai_impression_share, human_ctr, ai_banner_ctr_ratio), the bot's transfer intercept
(chatbot_share), Hema's courier speed and Sanjiang's picking multiplier (the two delivery promises), and the 2016
event's visits, conversion and order value (gmv_yoy_growth with the growth shares).

What is *set*, a figure or an assumption written into a generated value with no data that could contradict it:
``CityParams.pilot_stores = sanjiang_pilot_stores`` (the pilot count), ``InquiryParams.bot_concurrency =
chatbot_efficiency_ratio x human_occupancy x bot_handle_s / human_handle_s`` (the claim divides the same occupancy
back out), ``ShopperParams.mobile_share = press.mobile_gmv_share``, banner impressions = ai_banners /
ai_impression_share and inquiries = chatbot_inquiries / chatbot_share (totals, whose counts the sample then draws).
The claims ledger marks the first three figures ``evidence: "construction"`` (newretail.claims.ledger.CONSTRUCTION).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import optimize
from scipy.special import expit

from newretail import cache
from newretail.generate import baseline, city, impressions, inquiries, random_effects, shoppers, traffic
from newretail.generate.traffic import CalibrationError
from newretail.scenario import Scenario

CALIBRATION_SEED = 20171111
CALIBRATION_DRAWS = 200_000

__all__ = [
    "Calibration",
    "CalibrationError",
    "calibrate",
    "calibrate_banners",
    "calibrate_shoppers",
    "find_root",
    "solve",
]


@dataclass(frozen=True)
class Calibration:
    """The solved parameters of every generator, and the expected metrics they imply at full scale."""

    shoppers: shoppers.ShopperParams
    banners: impressions.BannerParams
    inquiries: inquiries.InquiryParams
    city: city.CityParams
    baseline: baseline.BaselineParams
    expected: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the dataset manifest (and the calibration cache)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> Calibration:
        """The calibration :meth:`to_dict` wrote (a manifest's ``calibration`` record, a cache entry).

        Raises
        ------
        ValueError
            When ``d`` is not such a record, or it does not fit the current parameter classes (written by another
            version); the message names the part.
        """
        if not isinstance(d, dict):
            raise ValueError(f"calibration: a dict expected, got {type(d).__name__}")
        parts: dict[str, Any] = {}
        for name, kind in (
            ("shoppers", shoppers.ShopperParams),
            ("banners", impressions.BannerParams),
            ("inquiries", inquiries.InquiryParams),
            ("city", city.CityParams),
            ("baseline", baseline.BaselineParams),
        ):
            try:
                parts[name] = kind(**d[name])
            except (KeyError, TypeError) as exc:
                raise ValueError(f"calibration.{name}: does not fit {kind.__name__} ({exc})") from None
        try:
            expected = {str(k): float(v) for k, v in d["expected"].items()}
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"calibration.expected: not a dict of numbers ({exc})") from None
        return cls(**parts, expected=expected)


def _solve(fn: Any, low: float, high: float, what: str) -> float:
    f_low, f_high = fn(low), fn(high)
    if np.sign(f_low) == np.sign(f_high):
        raise CalibrationError(f"cannot calibrate {what}: the target is out of reach under this behaviour")
    return float(optimize.brentq(fn, low, high, xtol=1e-10, rtol=1e-12))


def find_root(fn: Callable[[float], float], low: float, high: float, *, xtol: float) -> float:
    """A root of ``fn`` in [low, high], where ``fn(low)`` and ``fn(high)`` differ in sign, to ``xtol`` by Brent's
    method (scipy.optimize.brentq): the search calibration solves with, for the stress frontiers' break-evens."""
    return float(optimize.brentq(fn, low, high, xtol=xtol))


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    return float(np.sum(values * weights) / np.sum(weights))


def _conversion_model(sc: Scenario, intent: np.ndarray) -> Callable[[float, float, float], np.ndarray]:
    """Expected conversion of each feature cell given the intercept ``alpha``, the effect ``tau0`` and ``treated``
    (1 personalized, 0 not), integrated over the traffic sources and the shoppers' random effect on converting."""
    pz, sd = sc.behaviour.personalization, sc.behaviour.dependence.shopper_conversion_sd
    src_logit = shoppers.SOURCE_LOGIT[None, :]
    src_p = shoppers.SOURCE_P[None, :]

    def conv(alpha: float, tau0: float, treated: float) -> np.ndarray:
        effect = (tau0 + pz.effect_heterogeneity * intent[:, None]) * treated
        p = random_effects.expit_mean(alpha + pz.intent_weight * intent[:, None] + src_logit + effect, sd)
        return np.asarray((p * src_p).sum(axis=1))

    return conv


def _solve_conversion(
    sc: Scenario, conv: Callable[[float, float, float], np.ndarray], w: np.ndarray, prop: np.ndarray
) -> tuple[float, float]:
    """The conversion intercept and the personalization effect that meet personalized_page_conversion under the
    scenario's reading ("rate": the effect is assumed and the intercept solved; "lift": the base conversion is
    assumed, then the effect solved)."""
    pz, target = sc.behaviour.personalization, sc.targets.personalized_page_conversion

    def conv_personalized(alpha: float, tau0: float) -> float:
        return _weighted_mean(conv(alpha, tau0, 1.0), w * prop)

    def conv_other(alpha: float, tau0: float) -> float:
        return _weighted_mean(conv(alpha, tau0, 0.0), w * (1 - prop))

    if pz.conversion_reading == "rate":
        tau0 = pz.true_effect_logodds
        alpha = _solve(lambda a: conv_personalized(a, tau0) - target, -30, 30, "conversion")
    else:  # "lift": personalized visits convert (1 + target) times as often as the others
        alpha = _solve(lambda a: conv_other(a, 0.0) - pz.lift_reading_base_conversion, -30, 30, "base conversion")
        tau0 = _solve(
            lambda e: conv_personalized(alpha, e) / conv_other(alpha, e) - (1 + target),
            -10,
            10,
            "conversion lift",
        )
    return alpha, tau0


def calibrate_shoppers(sc: Scenario) -> tuple[shoppers.ShopperParams, dict[str, float]]:
    """The shoppers' parameters alone (personalization, conversion, visits, pages, order value, the midnight spike),
    with the expected figures they imply: what :func:`calibrate` solves for them, for a caller that changes only
    shopper assumptions (the stress frontiers' recalibrated mode)."""
    t, pr, tr = sc.targets, sc.press, sc.behaviour.traffic
    pz, od, st = sc.behaviour.personalization, sc.behaviour.orders, sc.behaviour.stores
    sd = sc.behaviour.dependence.shopper_conversion_sd  # integrated over by Gauss-Hermite quadrature
    # exact feature distribution (no sampling error); activity is independent of the features, so weighting
    # users by their visits leaves these expectations unchanged
    users = shoppers.user_feature_distribution()
    w = users["mass"]
    raw = shoppers.intent_raw(users)
    mean = _weighted_mean(raw, w)
    raw_sd = float(np.sqrt(_weighted_mean((raw - mean) ** 2, w)))
    intent = (raw - mean) / raw_sd
    s = pz.personalized_visit_share
    g0 = _solve(
        lambda a: _weighted_mean(expit(a + pz.targeting_strength * intent), w) - s, -30, 30, "personalization share"
    )
    prop = expit(g0 + pz.targeting_strength * intent)
    conv = _conversion_model(sc, intent)
    alpha, tau0 = _solve_conversion(sc, conv, w, prop)
    c_p = _weighted_mean(conv(alpha, tau0, 1.0), w * prop)
    c_o = _weighted_mean(conv(alpha, tau0, 0.0), w * (1 - prop))
    c_all = s * c_p + (1 - s) * c_o

    n_store, store_rmb = city.expected_store_orders(st, t.sanjiang_pilot_stores)
    online_orders = pr.payment_transactions - n_store
    if online_orders <= 0:
        raise CalibrationError("payment_transactions is smaller than the stores' expected delivery orders")
    visits = online_orders / c_all
    pages_per_visit = t.personalized_pages / (s * visits)
    if pages_per_visit < 1.0:
        raise CalibrationError(
            f"personalized_pages = {t.personalized_pages:.3g} over {s * visits:.3g} personalized visits is "
            f"{pages_per_visit:.3g} pages per visit, below one"
        )
    online_gmv = t.gmv_usd - store_rmb / tr.fx_rmb_per_usd
    if online_gmv <= 0:
        raise CalibrationError("gmv_usd is smaller than the stores' expected GMV")
    buy = w * (prop * conv(alpha, tau0, 1.0) + (1 - prop) * conv(alpha, tau0, 0.0))
    mult = _weighted_mean(np.where(users["is_vip"], od.vip_value_multiplier, 1.0), buy)
    aov = online_gmv / online_orders
    value_log_mean = float(np.log(aov / mult) - od.order_value_sigma**2 / 2)
    parcel = pr.delivery_orders / online_orders  # store-fulfilled orders need no parcel
    if parcel > 1:
        raise CalibrationError("delivery_orders exceeds the online orders implied by payment_transactions")
    height = traffic.spike_height(tr, pr.peak_orders_per_second / online_orders)
    density = traffic.event_density(tr, height)
    delay = traffic.payment_delay_for_ratio(density, pr.peak_payments_per_second / pr.peak_orders_per_second)

    params = shoppers.ShopperParams(
        intent_mean=mean,
        intent_sd=raw_sd,
        targeting_intercept=g0,
        targeting_slope=pz.targeting_strength,
        conversion_intercept=alpha,
        intent_weight=pz.intent_weight,
        effect_intercept=tau0,
        effect_slope=pz.effect_heterogeneity,
        visits_per_user=visits / tr.active_users,
        pages_per_visit=pages_per_visit,
        pages_dispersion=tr.pages_per_visit_dispersion,
        page_dwell_s=tr.page_dwell_s,
        user_activity_shape=tr.user_activity_shape,
        mobile_share=pr.mobile_gmv_share,
        parcel_share=parcel,
        value_log_mean=value_log_mean,
        value_log_sd=od.order_value_sigma,
        vip_value_multiplier=od.vip_value_multiplier,
        spike_height=height,
        payment_delay_s=delay,
        fx_rmb_per_usd=tr.fx_rmb_per_usd,
        conversion_sd=sd,
    )
    uplift = conv(alpha, tau0, 1.0) - conv(alpha, tau0, 0.0)
    expected = {
        "personalized_pages": s * visits * pages_per_visit,
        "personalized_page_conversion": c_p if pz.conversion_reading == "rate" else c_p / c_o - 1,
        "conversion_personalized": c_p,
        "conversion_other": c_o,
        "true_uplift_ate": _weighted_mean(uplift, w),
        "true_uplift_att": _weighted_mean(uplift, w * prop),
        "visits": visits,
        "online_orders": visits * c_all,
        "store_orders": n_store,
        "payment_transactions": visits * c_all + n_store,
        "gmv_usd": visits * c_all * np.exp(value_log_mean + od.order_value_sigma**2 / 2) * mult
        + store_rmb / tr.fx_rmb_per_usd,
        "peak_orders_per_second": float(density[0] * visits * c_all),
        "peak_payments_per_second": float(traffic.payment_peak_ratio(density, delay) * density[0] * visits * c_all),
        "delivery_orders": visits * c_all * parcel,
        "mobile_gmv_share": pr.mobile_gmv_share,
    }
    expected["gmv_rmb"] = expected["gmv_usd"] * tr.fx_rmb_per_usd
    return params, expected


def calibrate_banners(sc: Scenario, density: np.ndarray) -> tuple[impressions.BannerParams, dict[str, float]]:
    """The banner model's parameters alone (allocation, click intercept, AI effect), given the event's traffic
    ``density``, with the expected figures they imply (see :func:`calibrate_shoppers`)."""
    b, t, dep = sc.behaviour.banners, sc.targets, sc.behaviour.dependence
    q = impressions.PLACEMENT_QUALITY
    alloc = _solve(
        lambda a: (
            float(
                np.sum(
                    impressions.PLACEMENT_P
                    * random_effects.expit_mean(a + b.placement_allocation_skew * q, dep.shopper_allocation_sd)
                )
            )
            - b.ai_impression_share
        ),
        -30,
        30,
        "AI impression share",
    )
    draft = impressions.BannerParams(
        alloc,
        b.placement_allocation_skew,
        0.0,
        0.0,
        b.novelty_decay,
        b.repeat_exposure_prob,
        b.brands,
        shopper_sd=dep.shopper_click_sd,
        design_sd=dep.design_click_sd,
        hour_sd=dep.hour_click_sd,
        designs_per_brand=dep.designs_per_brand,
        burst_mean=dep.banner_burst_mean,
        burst_shape=dep.banner_burst_shape,
        allocation_sd=dep.shopper_allocation_sd,
    )  # click_probability without a shift integrates over the shopper, design and hour effects
    draws, mass = impressions.impression_grid(draft, density)  # exact: no sampling error
    appeal = impressions.appeal_quantiles(b.brands)
    pi = draws["ai_prob"]
    ones, zeros = np.ones(pi.size), np.zeros(pi.size)

    def ctr_human(c0: float) -> float:
        p = dataclasses.replace(draft, click_intercept=c0)
        return _weighted_mean(impressions.click_probability(p, draws, appeal, zeros), mass * (1 - pi))

    c0 = _solve(lambda c: ctr_human(c) - b.human_ctr, -30, 30, "human CTR")
    human = ctr_human(c0)

    def ctr_ai(beta: float) -> float:
        p = dataclasses.replace(draft, click_intercept=c0, ai_effect=beta)
        return _weighted_mean(impressions.click_probability(p, draws, appeal, ones), mass * pi)

    beta = _solve(lambda x: ctr_ai(x) / human - t.ai_banner_ctr_ratio, -10, 10, "AI CTR ratio")
    params = dataclasses.replace(draft, click_intercept=c0, ai_effect=beta)
    ai_counterfactual = _weighted_mean(impressions.click_probability(params, draws, appeal, zeros), mass * pi)
    total = t.ai_banners / b.ai_impression_share
    expected = {
        "ai_banners": total * b.ai_impression_share,
        "banner_impressions": total,
        "ai_banner_ctr_ratio": ctr_ai(beta) / human,
        "ai_banner_ctr_ratio_causal": ctr_ai(beta) / ai_counterfactual,
        "human_ctr": human,
    }
    return params, expected


def _calibrate_inquiries(sc: Scenario) -> tuple[inquiries.InquiryParams, dict[str, float]]:
    c, t, dep = sc.behaviour.chatbot, sc.targets, sc.behaviour.dependence
    sd = dep.shopper_transfer_sd
    alerted, needs = inquiries.escalation_probabilities(c.anger_escalation_threshold)  # exact
    ceiling = float(np.sum(inquiries.INTENT_P * (1.0 - alerted)))
    if t.chatbot_share >= ceiling:
        raise CalibrationError(
            f"chatbot_share = {t.chatbot_share}: the bot alerts staff to {1 - ceiling:.1%} of inquiries, so it can "
            f"keep at most {ceiling:.1%}; raise anger_escalation_threshold or lower the target"
        )
    threshold = c.anger_escalation_threshold
    h0 = _solve(lambda h: inquiries.expected_bot_share(threshold, h, sd) - t.chatbot_share, -30, 30, "chatbot share")
    concurrency = t.chatbot_efficiency_ratio * c.human_occupancy * c.bot_handle_s / c.human_handle_s
    params = inquiries.InquiryParams(
        transfer_intercept=h0,
        escalation_threshold=c.anger_escalation_threshold,
        bot_concurrency=concurrency,
        bot_handle_s=c.bot_handle_s,
        human_handle_s=c.human_handle_s,
        bot_resolution_rate=c.bot_resolution_rate,
        human_resolution_rate=c.human_resolution_rate,
        repeat_contact_if_unresolved=c.repeat_contact_if_unresolved,
        transfer_sd=sd,
        burst_mean=dep.inquiry_burst_mean,
        burst_shape=dep.inquiry_burst_shape,
    )
    share = inquiries.expected_bot_share(threshold, h0, sd)
    total = t.chatbot_inquiries / t.chatbot_share  # the bot handled chatbot_inquiries, chatbot_share of all
    expected = {
        "inquiries_total": total,
        "chatbot_inquiries": total * share,
        "chatbot_share": share,
        "chatbot_efficiency_ratio": concurrency * c.human_handle_s / (c.human_occupancy * c.bot_handle_s),
        "needs_escalation_share": float(np.sum(inquiries.INTENT_P * needs)),
    }
    return params, expected


def _calibrate_city(sc: Scenario, rng: np.random.Generator) -> tuple[city.CityParams, dict[str, float]]:
    s, t = sc.behaviour.stores, sc.targets
    if t.sanjiang_pilot_stores > s.sanjiang_stores:
        raise CalibrationError(
            f"sanjiang_pilot_stores = {t.sanjiang_pilot_stores} exceeds the city's {s.sanjiang_stores} Sanjiang stores"
        )
    density = traffic.daytime_density(sc.behaviour.traffic)
    load = city.hourly_load(density)

    def p95_within(prep: float, speed: float, draws: dict[str, np.ndarray]) -> float:
        inside = draws["distance_km"] <= t.hema_radius_km
        return float(np.quantile(city.delivery_minutes(draws, prep, speed)[inside], 0.95))

    hema = city.draw_delivery(rng, CALIBRATION_DRAWS, t.hema_radius_km, load, density)
    log_speed = _solve(
        lambda ls: p95_within(s.prep_min, float(np.exp(ls)), hema) - t.hema_delivery_minutes,
        np.log(0.5),
        np.log(2000.0),
        "Hema courier speed (hema_delivery_minutes vs prep_min)",
    )
    speed = float(np.exp(log_speed))
    sj = city.draw_delivery(rng, CALIBRATION_DRAWS, t.hema_radius_km, load, density)
    sj_speed = speed * s.sanjiang_speed_ratio
    mult = _solve(
        lambda m: p95_within(s.prep_min * m, sj_speed, sj) - t.sanjiang_delivery_minutes,
        0.0,
        100.0,
        "Sanjiang picking time (sanjiang_delivery_minutes)",
    )
    params = city.CityParams(
        hema_speed_kmh=speed,
        sanjiang_prep_multiplier=mult,
        sanjiang_speed_kmh=sj_speed,
        radius_km=t.hema_radius_km,
        pilot_stores=t.sanjiang_pilot_stores,
    )
    expected = {
        "hema_delivery_minutes": p95_within(s.prep_min, speed, hema),
        "sanjiang_delivery_minutes": p95_within(s.prep_min * mult, sj_speed, sj),
        "sanjiang_pilot_stores": float(t.sanjiang_pilot_stores),
    }
    return params, expected


def _calibrate_baseline(
    sc: Scenario, sp: shoppers.ShopperParams, exp17: dict[str, float]
) -> tuple[baseline.BaselineParams, dict[str, float]]:
    g, t, tr = sc.behaviour.growth, sc.targets, sc.behaviour.traffic
    if g.visitor_share + g.conversion_share > 1:
        raise CalibrationError("growth.visitor_share + growth.conversion_share must not exceed 1")
    factor = 1.0 + t.gmv_yoy_growth
    visits = exp17["visits"] / factor**g.visitor_share
    conversion = (exp17["online_orders"] / exp17["visits"]) / factor**g.conversion_share
    if not 0 < conversion < 1:
        raise CalibrationError(f"the 2016 conversion implied by growth.conversion_share is {conversion:.3g}")
    gmv16 = exp17["gmv_usd"] / factor
    aov = gmv16 / (visits * conversion)
    params = baseline.BaselineParams(
        visits=visits,
        conversion=conversion,
        value_log_mean=float(np.log(aov) - sp.value_log_sd**2 / 2),
        value_log_sd=sp.value_log_sd,
        mobile_share=sp.mobile_share,
        fx_rmb_per_usd=tr.fx_rmb_per_usd_2016,
    )
    expected = {
        "baseline_gmv_usd": visits * conversion * float(np.exp(params.value_log_mean + params.value_log_sd**2 / 2)),
    }
    expected["gmv_yoy_growth"] = exp17["gmv_usd"] / expected["baseline_gmv_usd"] - 1
    return params, expected


def solve(scenario: Scenario) -> Calibration:
    """Solve every generator's internal parameters for ``scenario`` (no cache: about 15 s of CPU; see
    :func:`calibrate`, which keeps the answer).

    Raises
    ------
    CalibrationError
        When a target cannot be reached under the scenario's behaviour; the message says which and why.
    """
    sc = scenario
    seeds = np.random.SeedSequence(CALIBRATION_SEED).spawn(4)  # only the city still samples (stream 3)
    sp, exp_s = calibrate_shoppers(sc)
    density = traffic.event_density(sc.behaviour.traffic, sp.spike_height)
    bp, exp_b = calibrate_banners(sc, density)
    ip, exp_i = _calibrate_inquiries(sc)
    cp, exp_c = _calibrate_city(sc, np.random.default_rng(seeds[3]))
    bl, exp_g = _calibrate_baseline(sc, sp, exp_s)
    expected = {k: float(v) for d in (exp_s, exp_b, exp_i, exp_c, exp_g) for k, v in d.items()}
    expected["hema_radius_km"] = cp.radius_km
    return Calibration(sp, bp, ip, cp, bl, expected)


@lru_cache(maxsize=64)
def _calibrate_json(scenario_json: str) -> Calibration:
    sc = Scenario.model_validate(json.loads(scenario_json))
    return cache.cached("calibration", sc, lambda: solve(sc), encode=Calibration.to_dict, decode=Calibration.from_dict)


def calibrate(scenario: Scenario) -> Calibration:
    """Solve every generator's internal parameters for ``scenario``, once per scenario and code.

    The answer is kept by content (:mod:`newretail.cache`: the scenario's JSON, the package version and the
    generator's source), in this process and on disk, and shipped with the package for the bundled scenarios, so a
    known scenario's calibration is a read; it is the same, bit for bit, as :func:`solve`'s.

    Raises
    ------
    CalibrationError
        When a target cannot be reached under the scenario's behaviour; the message says which and why.
    """
    return _calibrate_json(scenario.model_dump_json())
