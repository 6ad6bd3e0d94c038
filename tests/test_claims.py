"""Claims: every figure recreated with an interval, judged against the targets of the dataset's own scenario."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from newretail.claims import JSON_KEYS, PRESS_IDS, REGISTRY, REPORT_IDS, evaluate
from newretail.cli import app
from newretail.generate import generate
from newretail.scenario import PRESS_KEYS, TARGET_KEYS, load_scenario
from newretail.tables import Dataset, DatasetError, open_dataset

ROOT = Path(__file__).resolve().parents[1]
OTHER = ROOT / "tests" / "scenarios" / "other_retailer.toml"
TINY = 5e-6  # 2,500 users: a dataset in about a second


@pytest.fixture(scope="module")
def table(small_dataset: Dataset):
    return evaluate(small_dataset)


def _covers(row, value: float) -> bool:
    return row.ci_low <= value <= row.ci_high


def test_registry_has_one_claim_per_figure() -> None:
    assert set(REPORT_IDS) == set(TARGET_KEYS) - {"hema_radius_km"}  # the radius is a definition, not a figure
    assert set(PRESS_IDS) == set(PRESS_KEYS)
    for claim in REGISTRY.values():
        assert claim.definition and claim.source and "{target}" in claim.statement
        assert claim.unit and claim.direction in ("two-sided", "at-most", "exact")
        assert claim.tolerance == 0.0 or claim.tolerance_reason  # a tolerance is always explained


def test_every_report_claim_holds_on_the_default_scenario(table, small_dataset: Dataset) -> None:
    targets = small_dataset.scenario.targets.model_dump()
    assert [r.id for r in table.rows] == [*REPORT_IDS, *PRESS_IDS]
    failing = [(r.id, r.target, r.ci_low, r.ci_high) for r in table.rows if r.kind == "report" and not r.holds]
    assert not failing
    assert table.all_hold(kind="report")
    for row in table.rows:
        assert row.ci_low <= row.reproduced <= row.ci_high
        if row.kind == "report":
            assert row.target == pytest.approx(targets[row.id])
        if row.direction == "two-sided":  # an interval, not a point, and not absurdly wide
            assert 0 < row.ci_high - row.ci_low < 0.5 * abs(row.target)


def test_reproduced_values_match_the_calibrated_expectations(table, small_dataset: Dataset) -> None:
    """Against the generator's truth: each value is within a few interval widths of its expected value, and the
    delivery percentiles of the promise claims sit on their target (the generator is calibrated to it)."""
    expected = small_dataset.manifest["calibration"]["expected"]
    for row in table.rows:
        width = row.ci_high - row.ci_low
        assert abs(row.reproduced - expected[row.id]) <= 2 * width + 1e-9, row.id
    for claim_id in ("hema_delivery_minutes", "sanjiang_delivery_minutes"):
        assert _covers(table[claim_id], table[claim_id].target)


def test_personalized_pages_from_visits_equal_the_page_views(table, small_dataset: Dataset) -> None:
    pages = (
        small_dataset.scan("page_views", weights=True)
        .filter(pl.col("personalized"))
        .select(pl.col("weight").sum())
        .collect()
        .item()
    )
    assert table["personalized_pages"].reproduced == pytest.approx(pages, rel=1e-12)


def test_consistency_shows_which_figures_cannot_hold_together(table) -> None:
    checks = {c.id: c for c in table.consistency}
    per_page = checks["conversion_per_page_view"]
    assert not per_page.holds and "12 billion orders" in per_page.why  # 20% of 60 billion pages
    assert checks["pages_per_visit"].holds
    seen = table["personalized_pages"].details["pages_per_personalized_visit"]
    assert seen >= 0.2 * 60e9 / 1.48e9  # at least the 8.1 pages per visit the figures imply
    rmb = checks["gmv_rmb_vs_usd"]
    assert rmb.holds and "+1.9%" in rmb.why  # consistent only up to the rounding of "USD 25 billion"
    gap = table["gmv_rmb"]
    assert gap.details["implied_fx_rmb_per_usd"] == pytest.approx(168.2 / 25, rel=1e-9)
    assert gap.details["fx_rmb_per_usd"] == pytest.approx(6.6, rel=1e-3)


def test_claims_follow_another_scenarios_targets(tmp_path: Path) -> None:
    """A dataset of the other retailer is judged against its own targets, and every claim holds."""
    out = tmp_path / "other"
    generate(OTHER, scale=2e-5, seed=11, out=out, workers=1)
    other = evaluate(out)
    targets = load_scenario(OTHER).targets.model_dump()
    failing = [(r.id, r.target, r.ci_low, r.ci_high) for r in other.rows if r.kind == "report" and not r.holds]
    assert not failing
    for claim_id in REPORT_IDS:
        assert other[claim_id].target == pytest.approx(targets[claim_id])
    assert other["gmv_usd"].target == 12.0e9
    assert "5 km" in other["hema_delivery_minutes"].statement
    # the 2017 figures do not hold on this day
    judged = evaluate(out, ["gmv_usd", "ai_banner_ctr_ratio"], targets={"gmv_usd": 25e9, "ai_banner_ctr_ratio": 2.0})
    assert not judged["gmv_usd"].holds and not judged["ai_banner_ctr_ratio"].holds


def test_a_day_generated_otherwise_breaks_the_claims(tmp_path: Path) -> None:
    """Generate a day whose behaviour gives other figures, then judge it against the report's figures."""
    report = load_scenario("singles_day_2017")
    broken = report.with_changes(
        {
            "targets.ai_banner_ctr_ratio": 1.2,
            "targets.chatbot_share": 0.85,
            "targets.hema_delivery_minutes": 40.0,
            "targets.personalized_page_conversion": 0.15,
        }
    )
    out = tmp_path / "broken"
    generate(broken, scale=1e-5, seed=3, out=out, workers=1)
    own = evaluate(out)  # judged against the targets it was generated with: all hold
    assert own.all_hold(kind="report")
    judged = evaluate(out, targets=report.targets.model_dump())
    flipped = {r.id for r in judged.rows if r.kind == "report" and not r.holds}
    assert flipped == {"ai_banner_ctr_ratio", "chatbot_share", "hema_delivery_minutes", "personalized_page_conversion"}
    assert judged["hema_delivery_minutes"].ci_low > 30.0  # the promise is broken: the whole interval is above


