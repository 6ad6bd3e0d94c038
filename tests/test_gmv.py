"""The GMV analysis: totals, the day minute by minute, the midnight rush and the split of the growth, against the
generator's known shape and assumptions; and notebook 01 run headless."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import run_notebook, sigmas

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
    """GMV in USD and RMB and the growth on 2016 within 4 standard errors of the calibrated expectations.

    False-failure rate about 7 in 100,000 per run: over seeds 0-59 at this scale z had root mean square 0.94 (USD;
    RMB is USD at a fixed rate, the same z) and 0.98 (growth), at most 2.5 in size; normal tails at 4 / rms. The
    bands (8% of the GMV, 0.13 of the growth) exclude the RMB figure read as USD, the 2016 day's GMV (28% less), a
    total not divided by the sampling fraction, and the growth as a ratio (1.39) or zero."""
    expected = small_dataset.manifest["calibration"]["expected"]
    usd = gmv.gmv_total(small_dataset)
    rmb = gmv.gmv_total(small_dataset, currency="rmb")
    growth = gmv.yoy_growth(small_dataset)
    assert abs(sigmas(usd, expected["gmv_usd"])) < 4, usd
    assert abs(sigmas(rmb, expected["gmv_rmb"])) < 4, rmb
    assert abs(sigmas(growth, expected["gmv_yoy_growth"])) < 4, growth
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
    """First minute and first hour against the generator's per-second density; the busiest hour on the evening's
    flat top; the fitted rush against the calibrated peaks and the scenario's decay time.

    False-failure rate about 1 in 10,000 per run, from seeds 0-59 at this scale: the first minute's ratio to the
    mean minute sat 0.2% above the density's with a relative spread of 9.9% (band 40%, 4 spreads: 6e-5); the
    first hour's share 3.2% (band 20%, 6 spreads); the peak orders per second and the decay time within 4
    standard errors (z root mean square 0.88 and 0.82, at most 2.9: 1e-5). The busiest hour was 18 (6 seeds) to 22:
    the assertion allows every hour whose expected GMV is within 15% of the busiest expected hour's (16 to 22);
    drawing each hour's GMV with its measured spread (4 to 5% near the top) puts the peak outside them about 4
    times in 100,000. The bands exclude a rush read per hour (the ratio would be 2, not 16), a clock 8 hours off
    (the busiest hour at 12 to 14, whose expected GMV is 0.59 to 0.74 of the top) and a decay time in seconds."""
    density = _density(small_dataset)
    assert timeline.spike_ratio == pytest.approx(density[:60].sum() * 1440, rel=0.4)
    assert timeline.first_hour_share == pytest.approx(density[:3600].sum(), rel=0.2)
    assert timeline.spike_ratio > 5  # a rush, far above the day's mean minute
    hourly = density.reshape(24, -1).sum(axis=1)  # expected share of the day's GMV in each hour
    assert hourly[timeline.peak_hour] >= 0.85 * hourly[1:].max(), timeline.peak_hour  # the evening's flat top
    spike = gmv.midnight_spike(small_dataset)
    expected = small_dataset.manifest["calibration"]["expected"]
    po = spike.peak_orders_per_second
    assert abs(sigmas(po, expected["peak_orders_per_second"])) < 4, po
    decay = spike.decay_min
    assert abs(sigmas(decay, small_dataset.scenario.behaviour.traffic.midnight_spike_decay_min)) < 4, decay
    pp = spike.peak_payments_per_second
    assert pp.value < po.value and 0 < spike.peak_payment_second < 600
    assert spike.per_second.height == gmv.SPIKE_WINDOW_S


def test_growth_decomposition_recovers_the_true_split(small_dataset: Dataset) -> None:
    """Each component's share of the growth (log scale) within 4 standard errors of the scenario's split.

    False-failure rate about 3 in 100,000 per run: over seeds 0-59 at this scale z had root mean square 0.83, 0.94
    and 0.86 and never exceeded 2.7 (normal tails at 4 / rms, added). The bands (0.14 to 0.25 of a share)
    exclude a split with the components swapped (visits 0.55 against order value 0.30 and conversion 0.15) and
    shares of the ratio rather than of its logarithm."""
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
        r = rows[comp]
        assert abs(sigmas((r["log_share"], r["share_ci_low"], r["share_ci_high"]), share)) < 4, (comp, r)
    product = rows["visits"]["value_2016"] * rows["conversion"]["value_2016"] * rows["order_value"]["value_2016"]
    assert product == pytest.approx(rows["gmv"]["value_2016"], rel=1e-9)
    assert dec.carried_by == "visits"
    assert 0 < dec.store_gmv_share < 1e-3


def test_order_value_carries_the_growth_when_the_day_is_built_that_way(tmp_path: Path) -> None:
    """A day whose growth is 80% order value: the decomposition says so, its share within 4 standard errors of 0.8.

    False-failure rate about 1 in 100,000 per run: over seeds 0-39 of this day z had root mean square 0.92 and never
    exceeded 2.1, and order value carried the growth every time. The band (0.35) excludes the shipped split's 0.3.
    """
    sc = load_scenario("singles_day_2017").with_changes(
        {"behaviour.growth.visitor_share": 0.1, "behaviour.growth.conversion_share": 0.1}
    )
    generate(sc, scale=5e-6, seed=5, out=tmp_path / "ds", workers=1)
    dec = gmv.decompose_growth(open_dataset(tmp_path / "ds"))
    share = dec.table.filter(dec.table["component"] == "order_value").row(0, named=True)
    assert dec.carried_by == "order_value"
    assert abs(sigmas((share["log_share"], share["share_ci_low"], share["share_ci_high"]), 0.8)) < 4, share


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
    """Notebook 01 records its figures and numbers, and its claims table: each report claim within 4.5 standard
    errors of its target (false-failure rate about 3 in 10,000 per run: over seeds 0-59 at this scale the claims'
    z had root mean square 0.94 to 1.18, at most 4.0). That every report claim holds is not asserted: the dozen
    95% intervals all cover on about half the seeds (tests/test_claims.py), and seed 7 is one of them."""
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
    claims = results["tables"]["claims"]
    assert len(claims) == 18 and all(row["kind"] in ("report", "press") for row in claims)
    report = [row for row in claims if row["kind"] == "report"]
    assert numbers["claims_report_holding"]["value"] == sum(bool(row["holds"]) for row in report)
    for row in report:
        assert abs(sigmas(row, row["target"])) < 4.5, row
    assert results["dataset_sha256"] and results["seed"] == 7
