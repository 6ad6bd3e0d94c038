"""The GMV analysis: totals, the day minute by minute, the midnight rush and the split of the growth, against the
generator's known shape and assumptions; and notebook 01 run headless."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import run_notebook

from newretail.analyses import gmv
from newretail.generate import calibrate, generate, traffic
from newretail.scenario import load_scenario
from newretail.tables import Dataset, open_dataset


@pytest.fixture(scope="module")
def timeline(small_dataset: Dataset) -> gmv.Timeline:
    return gmv.timeline(small_dataset)


def _density(ds: Dataset) -> np.ndarray:
    sc = ds.scenario
    return traffic.event_density(sc.behaviour.traffic, calibrate(sc).shoppers.spike_height)


def test_totals_agree_and_cover_the_calibrated_expectation(small_dataset: Dataset, timeline: gmv.Timeline) -> None:
    expected = small_dataset.manifest["calibration"]["expected"]
    usd = gmv.gmv_total(small_dataset)
    rmb = gmv.gmv_total(small_dataset, currency="rmb")
    growth = gmv.yoy_growth(small_dataset)
    assert usd.ci_low <= expected["gmv_usd"] <= usd.ci_high
    assert rmb.ci_low <= expected["gmv_rmb"] <= rmb.ci_high
    assert growth.ci_low <= expected["gmv_yoy_growth"] <= growth.ci_high
    assert timeline.total_usd == pytest.approx(usd.value, rel=1e-9)
    assert timeline.total_rmb == pytest.approx(rmb.value, rel=1e-9)
    assert timeline.total_usd / timeline.total_usd_2016 - 1 == pytest.approx(growth.value, rel=1e-9)


def test_timeline_has_every_minute_and_ordered_milestones(small_dataset: Dataset, timeline: gmv.Timeline) -> None:
    pm = timeline.per_minute
    assert pm.height == 1440 and pm["minute"].to_list() == list(range(1440))
    assert np.all(np.diff(pm["cum_gmv_usd"].to_numpy()) >= 0)
    ms = timeline.milestones
    assert ms["label"].to_list() == ["USD 1 billion", "USD 10 billion", "all of 2016"]
    minutes = ms["minute"].to_numpy()
    assert np.all(np.diff(minutes) > 0) and 0 < minutes[0] < minutes[-1] < 1440
    cum = pm["cum_gmv_usd"].to_numpy()
    crossed = int(minutes[-1])  # the 2016 total is passed within that minute
    assert cum[crossed - 1] < timeline.total_usd_2016 <= cum[crossed]
    chosen = gmv.timeline(small_dataset, milestones_usd=(5e9,)).milestones
    assert chosen["label"].to_list() == ["USD 5 billion"] and minutes[0] < chosen["minute"][0] < minutes[1]
    with pytest.raises(ValueError, match="milestones_usd"):
        gmv.timeline(small_dataset, milestones_usd=(-1.0,))


def test_the_midnight_spike_has_the_generators_shape(small_dataset: Dataset, timeline: gmv.Timeline) -> None:
    """First minute and first hour against the generator's per-second density; the fitted rush against the
    calibrated peaks and the scenario's decay time."""
    density = _density(small_dataset)
    assert timeline.spike_ratio == pytest.approx(density[:60].sum() * 1440, rel=0.35)
    assert timeline.first_hour_share == pytest.approx(density[:3600].sum(), rel=0.2)
    assert timeline.spike_ratio > 5  # a rush, far above the day's mean minute
    assert timeline.peak_hour in (19, 20, 21, 22)  # around the evening peak at 21:00 (flat top of the curve)
    spike = gmv.midnight_spike(small_dataset)
    expected = small_dataset.manifest["calibration"]["expected"]
    po = spike.peak_orders_per_second
    assert po.ci_low <= expected["peak_orders_per_second"] <= po.ci_high
    decay = spike.decay_min
    assert decay.ci_low <= small_dataset.scenario.behaviour.traffic.midnight_spike_decay_min <= decay.ci_high
    pp = spike.peak_payments_per_second
    assert pp.value < po.value and 0 < spike.peak_payment_second < 600
    assert spike.per_second.height == gmv.SPIKE_WINDOW_S


