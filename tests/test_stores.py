"""Hema and the Sanjiang pilot: the delivery promise against the targets, household coverage, and the pilot's
uplift (DiD, event study, synthetic control, net of cannibalisation) against the generator's true effects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import ROOT, run_notebook
from scipy import stats

from newretail.analyses import stores
from newretail.generate import generate
from newretail.generate.city import simulate_city
from newretail.generate.run import GROUP_CODES
from newretail.methods import DiD, EventStudy, MethodInputError
from newretail.scenario import Scenario, load_scenario
from newretail.studies import store_failures
from newretail.tables import Dataset, open_dataset

SCENARIO = load_scenario("singles_day_2017")


def _city(scenario: Scenario, seed: int, index: int = 0) -> dict[str, pl.DataFrame]:
    """A fresh simulated city (stores, households, panel, truth) from its own random stream."""
    t = scenario.targets
    return simulate_city(
        np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,))),
        scenario.behaviour.stores,
        pilot_stores=t.sanjiang_pilot_stores,
        radius_km=t.hema_radius_km,
        event_date=scenario.event_date,
    )


# --- the delivery promise ------------------------------------------------------------------------------------------


def _check_promise(ds: Dataset) -> stores.DeliveryPromise:
    t = ds.scenario.targets
    promise = stores.delivery_promise(ds)
    assert promise.radius_km == t.hema_radius_km
    rows = {r["fleet"]: r for r in promise.table.to_dicts()}
    for fleet, target in (("hema", t.hema_delivery_minutes), ("sanjiang pilot", t.sanjiang_delivery_minutes)):
        r = rows[fleet]
        assert r["promise_min"] == target
        # calibration puts the 95th percentile of delivery minutes within the radius at the promise
        assert r["p95_ci_low"] <= target <= r["p95_ci_high"], (fleet, r)
        assert r["p95_min"] == pytest.approx(target, rel=0.03)
        assert r["ci_low"] <= 0.95 <= r["ci_high"], (fleet, r)
        assert r["orders_within"] > 1000
        assert r["on_time_share_beyond"] < r["on_time_share"] - 0.05  # the promise does not reach beyond the radius
    return promise


def test_delivery_promise_reproduces_the_targets(small_dataset: Dataset) -> None:
    promise = _check_promise(small_dataset)
    # the busiest hours load the pickers: on-time share falls as the hour's share of orders rises
    hema = promise.by_hour.filter(pl.col("fleet") == "hema")
    rho = stats.spearmanr(hema["order_share"], hema["on_time_share"]).statistic
    assert rho < -0.3
    # and the claims module, computed independently, agrees on the 95th percentiles
    from newretail.claims import evaluate

    claims = evaluate(small_dataset, ["hema_delivery_minutes", "sanjiang_delivery_minutes"])
    rows = {r["fleet"]: r for r in promise.table.to_dicts()}
    assert claims["hema_delivery_minutes"].reproduced == pytest.approx(rows["hema"]["p95_min"], rel=0.01)
    assert claims["sanjiang_delivery_minutes"].reproduced == pytest.approx(rows["sanjiang pilot"]["p95_min"], rel=0.01)


def test_delivery_promise_follows_another_scenarios_targets(tmp_path: Path) -> None:
    """A 5 km, 45 / 90 minute scenario: nothing is tied to the 2017 figures."""
    scenario = ROOT / "tests" / "scenarios" / "other_retailer.toml"
    generate(scenario, scale=1e-6, seed=3, out=tmp_path / "other", workers=1)
    ds = open_dataset(tmp_path / "other")
    assert ds.scenario.targets.hema_radius_km != SCENARIO.targets.hema_radius_km
    _check_promise(ds)


# --- households and coverage ---------------------------------------------------------------------------------------


def test_household_coverage_counts_the_households_within_reach(small_dataset: Dataset) -> None:
    radius = small_dataset.scenario.targets.hema_radius_km
    cov = stores.household_coverage(small_dataset, radius_km=radius)
    blocks, st = small_dataset.read("households"), small_dataset.read("stores")
    assert cov.households == blocks["households"].sum()
    assert cov.households == pytest.approx(small_dataset.scenario.behaviour.stores.households, rel=1e-3)
    # brute force over the Hema stores, one at a time
    covered = np.zeros(blocks.height, dtype=bool)
    for x, y in st.filter(pl.col("store_type") == "hema").select("x_km", "y_km").iter_rows():
        covered |= np.hypot(blocks["x_km"].to_numpy() - x, blocks["y_km"].to_numpy() - y) <= radius
    assert cov.share("Hema") == pytest.approx(blocks["households"].to_numpy()[covered].sum() / cov.households)
    assert cov.share("Hema or pilot") <= cov.share("Hema") + cov.share("Sanjiang pilot")
    assert cov.share("Hema or pilot") >= max(cov.share("Hema"), cov.share("Sanjiang pilot"))
    assert cov.share("Sanjiang pilot") < cov.share("all Sanjiang")
    assert 0.0 <= cov.overlap_share <= 1.0
    wider = stores.household_coverage(small_dataset, radius_km=2 * radius)
    assert wider.share("Hema") > cov.share("Hema")
    assert stores.household_coverage(small_dataset, radius_km=500.0).share("Hema") == 1.0
    with pytest.raises(ValueError, match="radius_km"):
        stores.household_coverage(small_dataset, radius_km=-1.0)
    with pytest.raises(ValueError, match="missing table"):
        stores.household_coverage({"stores": st}, radius_km=radius)


def test_simulated_city_is_the_datasets_city(small_dataset: Dataset) -> None:
    """simulate_city on the dataset's city stream draws the same stores, households and panel."""
    t = small_dataset.scenario.targets
    rng = np.random.default_rng(np.random.SeedSequence(small_dataset.seed, spawn_key=(GROUP_CODES["city"], 0)))
    city = simulate_city(
        rng,
        small_dataset.scenario.behaviour.stores,
        pilot_stores=t.sanjiang_pilot_stores,
        radius_km=t.hema_radius_km,
        event_date=small_dataset.scenario.event_date,
    )
    for table in ("stores", "households", "store_days", "truth_store_days"):
        assert city[table].equals(small_dataset.read(table)), table


