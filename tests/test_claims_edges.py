"""Edges of the claims' documented behaviours that the rest of the suite does not state (issue 30), on the small test
dataset: each test compares with a reference built in the test (the manifest read as JSON, the orders read with
polars and scipy's order-statistic interval, ``references.toml`` read with tomllib). Each docstring ends with the
wrong edit of the code it was shown to fail on, by hand, before it was kept."""

from __future__ import annotations

import json
import math
import tomllib
from importlib import resources

import numpy as np
import polars as pl
import pytest
from scipy import stats

from newretail.claims import evaluate
from newretail.claims.ledger import FAR, NO_REFERENCE
from newretail.tables import Dataset

DELIVERY = ("hema", "sanjiang")


def test_the_table_carries_the_scale_and_seed_of_the_manifest(small_dataset: Dataset) -> None:
    """``ClaimsTable.scale``/``seed`` are the manifest's (read here as plain JSON), not the full scale. Fails if the
    table is stamped with the full scale (``scale=1.0``)."""
    manifest = json.loads((small_dataset.path / "manifest.json").read_text(encoding="utf-8"))
    table = evaluate(small_dataset, ids=["sanjiang_pilot_stores"], check_files=False)
    assert table.scale == float(manifest["scale"]) and table.scale < 1e-3
    assert table.seed == int(manifest["seed"])


def _minutes(ds: Dataset, kind: str, radius_km: float) -> np.ndarray:
    """Delivery minutes of store orders within ``radius_km`` of a Hema (or a pilot) store, read here with polars."""
    stores = ds.read("stores")
    chosen = stores.filter(pl.col("store_type") == "hema") if kind == "hema" else stores.filter(pl.col("pilot"))
    orders = ds.read("orders").filter((pl.col("channel") == "store") & (pl.col("distance_km") <= radius_km))
    return orders.join(chosen.select("store_id"), on="store_id", how="semi")["delivery_min"].to_numpy()


def test_the_delivery_claims_measure_the_scenarios_promise_and_radius(small_dataset: Dataset) -> None:
    """Each delivery claim's target is its own promise from the dataset's scenario, its value and interval are the
    95th percentile of the orders within the scenario's radius with scipy's order-statistic interval, and its share
    within the promise is counted at that promise (``<=``). Fails if the pilot stores are measured against Hema's
    promise (``d.targets["hema_delivery_minutes"]``)."""
    targets = small_dataset.scenario.targets
    table = evaluate(small_dataset, ids=[f"{k}_delivery_minutes" for k in DELIVERY], check_files=False)
    promises = {"hema": targets.hema_delivery_minutes, "sanjiang": targets.sanjiang_delivery_minutes}
    assert promises["hema"] != promises["sanjiang"]  # the case the test is about: two different promises
    for kind in DELIVERY:
        row, minutes = table[f"{kind}_delivery_minutes"], _minutes(small_dataset, kind, targets.hema_radius_km)
        assert row.target == promises[kind]
        assert f"within {promises[kind]:g} minutes" in row.statement
        assert f"within {targets.hema_radius_km:g} km" in row.statement
        ci = stats.quantile_test(minutes, q=float(np.quantile(minutes, 0.95)), p=0.95).confidence_interval(0.95)
        assert (row.reproduced, row.ci_low, row.ci_high) == pytest.approx(
            (np.quantile(minutes, 0.95), ci.low, ci.high), rel=1e-12
        )
        assert row.details["orders"] == minutes.size
        assert row.details["share_within_promise"] == pytest.approx(np.mean(minutes <= promises[kind]), rel=1e-12)


def test_a_promise_given_as_a_target_is_the_one_measured_and_judged(small_dataset: Dataset) -> None:
    """``targets=`` changes the promise the claim counts and judges (the scenario's radius kept). At a promise equal
    to an observed delivery time the share counts it (``<=``); a promise inside the interval holds exactly (the
    interval does not lie wholly above it), one far under the interval does not hold, one far over it does. Fails
    if the at-most judge reads the interval's top (``high <= target``), or counts the share with ``<``."""
    radius = small_dataset.scenario.targets.hema_radius_km
    minutes = _minutes(small_dataset, "hema", radius)
    observed = float(np.median(minutes))
    assert np.sum(minutes == observed) > 0
    q95 = float(np.quantile(minutes, 0.95))
    ci = stats.quantile_test(minutes, q=q95, p=0.95).confidence_interval(0.95)
    assert ci.low < ci.high
    middle = round((ci.low + ci.high) / 2, 3)
    cases = {observed: None, middle: True, ci.low / 2: False, ci.high * 2: True}
    for promise, exact in cases.items():
        row = evaluate(
            small_dataset, ids=["hema_delivery_minutes"], targets={"hema_delivery_minutes": promise}, check_files=False
        )["hema_delivery_minutes"]
        assert row.target == promise
        assert row.details["share_within_promise"] == pytest.approx(np.mean(minutes <= promise), rel=1e-12)
        if exact is not None:
            assert row.holds_exact is exact and row.holds is exact