def test_reading_conversion_as_a_lift_breaks_the_20_percent(small_dataset: Dataset) -> None:
    lift = evaluate(small_dataset, ["personalized_page_conversion"], conversion_reading="lift")
    row = lift["personalized_page_conversion"]
    rate_p = row.details["conversion_personalized"]
    rate_o = row.details["conversion_other"]
    assert row.reproduced == pytest.approx(rate_p / rate_o - 1)
    assert row.reproduced > 1.0 and not row.holds  # personalized visits convert about three times as often


def test_intervals_cover_the_targets_over_seeds(tmp_path: Path) -> None:
    """Coverage: over eight seeds at a tiny scale each interval covers its target in at least six, and interval
    widths agree with the spread of the estimates across seeds (neither too narrow nor too wide)."""
    rows = []
    for seed in range(8):
        out = tmp_path / f"s{seed}"
        generate("singles_day_2017", scale=TINY, seed=100 + seed, out=out, workers=1)
        rows += [{"seed": seed, **r} for r in evaluate(out).to_dicts()]
        shutil.rmtree(out)
    df = pl.DataFrame(rows, infer_schema_length=None).filter(pl.col("direction") == "two-sided")
    summary = df.group_by("id").agg(
        covered=((pl.col("ci_low") <= pl.col("target")) & (pl.col("target") <= pl.col("ci_high"))).sum(),
        sd=pl.col("reproduced").std(),
        se=((pl.col("ci_high") - pl.col("ci_low")) / 3.92).pow(2).mean().sqrt(),
    )
    assert summary.height == 15
    for row in summary.iter_rows(named=True):
        assert row["covered"] >= 6, row
        assert 0.4 < row["se"] / row["sd"] < 2.5, row


