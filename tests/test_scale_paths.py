"""The fast paths of generation and counting compute what the plain formulas compute: random effects drawn once per
entity and gathered give every row its own shopper's, design's and hour's effect; the blocked Gauss-Hermite mean is
the whole-array sum (to the last bits of exp) and the normal integral; counted boolean sums are the row totals;
cached calibration inputs are the uncached ones and cannot be changed by a caller."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats
from scipy.special import expit

from newretail.generate import impressions, inquiries, random_effects, shoppers, traffic
from newretail.generate.run import draw_task, plan
from newretail.tables import Tally, group_arrays, group_key

SEED = 11


@pytest.fixture(scope="module")
def day():  # type: ignore[no-untyped-def]
    return plan("singles_day_2017", scale=2e-5, seed=SEED)


# ----------------------------------------------------------------------------------------------------------------
# random effects per entity, gathered to the rows


def test_burst_shoppers_are_the_draws_of_bursts() -> None:
    for kwargs in ({"n": 5000}, {"expected": 5000.0}):
        rows, burst = random_effects.bursts(np.random.default_rng(3), 400, 4.0, 1.0, **kwargs)  # type: ignore[arg-type]
        shopper, burst2 = random_effects.burst_shoppers(np.random.default_rng(3), 400, 4.0, 1.0, **kwargs)  # type: ignore[arg-type]
        assert np.array_equal(burst, burst2) and np.array_equal(rows, shopper[burst])
        assert shopper.size == burst[-1] + 1  # one shopper per burst, none left over
    empty, none = random_effects.burst_shoppers(np.random.default_rng(3), 400, 4.0, 1.0, n=0)
    assert empty.size == none.size == 0


@pytest.mark.parametrize(
    "rows", [None, 300]
)  # a whole partition (design effects from a table), fewer rows than designs
def test_every_impression_carries_its_own_shopper_design_and_hour_effects(day, rows: int | None) -> None:  # type: ignore[no-untyped-def]
    """The truth's click probabilities, recomputed row by row from the effects of each row's own shopper, design and
    hour (entity_normal of each row's ids, no gathering), and the allocation probability likewise."""
    p = day.calibration.banners
    if rows is None:
        frames = draw_task(day, next(t for t in day.tasks if t.group == "banners"))
    else:
        assert 2 * p.brands * p.designs_per_brand > rows
        density = traffic.event_density(day.scenario.behaviour.traffic, day.calibration.shoppers.spike_height)
        appeal0 = impressions.brand_appeal(SEED, p.brands)
        frames = impressions.banner_tables(
            np.random.default_rng(1), p, density, appeal0, partition=0, n=rows, n_users=50, seed=SEED
        )
    imp, truth = frames["banner_impressions"], frames["truth_banner_impressions"]
    user, design = imp["user_id"].to_numpy(), imp["design_id"].to_numpy()
    hour = np.clip(imp["ts_us"].to_numpy() // 3_600_000_000, 0, 23)
    shift = (
        p.shopper_sd * random_effects.entity_normal(SEED, random_effects.SHOPPER_CLICK, user)
        + p.design_sd * random_effects.entity_normal(SEED, random_effects.DESIGN_CLICK, design)
        + p.hour_sd * random_effects.entity_normal(SEED, random_effects.HOUR_CLICK, hour)
    )
    placement = imp["placement"].to_physical().to_numpy()
    draws = {"placement": placement, "brand": imp["brand_id"].to_numpy(), "exposure_index": imp["exposure_index"]}
    draws["exposure_index"] = imp["exposure_index"].to_numpy()
    appeal = impressions.brand_appeal(SEED, p.brands)
    novelty = np.exp(-p.novelty_decay * (draws["exposure_index"] - 1.0))
    base = p.click_intercept + impressions.PLACEMENT_QUALITY[placement] + appeal[draws["brand"]]
    assert np.allclose(truth["p_click_if_human"].to_numpy(), expit(base + shift), rtol=1e-12, atol=0)
    assert np.allclose(truth["p_click_if_ai"].to_numpy(), expit(base + p.ai_effect * novelty + shift), rtol=1e-12)
    allocation = expit(
        p.allocation_intercept
        + p.allocation_slope * impressions.PLACEMENT_QUALITY[placement]
        + p.allocation_sd * random_effects.entity_normal(SEED, random_effects.SHOPPER_ALLOCATION, user)
    )
    assert np.allclose(truth["ai_allocation_prob"].to_numpy(), allocation, rtol=1e-12, atol=0)
    assert np.unique(user).size > (10 if rows else 100)  # many shoppers, so a wrong gather could not pass


def test_shoppers_conversion_effect_is_the_users_own(day) -> None:  # type: ignore[no-untyped-def]
    task = next(t for t in day.tasks if t.group == "shoppers")
    frames = draw_task(day, task)
    sp = day.calibration.shoppers
    visits, truth = frames["visits"], frames["truth_visits"]
    source = visits["source"].to_physical().to_numpy()
    z = random_effects.entity_normal(SEED, random_effects.SHOPPER_CONVERSION, visits["user_id"].to_numpy())
    intent = truth["intent_sd"].to_numpy()
    p0 = expit(shoppers.conversion_logit(sp, intent, source, np.zeros(intent.size)) + sp.conversion_sd * z)
    assert np.allclose(truth["p_convert_other"].to_numpy(), p0, rtol=1e-12, atol=0)


# ----------------------------------------------------------------------------------------------------------------
# the Gauss-Hermite mean in blocks


@pytest.mark.parametrize("shape", [(), (1,), (5,), (2047,), (2049,), (3000, 4), (3, 5, 2)])
def test_expit_mean_in_blocks_is_the_whole_sum(shape: tuple[int, ...]) -> None:
    """Blocks and numpy's exp give scipy's expit summed over the whole array, to the last bits of exp."""
    logit = np.random.default_rng(0).normal(-3.0, 2.0, shape)
    x, w = random_effects.gauss_hermite()
    whole = (expit(np.asarray(logit)[..., None] + 1.3 * x) * w).sum(axis=-1)
    got = random_effects.expit_mean(logit, 1.3)
    assert got.shape == np.shape(logit)
    assert np.allclose(got, whole, rtol=2e-15, atol=0)


def test_expit_mean_saturates_without_warnings() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = random_effects.expit_mean(np.array([-800.0, 800.0]), 1.0)
    assert got.tolist() == [0.0, 1.0]


@pytest.mark.parametrize(("logit", "sd"), [(-4.6, 1.0), (0.3, 0.6), (2.0, 1.5)])
def test_expit_mean_is_the_normal_integral(logit: float, sd: float) -> None:
    exact, _ = integrate.quad(lambda z: expit(logit + sd * z) * stats.norm.pdf(z), -40, 40, epsabs=1e-14)
    assert float(random_effects.expit_mean(np.array([logit]), sd)[0]) == pytest.approx(exact, rel=1e-8)


# ----------------------------------------------------------------------------------------------------------------
# counting in the tallies


def test_counted_boolean_sums_are_the_row_totals() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    frame = pl.DataFrame(
        {
            "user_id": rng.integers(0, 3000, n),
            "flag": rng.random(n) < 0.3,
            "x": rng.normal(size=n),
            "weight": np.full(n, 2.5),
        }
    )
    t = Tally(
        "orders",
        by=group_key(pl.col("user_id"), 7),
        sums=(
            ("flags", pl.col("flag")),
            ("both", pl.col("flag") & (pl.col("x") > 0)),
            ("wx", pl.col("weight") * pl.col("x")),
        ),
    )
    counted = t.on(frame.lazy(), max_rows=n).collect()
    converted = t.on(frame.lazy()).collect()
    assert counted.schema == converted.schema  # Float64 sums either way
    a = group_arrays(t.combine([counted]), ("flags", "both", "wx", "n"), 7)
    b = group_arrays(t.combine([converted]), ("flags", "both", "wx", "n"), 7)
    g = frame["user_id"].to_numpy() % 7
    flag, x = frame["flag"].to_numpy(), frame["x"].to_numpy()
    assert np.array_equal(a["flags"], np.bincount(g, weights=flag, minlength=7))
    assert np.array_equal(a["both"], np.bincount(g, weights=flag & (x > 0), minlength=7))
    assert np.array_equal(a["flags"], b["flags"]) and np.array_equal(a["both"], b["both"])
    assert np.allclose(a["wx"], np.bincount(g, weights=2.5 * x, minlength=7), rtol=1e-12)
    # too many rows for a 32-bit count: every row is converted first
    plan_text = t.on(frame.lazy(), max_rows=2**32).explain()
    assert plan_text == t.on(frame.lazy()).explain()
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="max_rows"):
            t.on(frame.lazy(), max_rows=bad)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------------------
# calibration inputs computed once


def test_the_cached_feature_distribution_is_the_computed_one_and_read_only() -> None:
    cached = shoppers.user_feature_distribution()
    fresh = shoppers._user_feature_distribution.__wrapped__(64, 1e-13)
    assert cached.keys() == fresh.keys()
    assert all(np.array_equal(cached[k], fresh[k]) for k in cached)
    with pytest.raises(ValueError, match="read-only"):
        cached["mass"][0] = 1.0
    cached["mass"] = np.zeros(1)  # a caller's own dict: the next caller still gets the distribution
    assert shoppers.user_feature_distribution()["mass"].size == fresh["mass"].size


def test_cached_exposure_and_escalation_are_computed_afresh_for_new_inputs() -> None:
    from newretail.scenario import load_scenario

    density = traffic.event_density(load_scenario("singles_day_2017").behaviour.traffic, 40.0)
    a = impressions.exposure_distribution(0.35, density)
    a[:] = 0.0  # a copy: the cache is untouched
    b = impressions.exposure_distribution(0.35, density)
    assert b.sum() == pytest.approx(1.0, abs=1e-12) and b[0] > 0.4
    assert not np.array_equal(b, impressions.exposure_distribution(0.2, density))
    assert not np.array_equal(
        b,
        impressions.exposure_distribution(
            0.35, traffic.daytime_density(load_scenario("singles_day_2017").behaviour.traffic)
        ),
    )
    alerted, needs = inquiries.escalation_probabilities(0.6)
    alerted[:] = -1.0
    again, _ = inquiries.escalation_probabilities(0.6)
    assert (again > 0).all() and (again < 1).all() and (needs > 0).all()
    # the normal tail in the integrand is stats.norm.sf's, by a direct integral for one intent
    a0, b0 = inquiries.INTENT_ANGER[0] * inquiries.ANGER_CONCENTRATION, (1 - inquiries.INTENT_ANGER[0]) * 4.0
    direct, _ = integrate.quad(
        lambda v: stats.beta.pdf(v, a0, b0) * stats.norm.sf(0.6 - v, 0, inquiries.SENTIMENT_NOISE), 0, 1, limit=200
    )
    assert again[0] == pytest.approx(direct, rel=1e-12)