def _reference_rows() -> list[dict[str, object]]:
    text = (resources.files("newretail") / "claims" / "references.toml").read_text(encoding="utf-8")
    return list(tomllib.loads(text)["reference"])


def _verdict(value: float, low: float, high: float) -> str:
    """The documented rule: within the range, outside it, or more than FAR times beyond it (implausible)."""
    if low <= value <= high:
        return "within"
    factor = value / high if value > high else low / value
    return "implausible" if factor > FAR else "outside"


def test_implied_assumptions_carry_their_reference_range_or_say_there_is_none(small_dataset: Dataset) -> None:
    """Every implied assumption either has no reference (bounds null in the JSON, "no public reference found" as
    source and verdict) or carries one ``[[reference]]`` of ``references.toml`` (read here) with the documented
    verdict; the 2016 GMV and the pages per visit are judged against the shipped ``gmv_2016_usd`` and
    ``pages_per_visit`` ranges. Fails if the range is looked up by the parameter's name instead of its reference
    key, if an entry without a reference is given a verdict of "within", or if a value above its range is measured
    against the range's bottom (``value / low``)."""
    table = evaluate(
        small_dataset, ids=["ai_banner_ctr_ratio", "gmv_yoy_growth", "personalized_pages"], check_files=False
    )
    refs = {str(r["parameter"]): r for r in _reference_rows()}
    by_source = {(float(r["low"]), float(r["high"]), r["source"]): r for r in refs.values()}  # type: ignore[arg-type]
    seen = {"none": 0, "ref": 0}
    for row in json.loads(table.to_json()):
        for entry in row["implied"]:
            if entry["verdict"] == NO_REFERENCE:
                assert entry["reference_low"] is None and entry["reference_high"] is None
                assert entry["source"] == NO_REFERENCE
                seen["none"] += 1
                continue
            key = (entry["reference_low"], entry["reference_high"], entry["source"])
            assert key in by_source, entry["parameter"]
            assert math.isfinite(entry["value"])
            assert entry["verdict"] == _verdict(entry["value"], entry["reference_low"], entry["reference_high"])
            seen["ref"] += 1
    assert seen["none"] >= 2 and seen["ref"] >= 3  # both kinds occur
    implied = {e["parameter"]: e for r in json.loads(table.to_json()) for e in r["implied"]}
    for parameter, reference in (("gmv_2016", "gmv_2016_usd"), ("pages_per_personalized_visit", "pages_per_visit")):
        assert implied[parameter]["source"] == refs[reference]["source"]
        assert implied[parameter]["reference_low"] == refs[reference]["low"]


def test_the_table_names_its_dataset_and_scenario(small_dataset: Dataset) -> None:
    """The table says which folder and which scenario it was computed on: the path given and the manifest's scenario
    name. Fails if either is left empty or taken from elsewhere."""
    manifest = json.loads((small_dataset.path / "manifest.json").read_text(encoding="utf-8"))
    table = evaluate(small_dataset, ids=["sanjiang_pilot_stores"], check_files=False)
    assert table.dataset == str(small_dataset.path)
    assert table.scenario == manifest["scenario"]["name"] == small_dataset.scenario.name


def test_a_claim_without_its_own_words_is_named_by_its_id_with_spaces() -> None:
    """A figure with no ``label`` reads as its id with spaces (never as an identifier); a given label is kept.
    Fails if the id is kept with its underscores or the label is replaced."""
    from newretail.claims.registry import REGISTRY, Claim

    base = REGISTRY["gmv_usd"]
    fields = {f: getattr(base, f) for f in ("kind", "statement", "source", "definition", "unit", "measure", "estimate")}
    assert Claim(id="some_new_figure", **fields).label == "some new figure"
    assert Claim(id="some_new_figure", label="a figure in words", **fields).label == "a figure in words"


def test_a_claims_estimate_is_read_from_the_named_field_of_its_result() -> None:
    """Claims whose analysis returns a result object read their estimate from the attribute the registry names.
    Fails if the attribute is not read from the result."""
    from types import SimpleNamespace

    from newretail.claims.registry import _field

    result = SimpleNamespace(estimate="the estimate", peak_orders_per_second="the peak")
    assert _field("estimate")(result) == "the estimate"
    assert _field("peak_orders_per_second")(result) == "the peak"
    with pytest.raises(AttributeError):
        _field("missing")(result)