# --- the pilot's uplift --------------------------------------------------------------------------------------------


def test_did_and_synthetic_control_cover_the_true_effect_on_the_dataset(small_dataset: Dataset) -> None:
    truth = stores.pilot_truth(small_dataset)
    panel = stores.store_panel(small_dataset)
    assert panel["store_id"].n_unique() == 100  # pilots, other Sanjiang and other supermarkets; no Hema
    did = DiD("store_id", "day", "y", "pilot_open").fit(panel)
    # the treated stores are the pilots the generator wrote into the stores table (not the target it drew them from)
    assert did.n_treated_units_ == small_dataset.read("stores")["pilot"].sum()
    assert did.ci_[0] <= truth.effect_log <= did.ci_[1]
    synth = stores.pilot_synthetic_control(panel)
    assert synth.ci_[0] <= truth.effect_log <= synth.ci_[1]
    assert sum(synth.weights_.values()) == pytest.approx(1.0, abs=1e-9)
    assert min(synth.weights_.values()) >= 0
    assert synth.p_value_ < 0.05
    event = EventStudy("store_id", "day", "y", "pilot_open", bin_width=7).fit(panel)
    post = event.coefs_.filter(pl.col("event_time") >= 0)
    assert ((post["ci_low"] <= truth.effect_log) & (truth.effect_log <= post["ci_high"])).all()


def test_net_uplift_subtracts_the_displaced_online_orders(small_dataset: Dataset) -> None:
    radius = small_dataset.scenario.targets.hema_radius_km
    truth = stores.pilot_truth(small_dataset)
    assert truth.online_effect_log == pytest.approx(-small_dataset.scenario.behaviour.stores.cannibalisation_log)
    net = stores.net_uplift(small_dataset, radius_km=radius)
    rows = {r["quantity"]: r for r in net.table.to_dicts()}
    for name, true in (
        ("store uplift", truth.extra_rmb),
        ("online orders displaced", truth.online_lost_rmb),
        ("net uplift", truth.net_rmb),
    ):
        assert rows[name]["ci_low"] <= true <= rows[name]["ci_high"], (name, rows[name], true)
    assert rows["online orders displaced"]["ci_low"] > 0  # the cannibalisation is detected
    assert rows["net uplift"]["estimate"] < rows["store uplift"]["estimate"]
    assert 0 < net.cannibalised_share < 1


def test_no_cannibalisation_no_displaced_orders() -> None:
    city = _city(SCENARIO.with_changes({"behaviour.stores.cannibalisation_log": 0.0}), seed=5)
    assert stores.pilot_truth(city).online_lost_rmb == 0.0
    net = stores.net_uplift(city, radius_km=SCENARIO.targets.hema_radius_km)
    displaced = net.table.filter(pl.col("quantity") == "online orders displaced").row(0, named=True)
    assert displaced["ci_low"] <= 0.0 <= displaced["ci_high"]


@pytest.fixture(scope="module")
def modes() -> pl.DataFrame:
    """Every estimator on 30 fresh cities under each design (about 10 s)."""
    return store_failures.failure_modes(SCENARIO, seed=11, cities=30, placebos=40).table


def _row(table: pl.DataFrame, design: str, estimator: str) -> dict[str, float]:
    return table.filter((pl.col("design") == design) & (pl.col("estimator") == estimator)).row(0, named=True)


def test_intervals_cover_the_truth_under_random_pilots(modes: pl.DataFrame) -> None:
    for estimator in ("DiD", "synthetic control"):
        r = _row(modes, "random pilots", estimator)
        assert abs(r["bias"]) < 0.01, r
        assert r["coverage"] >= 0.8, r


