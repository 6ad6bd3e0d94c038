"""Lu Ban's banners: CTR ratio intervals, placement adjustment (Simpson), novelty, and A/B test sizing, checked
against the generator's ground truth."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import sigmas

from newretail.analyses import banners
from newretail.generate import calibrate, traffic
from newretail.generate import impressions as gen_banners
from newretail.scenario import Scenario, load_scenario
from newretail.tables import Dataset

ROOT = Path(__file__).resolve().parents[1]


def independent(scenario: Scenario) -> Scenario:
    """The scenario with its banner dependence switched off (no shopper, design or hour effects, no bursts)."""
    off = {"shopper_click_sd": 0.0, "shopper_allocation_sd": 0.0, "design_click_sd": 0.0, "hour_click_sd": 0.0}
    return scenario.with_changes(
        {**{f"behaviour.dependence.{k}": v for k, v in off.items()}, "behaviour.dependence.banner_burst_mean": 1.0}
    )


def draw_impressions(scenario: Scenario, n: int, seed: int) -> pl.DataFrame:
    """Banner impressions straight from the calibrated generator (no parquet), for purpose-built checks of the
    estimators on independent rows (the dependence is switched off; the coverage study checks the clustered
    intervals on dependent rows)."""
    scenario = independent(scenario)
    cal = calibrate(scenario)
    density = traffic.event_density(scenario.behaviour.traffic, cal.shoppers.spike_height)
    appeal = gen_banners.brand_appeal(seed, cal.banners.brands)
    rng = np.random.default_rng(seed)
    tables = gen_banners.banner_tables(rng, cal.banners, density, appeal, partition=0, n=n, n_users=1000)
    return tables["banner_impressions"]


def test_observed_ratio_reproduces_the_target(small_dataset: Dataset) -> None:
    """The observed CTR ratio within 4 standard errors of the target, read from its two-way clustered interval
    (shoppers and designs carry their own click effects); the naive intervals (delta method and Fieller, which treat
    impressions as independent) are the same ratio, agree with each other and are narrower.

    False-failure rate about 7 in 100,000 per run: over seeds 0-59 at this scale z had root mean square 1.00 and at
    most 2.3 in size; a normal tail at 4. The naive intervals' z had root mean square 1.65 and they missed the
    target at 16 of the 60 seeds (a ``covers`` on them fails one run in four; seed 7 passes). The band (about 0.23)
    excludes the inverted ratio and no effect (0.5, 1); not the causal ratio (1.71, 3.3 standard errors away on
    average), which the placement-adjusted ratio is checked against. The clustered interval was wider than the
    naive one by a design effect of 1.6 to 5.1 (its root on the width)."""
    target = small_dataset.scenario.targets.ai_banner_ctr_ratio
    clustered = banners.ai_ctr_ratio(small_dataset).estimate
    assert abs(sigmas(clustered, target)) < 4, clustered
    for method in ("log", "fieller"):
        r = banners.ctr_ratio(small_dataset, method=method)
        assert r.ratio == pytest.approx(clustered.value, rel=1e-12)
        assert r.ci_high / r.ci_low < 1.2  # informative: the interval is narrower than +-10%
        assert r.ci_high - r.ci_low < clustered.ci_high - clustered.ci_low  # independence: too narrow here
    delta, fieller = banners.ctr_ratio(small_dataset), banners.ctr_ratio(small_dataset, method="fieller")
    assert delta.ratio == pytest.approx(fieller.ratio)
    assert delta.ci_low == pytest.approx(fieller.ci_low, rel=0.01)
    assert delta.ci_high == pytest.approx(fieller.ci_high, rel=0.01)


def test_ratio_follows_another_scenarios_target() -> None:
    """On independent draws of another scenario the naive interval is the right one: the ratio within 4 standard
    errors of that scenario's target, and far from the shipped 2.0. Over seeds 0-119 z had root mean square 1.07
    and at most 3.4 (a false-failure rate of about 2 in 10,000 per run); the shipped figure lay 12 standard errors
    away on average (at least 8.9)."""
    other = load_scenario(ROOT / "tests" / "scenarios" / "other_retailer.toml")
    frame = draw_impressions(other, 150_000, seed=3)
    r = banners.ctr_ratio(frame)
    target = other.targets.ai_banner_ctr_ratio
    assert abs(sigmas(r, target)) < 4, (r.ratio, r.ci_low, r.ci_high)
    shipped = load_scenario("singles_day_2017").targets.ai_banner_ctr_ratio
    assert abs(sigmas(r, shipped)) > 4  # the 2017 report's figure is not baked in


def _widened(ratio: float, low: float, high: float, design_effect: float) -> tuple[float, float, float]:
    """An interval that treats impressions as independent, its half-widths scaled by the root of a design effect."""
    k = math.sqrt(design_effect)
    return ratio, ratio - (ratio - low) * k, ratio + (high - ratio) * k


def test_placement_adjustment_recovers_the_causal_ratio(small_dataset: Dataset) -> None:
    """The placement-adjusted ratio (by placement, and by placement and brand) within 4 standard errors of the
    calibrated causal ratio and of this sample's true ratio; the naive ratio at least 10% above it.

    The adjusted ratio's interval treats impressions as independent: over seeds 0-59 at this scale its z against the
    causal ratio had root mean square 1.59 and it missed at 13 of the 60 seeds. With its half-widths scaled by the
    root of the observed ratio's design effect (two-way clustered: :func:`banners.ai_ctr_ratio`) z had root mean
    square 0.97, 0.98 and 0.97 and at most 2.7 in size: a false-failure rate of about 1.3 in 10,000 per run (normal
    tails at 4, added). The naive ratio exceeded the adjusted one by 15 to 17% at every seed (log ratio 0.158,
    spread 0.009: 10% is 7 spreads away). The 4-SE band does not exclude the report's figure (2.8 SE on average):
    the paired naive-over-adjusted check says the adjustment moves the ratio."""
    causal = small_dataset.manifest["calibration"]["expected"]["ai_banner_ctr_ratio_causal"]
    sample_truth = banners.true_ctr_ratio(small_dataset)["ratio"].item()
    deff = banners.ai_ctr_ratio(small_dataset).design_effect
    assert deff is not None and deff > 1
    adj = banners.placement_adjusted_ratio(small_dataset)
    widened = _widened(adj.ratio, adj.ci_low, adj.ci_high, deff)
    assert abs(sigmas(widened, causal)) < 4, (widened, causal)
    assert abs(sigmas(widened, sample_truth)) < 4, (widened, sample_truth)
    target = small_dataset.scenario.targets.ai_banner_ctr_ratio
    assert causal < 0.9 * target  # AI creatives sit in better slots: the report's ratio overstates the effect
    assert adj.naive.ratio > 1.1 * adj.ratio  # ... and so does the naive ratio of the data
    # AI creatives go to the better placements, and every placement has both sources
    share = adj.by_placement["ai_share"].to_numpy()
    assert np.all(np.diff(share) < 0)
    assert adj.by_placement["ratio"].is_finite().all()
    # the Mantel-Haenszel odds ratio is close to the risk ratio at CTRs of a few percent (2.3% apart, spread 0.5%)
    assert adj.odds_ratio == pytest.approx(adj.ratio, rel=0.1)
    by_brand = banners.placement_adjusted_ratio(small_dataset, strata=("placement", "brand_id"))
    widened = _widened(by_brand.ratio, by_brand.ci_low, by_brand.ci_high, deff)
    assert abs(sigmas(widened, causal)) < 4, (widened, causal)


def test_simpsons_reversal_when_allocation_is_strongly_skewed() -> None:
    """Skewed allocation: overall AI looks much better, within placements it is worse (by construction).

    Over seeds 0-119 of these draws: the naive ratio's lower limit was 1.435 (spread 0.032; 1.3 is 4.2 spreads
    below), the adjusted ratio 0.85 (spread 0.033; 1 is 4.8 spreads above), its z against the causal ratio had root
    mean square 0.98 and at most 2.8, and the ratio was below 1 in all 5 placements at 95 seeds, 4 at 23 and 3 at 2.
    False-failure rate about 2 in 10,000 per run (normal tails; fewer than 3 placements below 1, never seen, put
    near 1e-4 by the placements' own rates). The adjusted interval's upper limit was below 1 at 119 of the 120
    seeds only, and 4 placements below 1 failed at 2: neither is asserted."""
    base = load_scenario("singles_day_2017")
    variant = base.with_changes(
        {"behaviour.banners.placement_allocation_skew": 3.0, "targets.ai_banner_ctr_ratio": 1.5}
    )
    causal = calibrate(independent(variant)).expected["ai_banner_ctr_ratio_causal"]
    assert causal < 1  # by construction: AI creatives are worse in every slot
    frame = draw_impressions(variant, 300_000, seed=11)
    adj = banners.placement_adjusted_ratio(frame)
    assert adj.naive.ci_low > 1.3  # overall, AI looks much better ...
    assert adj.ratio < 1.0  # ... while within placements it is worse
    assert abs(sigmas((adj.ratio, adj.ci_low, adj.ci_high), causal)) < 4
    assert (adj.by_placement["ratio"] < 1).sum() >= 3


def test_novelty_decay_is_recovered() -> None:
    """The fitted decay within 4 standard errors of the scenario's (its profile-likelihood interval), and above 0.

    Over seeds 0-119 of these draws z had root mean square 0.99 and at most 2.6 (5e-5); the interval's lower limit
    was 0.097 with a spread of 0.027 (above 0 by 3.7 spreads: 1.3e-4; at least 0.025 seen); the AI effect at the
    first exposure sat 0.003 below the calibrated one with a spread of 0.022 (0.1 is 4.4 spreads: 1e-5). False-failure
    rate about 2 in 10,000 per run. No decay (0) lies 4.7 standard errors below the estimate on average."""
    scenario = load_scenario("singles_day_2017")
    frame = draw_impressions(scenario, 400_000, seed=5)
    fit = banners.novelty_decay_fit(frame)
    true_decay = scenario.behaviour.banners.novelty_decay
    assert abs(sigmas((fit.decay, fit.ci_low, fit.ci_high), true_decay)) < 4, (fit.decay, fit.ci_low, fit.ci_high)
    assert fit.ci_low > 0  # the decay is detected
    assert fit.ai_effect == pytest.approx(calibrate(independent(scenario)).banners.ai_effect, abs=0.1)
    by_exposure = banners.ratio_by_exposure(frame, max_exposure=4)
    ratios = by_exposure.table["ratio"].to_numpy()
    assert by_exposure.table["exposure"].to_list() == [1, 2, 3, 4]
    assert ratios[0] > ratios[-1]
    assert fit.ratio_curve(np.array([1.0, 4.0]))[0] > fit.ratio_curve(np.array([1.0, 4.0]))[1]


def test_ctr_by_hour_tracks_repeat_exposure(small_dataset: Dataset) -> None:
    """Over seeds 0-59 at this scale the correlation of hour and mean exposure was 0.985 with a spread of 0.0014:
    0.9 is 60 spreads below (no chance failure). Exposures drawn without regard to the hour give about 0."""
    hourly = banners.ctr_by_hour(small_dataset)
    t = hourly.table
    assert t["hour"].to_list() == list(range(24))
    # repeats grow over the day in the generator, so the mean exposure index rises with the hour
    assert np.corrcoef(t["hour"].to_numpy(), t["mean_exposure"].to_numpy())[0, 1] > 0.9
    assert (t["ai_ctr_low"] <= t["ai_ctr"]).all() and (t["ai_ctr"] <= t["ai_ctr_high"]).all()


def test_ab_test_plan_matches_simulation() -> None:
    """The plan's normal-approximation power (0.8) against a Monte Carlo run of the test it plans. One million
    simulated tests give a power of 0.811 at the plan's size (the approximation is a little conservative at any human
    CTR from 1% to 3%), so 8,000 simulations have a spread of 0.0044 around it and 0.83 is 4.3 spreads above: a
    false-failure rate of about 1 in 100,000 per run. A third of the impressions gives 0.361 (18 spreads below
    0.5). A plan sized for a one-sided test (power near 0.70 when tested two-sided) fails."""
    plan = banners.ab_test_plan(ratio_alt=2.0, ratio_null=1.5, human_ctr=0.02)
    assert plan.ai_impressions + plan.human_impressions == plan.impressions
    assert banners.ab_test_power(plan.impressions) == pytest.approx(0.8, abs=0.002)
    simulated = banners.simulate_ab_power(plan.impressions, simulations=8000, seed=1)
    assert simulated == pytest.approx(0.8, abs=0.03)
    assert banners.simulate_ab_power(plan.impressions // 3, simulations=4000, seed=2) < 0.5
    # telling 2.0 from 1.5 is harder than telling it from 1.0, and rarer clicks need more impressions
    assert banners.ab_test_plan(ratio_null=1.0).impressions < plan.impressions
    assert banners.ab_test_plan(human_ctr=0.01).impressions > plan.impressions


def test_bad_inputs_are_named() -> None:
    frame = pl.DataFrame({"creative_source": ["ai"], "clicked": [True]})
    with pytest.raises(ValueError, match="lacks column"):
        banners.ctr_ratio(frame)
    with pytest.raises(ValueError, match="by:"):
        banners.ctr_ratio(pl.DataFrame(), by=("colour",))
    with pytest.raises(ValueError, match="method"):
        banners.ctr_ratio(pl.DataFrame(), method="bootstrap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha"):
        banners.ctr_ratio(pl.DataFrame(), alpha=5)
    with pytest.raises(ValueError, match="human_ctr"):
        banners.ab_test_plan(human_ctr=0.6)
    with pytest.raises(ValueError, match="data"):
        banners.ctr_ratio([1, 2, 3])  # type: ignore[arg-type]


@pytest.mark.notebook
def test_notebook_02_runs_and_records(small_dataset: Dataset, tmp_path: Path) -> None:
    """The notebook's numbers against the truth, false-failure rate about 3 in 10,000 per run.

    The notebook reports the naive and the placement-adjusted ratio with intervals that treat impressions as
    independent: over seeds 0-59 at this scale their z had root mean square 1.65 and 1.59, so they are held to 6.6
    and 6.4 of their own standard errors (4 real ones: 6e-5 each). The Simpson variant it draws (a recalibrated,
    dependent day at 1/20 of the scale) has a causal ratio of 0.98, so its within-placement ratio was below 1 at
    only 23 of seeds 0-39 (the reversal the notebook shows is not there on every seed): asserted are its naive
    ratio's lower limit above 1 (1.42, spread 0.11: 3.9 spreads, 5e-5) and the adjusted ratio at least 20% below
    the naive one (log ratio 0.42, spread 0.05: 3.9 spreads, 5e-5). Its A/B test's power, simulated 4,000 times
    around a true 0.81, within 0.035 of 0.8 (4 spreads: 3e-5)."""
    from conftest import SMALL_SCALE, SMALL_SEED, run_notebook

    run_notebook(
        "02_lu_ban_banners",
        {"dataset": str(small_dataset.path), "scale": SMALL_SCALE, "seed": SMALL_SEED, "build_dir": str(tmp_path)},
        tmp_path / "executed",
    )
    results = json.loads((tmp_path / "results" / "02_lu_ban_banners.json").read_text())
    for fig in results["figures"].values():
        assert (tmp_path / fig["pdf"]).is_file() and (tmp_path / fig["png"]).is_file()
    assert len(results["figures"]) >= 6
    assert all(name.startswith("banners_") for name in (*results["figures"], *results["numbers"]))
    n = results["numbers"]
    target = small_dataset.scenario.targets.ai_banner_ctr_ratio
    assert abs(sigmas(n["banners_ctr_ratio_naive"], target)) < 6.6
    causal = small_dataset.manifest["calibration"]["expected"]["ai_banner_ctr_ratio_causal"]
    assert abs(sigmas(n["banners_ctr_ratio_adjusted"], causal)) < 6.4
    # the Simpson variant: pooled, AI looks better (confidently); within placements, much less so
    simpson_naive, simpson_adjusted = n["banners_simpson_naive_ratio"], n["banners_simpson_adjusted_ratio"]
    assert simpson_naive["ci_low"] > 1
    assert simpson_adjusted["value"] < 0.8 * simpson_naive["value"]
    # the notebook's A/B test size reaches the planned 80% power in a Monte Carlo run of the test it plans
    assert n["banners_ab_simulated_power"]["value"] == pytest.approx(0.8, abs=0.035)
    assert n["banners_ab_impressions"]["value"] > 0