def test_peak_model_recovers_the_generators_curve() -> None:
    """The midnight-rush model, fitted to the generator's exact expected counts, returns the calibrated peaks."""
    from newretail import gmv
    from newretail.generate import calibrate, traffic

    for name in ("singles_day_2017", OTHER):
        sc = load_scenario(name)
        cal = calibrate(sc)
        density = traffic.event_density(sc.behaviour.traffic, cal.shoppers.spike_height)
        counts = density[:3600] * cal.expected["online_orders"] * 2e-5
        theta, _ = gmv._fit_spike(counts)
        peak = gmv._rate_at(theta, 0.5, 3600.0) / 2e-5
        assert peak == pytest.approx(cal.expected["peak_orders_per_second"], rel=0.005)
        assert math.exp(theta[1]) / 60 == pytest.approx(sc.behaviour.traffic.midnight_spike_decay_min, rel=0.01)


def test_cli_prints_the_claims_as_json_with_the_exact_keys(small_dataset: Dataset) -> None:
    result = CliRunner().invoke(app, ["claims", str(small_dataset.path), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [*REPORT_IDS, *PRESS_IDS]
    for row in rows:
        assert tuple(row)[: len(JSON_KEYS)] == JSON_KEYS
        assert isinstance(row["holds"], bool) and row["kind"] in ("report", "press")
    table = CliRunner().invoke(app, ["claims", str(small_dataset.path), "-c", "gmv_usd", "-c", "chatbot_share"])
    assert table.exit_code == 0 and "gmv_usd" in table.stdout and "ai_banners" not in table.stdout


def test_cli_and_api_refuse_bad_input_and_damaged_data(tmp_path: Path, small_dataset: Dataset) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["claims", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such dataset folder" in missing.output
    unknown = runner.invoke(app, ["claims", str(small_dataset.path), "-c", "gmv_eur"])
    assert unknown.exit_code == 2 and "gmv_eur" in unknown.output
    with pytest.raises(ValueError, match="targets"):
        evaluate(small_dataset, ["gmv_usd"], targets={"gmv_eur": 1.0})
    with pytest.raises(ValueError, match="positive"):
        evaluate(small_dataset, ["gmv_usd"], targets={"gmv_usd": float("nan")})
    with pytest.raises(ValueError, match="conversion_reading"):
        evaluate(small_dataset, ["gmv_usd"], conversion_reading="per_page")

    out = tmp_path / "tiny"
    generate("singles_day_2017", scale=TINY, seed=1, out=out, workers=1)
    victim = out / open_dataset(out).files("orders")[0]["path"]
    victim.write_bytes(victim.read_bytes()[:-100])  # truncated
    damaged = runner.invoke(app, ["claims", str(out)])
    assert damaged.exit_code == 1 and victim.name in damaged.output
    with pytest.raises(DatasetError, match=victim.name):
        evaluate(out)


def test_plot_is_a_forest_of_every_claim(table) -> None:
    import matplotlib.pyplot as plt

    fig = table.plot()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == len(table) and labels[0].startswith("gmv_usd")
    plt.close(fig)
    frame = table.to_polars()
    assert frame.columns[: len(JSON_KEYS)] == list(JSON_KEYS) and frame.height == len(table)
    assert np.all(frame["ci_low"].to_numpy() <= frame["ci_high"].to_numpy())


@pytest.mark.notebook
def test_notebook_00_quickstart_runs_and_agrees_with_the_claims(small_dataset: Dataset, tmp_path: Path) -> None:
    from conftest import run_notebook

    params = {"dataset": str(small_dataset.path), "scale": 2e-5, "seed": 7, "build_dir": str(tmp_path)}
    executed = run_notebook("00_quickstart", params, tmp_path / "executed")
    results = json.loads((tmp_path / "results" / "00_quickstart.json").read_text())
    assert (tmp_path / "figures" / "quickstart_orders_per_hour.png").is_file()
    numbers = results["numbers"]
    assert numbers["quickstart_tables"]["value"] == len(small_dataset.tables)
    by_hand = evaluate(small_dataset, ["gmv_usd", "chatbot_share"])
    assert numbers["quickstart_gmv_by_hand_usd"]["value"] == pytest.approx(by_hand["gmv_usd"].reproduced)
    assert numbers["quickstart_bot_share_by_hand"]["value"] == pytest.approx(by_hand["chatbot_share"].reproduced)
    assert numbers["quickstart_report_claims_holding"]["value"] == len(REPORT_IDS)
    assert "The package agrees" in executed.read_text()