def test_growth_decomposition_recovers_the_true_split(small_dataset: Dataset) -> None:
    dec = gmv.decompose_growth(small_dataset)
    rows = {r["component"]: r for r in dec.table.iter_rows(named=True)}
    truth = small_dataset.scenario.behaviour.growth
    true_share = {
        "visits": truth.visitor_share,
        "conversion": truth.conversion_share,
        "order_value": 1 - truth.visitor_share - truth.conversion_share,
    }
    assert sum(rows[c]["log_share"] for c in gmv.COMPONENTS) == pytest.approx(1.0, abs=1e-9)
    for comp, share in true_share.items():
        assert rows[comp]["share_ci_low"] <= share <= rows[comp]["share_ci_high"], comp
    product = rows["visits"]["value_2016"] * rows["conversion"]["value_2016"] * rows["order_value"]["value_2016"]
    assert product == pytest.approx(rows["gmv"]["value_2016"], rel=1e-9)
    assert dec.carried_by == "visits"
    assert 0 < dec.store_gmv_share < 1e-3


def test_order_value_carries_the_growth_when_the_day_is_built_that_way(tmp_path: Path) -> None:
    sc = load_scenario("singles_day_2017").with_changes(
        {"behaviour.growth.visitor_share": 0.1, "behaviour.growth.conversion_share": 0.1}
    )
    generate(sc, scale=5e-6, seed=5, out=tmp_path / "ds", workers=1)
    dec = gmv.decompose_growth(open_dataset(tmp_path / "ds"))
    share = dec.table.filter(dec.table["component"] == "order_value").row(0, named=True)
    assert dec.carried_by == "order_value"
    assert share["share_ci_low"] <= 0.8 <= share["share_ci_high"]


def test_bad_arguments_are_refused(small_dataset: Dataset) -> None:
    with pytest.raises(ValueError, match="currency"):
        gmv.gmv_total(small_dataset, currency="eur")
    with pytest.raises(ValueError, match="window_s"):
        gmv.midnight_spike(small_dataset, window_s=10)


def test_plots_are_figures(small_dataset: Dataset, timeline: gmv.Timeline) -> None:
    figures = [
        timeline.plot(),
        timeline.plot_cumulative(),
        gmv.midnight_spike(small_dataset).plot(),
        gmv.decompose_growth(small_dataset).plot(),
    ]
    assert [len(f.axes) for f in figures] == [2, 1, 1, 2]
    assert len(figures[0].axes[0].child_axes) == 1  # the RMB axis beside the USD one
    for fig in figures:
        plt.close(fig)


@pytest.mark.notebook
def test_notebook_01_runs_and_records_its_figures_and_numbers(small_dataset: Dataset, tmp_path: Path) -> None:
    params = {"dataset": str(small_dataset.path), "scale": 2e-5, "seed": 7, "build_dir": str(tmp_path)}
    run_notebook("01_sales_day_gmv", params, tmp_path / "executed")
    results = json.loads((tmp_path / "results" / "01_sales_day_gmv.json").read_text())
    for name in ("gmv_per_minute", "gmv_midnight_spike", "gmv_cumulative", "gmv_growth_decomposition", "claims_forest"):
        assert (tmp_path / "figures" / f"{name}.pdf").is_file() and (tmp_path / "figures" / f"{name}.png").is_file()
        assert results["figures"][name]["caption"]
    numbers = results["numbers"]
    usd = gmv.gmv_total(small_dataset)
    assert numbers["gmv_usd"]["value"] == pytest.approx(usd.value)
    assert numbers["gmv_usd"]["ci_low"] == pytest.approx(usd.ci_low)
    assert numbers["gmv_growth_carried_by"]["value"] == "visits"
    assert numbers["claims_report_holding"]["value"] == 12
    claims = results["tables"]["claims"]
    assert len(claims) == 18 and all(row["kind"] in ("report", "press") for row in claims)
    assert all(row["holds"] for row in claims if row["kind"] == "report")
    assert results["dataset_sha256"] and results["seed"] == 7