def test_the_ledger_counts_rows_without_kind_or_evidence_as_report_figures_from_data() -> None:
    """``ledger_summary`` reads a row without ``kind`` as a report figure and one without ``evidence`` as recreated
    from data (the JSON of an older table). Counted here by hand. Fails if a missing key excludes the row."""
    from newretail.claims.ledger import ledger_summary

    rows = [
        {"id": "a", "holds": True},
        {"id": "b", "holds": False, "kind": "report"},
        {"id": "c", "holds": True, "kind": "report", "evidence": "construction"},
        {"id": "d", "holds": True, "kind": "press"},
        {"id": "e", "holds": True, "kind": "report", "evidence": "data"},
    ]
    summary = ledger_summary(rows)
    assert summary["report_figures"] == 4  # a, b, c, e
    assert summary["data_figures"] == 3  # a, b, e
    assert summary["recreated_by_data"] == ["a", "e"]
    assert summary["not_recreated"] == ["b"]
    assert summary["construction"] == ["c"]


def test_the_bot_share_note_speaks_only_when_there_are_no_inquiries() -> None:
    """The bot share's note says "no inquiries" exactly when the share is undefined (NaN), and nothing otherwise.
    Fails if the note is given whatever the value."""
    from newretail.claims.metrics import share_note
    from newretail.methods import Estimate

    assert share_note(Estimate(0.95, 0.94, 0.96), None) == ("", {})  # type: ignore[arg-type]
    assert share_note(Estimate(math.nan, math.nan, math.nan), None)[0] == "no inquiries"  # type: ignore[arg-type]


def test_the_rmb_consistency_check_states_the_usd_figure_in_rmb(small_dataset: Dataset) -> None:
    """The RMB-vs-USD consistency entry converts the report's USD figure at the day's rate and states it, and the
    range of values that round to it, in RMB to four significant digits (here, in billions with one decimal),
    computed here from the scenario. Fails if the figures are formatted another way or left out."""
    sc = small_dataset.scenario
    fx, usd, rmb = sc.behaviour.traffic.fx_rmb_per_usd, sc.targets.gmv_usd, sc.press.gmv_rmb
    table = evaluate(small_dataset, ids=["sanjiang_pilot_stores"], check_files=False)
    entry = next(c for c in table.consistency if c.id == "gmv_rmb_vs_usd")
    low, high = (usd - 0.5e9) * fx, (usd + 0.5e9) * fx  # "USD 25 billion": the values that round to it
    assert f"RMB {usd * fx / 1e9:.1f} billion ({low / 1e9:.1f} billion to {high / 1e9:.1f} billion" in entry.why
    assert entry.holds == (low <= rmb <= high)


def test_under_the_rate_reading_the_pages_check_compares_the_datas_pages_per_visit(small_dataset: Dataset) -> None:
    """Read as a conversion rate per visit, the figures need at least so many pages per personalized visit; the check
    states that floor (computed here from the targets) and the pages per personalized visit the data have (the
    personalized-pages row's detail), and holds when the data reach the floor. Fails if the data's value is left
    out of the check."""
    t, press = small_dataset.scenario.targets, small_dataset.scenario.press
    floor = t.personalized_pages * t.personalized_page_conversion / press.payment_transactions
    table = evaluate(
        small_dataset, ids=["personalized_pages", "personalized_page_conversion"], conversion_reading="rate",
        check_files=False,
    )  # fmt: skip
    entry = next(c for c in table.consistency if c.id == "pages_per_visit")
    seen = table["personalized_pages"].details["pages_per_personalized_visit"]
    assert "; the data have " in entry.why
    assert entry.holds == (seen >= floor)
    low = evaluate(
        small_dataset, ids=["personalized_pages"], conversion_reading="rate",
        targets={"personalized_page_conversion": 0.9}, check_files=False,
    )  # fmt: skip
    floor_high = t.personalized_pages * 0.9 / press.payment_transactions
    assert floor_high > seen
    assert not next(c for c in low.consistency if c.id == "pages_per_visit").holds


def test_the_forest_plots_legend_shows_each_verdicts_colour_and_each_kinds_marker(small_dataset: Dataset) -> None:
    """The forest plot's legend has one line per verdict in its colour and one marker per kind of figure, matching
    the colours and markers drawn for the rows. Fails if the legend loses its handles, colours or markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    table = evaluate(small_dataset, ids=["gmv_usd", "peak_orders_per_second"], check_files=False)
    fig = table.plot()
    try:
        legend = fig.legends[0] if fig.legends else fig.axes[0].get_legend()
        assert legend is not None
        texts = [t.get_text() for t in legend.get_texts()]
        handles = dict(zip(texts, legend.legend_handles, strict=True))
        assert {"holds", "does not hold", "report figure", "press figure"} <= set(texts)
        assert to_hex(handles["holds"].get_color()) != to_hex(handles["does not hold"].get_color())
        assert handles["report figure"].get_marker() != handles["press figure"].get_marker()
        drawn = {(to_hex(line.get_color()), line.get_marker()) for line in fig.axes[0].get_lines()
                 if line.get_marker() not in (None, "None", "")}  # fmt: skip
        for row in table.rows:
            colour = to_hex(handles["holds" if row.holds else "does not hold"].get_color())
            assert (colour, handles[f"{row.kind} figure"].get_marker()) in drawn
    finally:
        plt.close(fig)