def test_selection_on_growth_biases_did_and_store_trends_remove_it(modes: pl.DataFrame) -> None:
    did = _row(modes, "pilots chosen on growth", "DiD")
    assert did["bias"] > 0.04 and did["coverage"] <= 0.2, did
    synth = _row(modes, "pilots chosen on growth", "synthetic control")
    assert 0 < synth["bias"] < did["bias"], synth
    trends = _row(modes, "pilots chosen on growth", "DiD + store trends")
    assert abs(trends["bias"]) < 0.01 and trends["coverage"] >= 0.8, trends


def test_spillover_to_nearby_controls_biases_did_and_a_buffer_removes_it(modes: pl.DataFrame) -> None:
    did = _row(modes, "spill-over to nearby controls", "DiD")
    assert did["bias"] > 0.015, did
    buffered = _row(modes, "spill-over to nearby controls", "DiD, 5 km buffer")
    assert abs(buffered["bias"]) < 0.01 and buffered["coverage"] >= 0.75, buffered


def test_event_study_flags_pilots_chosen_on_growth() -> None:
    selected = _city(SCENARIO.with_changes({"behaviour.stores.pilot_selection_on_growth": 1.0}), seed=5)
    event = EventStudy("store_id", "day", "y", "pilot_open", bin_width=7).fit(stores.store_panel(selected))
    assert event.pretrend_p_ < 0.01


def test_placebo_p_values_are_uniform_under_no_effect() -> None:
    """A small seeded simulation: with no pilot effect, the placebo p-value (random groups of as many control stores
    as there are pilots) is roughly uniform (small cities, short panels)."""
    null = SCENARIO.with_changes(
        {
            "behaviour.stores.pilot_effect": 0.0,
            "behaviour.stores.sanjiang_stores": 40,
            "behaviour.stores.other_supermarkets": 40,
            "behaviour.stores.household_blocks": 500,
            "behaviour.stores.panel_days_before": 28,
            "behaviour.stores.panel_days_after": 7,
        }
    )
    p = np.array(
        [
            stores.pilot_synthetic_control(stores.store_panel(_city(null, 17, i)), placebos=39, random_state=i).p_value_
            for i in range(100)
        ]
    )
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert 0.02 <= np.mean(p <= 0.1) <= 0.2
    assert 0.4 <= p.mean() <= 0.6


def test_bad_inputs_are_refused(small_dataset: Dataset) -> None:
    with pytest.raises(ValueError, match="outcome"):
        stores.store_panel(small_dataset, outcome="gmv")
    with pytest.raises(ValueError, match="controls"):
        stores.store_panel(small_dataset, controls=["corner shop"])
    panel = stores.store_panel(small_dataset)
    with pytest.raises(MethodInputError, match="pilot_open"):
        DiD("store_id", "day", "y", "pilot_open").fit(panel.filter(pl.col("treated")))
    with pytest.raises(MethodInputError, match="alpha"):
        DiD("store_id", "day", "y", "pilot_open", alpha=0.7).fit(panel)
    with pytest.raises(ValueError, match="missing column"):
        stores.pilot_synthetic_control(panel.drop("treated"))
    with pytest.raises(ValueError, match="no control store of the pilots' store type"):
        stores.pilot_synthetic_control(stores.store_panel(small_dataset, controls=["other"]))


# --- the notebook --------------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_notebook_runs_and_records_its_figures_and_numbers(small_dataset: Dataset, tmp_path: Path) -> None:
    build = tmp_path / "build"
    run_notebook(
        "05_hema_offline_uplift",
        {
            "dataset": str(small_dataset.path),
            "scale": small_dataset.scale,
            "seed": small_dataset.seed,
            "build_dir": str(build),
        },
        tmp_path,
    )
    results = json.loads((build / "results" / "05_hema_offline_uplift.json").read_text())
    for name in (
        "stores_city_map",
        "stores_delivery_promise",
        "stores_event_study",
        "stores_synthetic_control",
        "stores_net_uplift",
        "stores_failure_modes",
        "stores_event_study_selected",
    ):
        assert (build / "figures" / f"{name}.png").stat().st_size > 10_000, name
        assert (build / "figures" / f"{name}.pdf").is_file(), name
        assert results["figures"][name]["seed"] == small_dataset.seed
    numbers = results["numbers"]
    truth = stores.pilot_truth(small_dataset).effect_log
    assert numbers["stores_true_effect_log"]["value"] == pytest.approx(truth)
    for name in ("stores_did_effect_log", "stores_synth_effect_log"):
        assert numbers[name]["ci_low"] <= truth <= numbers[name]["ci_high"], name
    t = small_dataset.scenario.targets
    hema = numbers["stores_hema_p95_min"]
    assert hema["ci_low"] <= t.hema_delivery_minutes <= hema["ci_high"]
    assert numbers["stores_failure_selection_did_bias_log"]["value"] > 0.04
    assert results["tables"]["stores_failure_modes"]
