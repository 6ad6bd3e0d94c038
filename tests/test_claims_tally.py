"""One implementation of each figure: the single pass and the per-partition partials run the same tallies
(:class:`newretail.tables.Tally`) and call the same finishing functions of the analyses; the claims hold no
interval maths of their own."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import newretail.analyses.gmv.totals as gmv_totals
import newretail.analyses.personalization.personalized as personalized
from newretail.claims.metrics import Context
from newretail.claims.partials import PARTIAL_IDS, PartialQuery, evaluate_partials, measures
from newretail.claims.registry import REGISTRY
from newretail.methods.resampling import GROUPS, Estimate
from newretail.tables import Dataset, Measure, Tally, group_arrays, group_key, tally

CLAIMS = Path(__file__).resolve().parents[1] / "newretail" / "claims"
INTERVALS = {
    "bootstrap_interval",
    "quantile_interval",
    "poisson_interval",
    "proportion_interval",
    "ratio_interval",
    "total_interval",
    "multiway_interval",
    "group_totals",
}


def _context(ds: Dataset, *, reading: str = "rate", iid: bool = False) -> Context:
    sc = ds.scenario
    targets = {k: float(v) for k, v in {**sc.targets.model_dump(), **sc.press.model_dump()}.items()}
    return Context(ds, targets, reading, sc.behaviour.chatbot.human_occupancy, iid=iid)


def _function(finish: Any) -> Any:
    return getattr(finish, "func", finish)  # a functools.partial's function


@pytest.mark.parametrize("module", ["metrics.py", "partials.py"])
def test_claims_call_no_interval_function(module: str) -> None:
    tree = ast.parse((CLAIMS / module).read_text())
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            called.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else "")
    assert not called & INTERVALS, sorted(called & INTERVALS)


def test_each_partial_claim_finishes_with_the_function_of_the_single_pass(
    small_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spy on Measure.run: the finishing function a claim's single pass calls is the object the partials plan
    calls for that claim."""
    used: list[Any] = []
    run = Measure.run

    def spy(self: Measure[Any], ds: Dataset, **kwargs: Any) -> Any:
        used.append(_function(self.finish))
        return run(self, ds, **kwargs)

    monkeypatch.setattr(Measure, "run", spy)
    plan = measures(small_dataset.scenario, conversion_reading="rate")
    assert tuple(plan) == PARTIAL_IDS
    for claim in PARTIAL_IDS:
        used.clear()
        REGISTRY[claim].compute(_context(small_dataset))
        assert used, f"{claim}: the single pass ran no analysis measure"
        assert _function(plan[claim][0].finish) is used[0], claim


@pytest.mark.parametrize(
    ("module", "name", "claim", "result"),
    [
        (gmv_totals, "finish_gmv", "gmv_usd", Estimate(1.0, 0.5, 2.0)),
        (
            personalized,
            "finish_pages",
            "personalized_pages",
            personalized.PersonalizedPages(Estimate(3.0, 2.0, 4.0), 1.0, 1.0),
        ),
    ],
)
def test_changing_an_analysis_finishing_function_changes_both_paths(
    small_dataset: Dataset, monkeypatch: pytest.MonkeyPatch, module: Any, name: str, claim: str, result: Any
) -> None:
    monkeypatch.setattr(module, name, lambda totals, **kwargs: result)
    expected = result if isinstance(result, Estimate) else result.estimate
    assert REGISTRY[claim].compute(_context(small_dataset)).estimate == expected
    assert evaluate_partials(small_dataset)[claim] == expected


def test_the_naive_intervals_are_garwood_and_katz_by_hand(small_dataset: Dataset) -> None:
    """Under iid the AI impressions get the exact Poisson (Garwood) interval of the sampled count, scaled by the
    weight, and the CTR ratio gets Katz's log interval; both computed here from the raw rows by statsmodels (its
    exact Poisson interval and its log interval of a ratio of two proportions), not by the package's formulas."""
    from statsmodels.stats.proportion import confint_proportions_2indep
    from statsmodels.stats.rates import confint_poisson

    rows = small_dataset.scan("banner_impressions", weights=True).collect()
    ai = rows["creative_source"] == "ai"
    n_ai, weight = int(ai.sum()), float(rows.filter(ai)["weight"].mean())
    low, high = confint_poisson(n_ai, 1, method="exact-c", alpha=0.05)
    got = REGISTRY["ai_banners"].compute(_context(small_dataset, iid=True)).estimate
    assert (got.value, got.ci_low, got.ci_high) == pytest.approx((n_ai * weight, low * weight, high * weight), rel=1e-9)

    k_ai, k_hu = int((ai & rows["clicked"]).sum()), int((~ai & rows["clicked"]).sum())
    n_hu = rows.height - n_ai
    low, high = confint_proportions_2indep(k_ai, n_ai, k_hu, n_hu, compare="ratio", method="log", alpha=0.05)
    got = REGISTRY["ai_banner_ctr_ratio"].compute(_context(small_dataset, iid=True)).estimate
    ratio = (k_ai / n_ai) / (k_hu / n_hu)
    assert (got.value, got.ci_low, got.ci_high) == pytest.approx((ratio, low, high), rel=1e-9)


def _frame() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    n = 500
    return pl.DataFrame(
        {
            "user_id": rng.integers(0, 1000, n),
            "x": rng.normal(size=n),
            "flag": rng.random(n) < 0.3,
            "weight": np.full(n, 4.0),
        }
    )


def test_a_tally_over_parts_equals_the_tally_over_the_whole_and_numpy() -> None:
    df = _frame()
    t = Tally(
        "orders",
        by=group_key(pl.col("user_id"), 10),
        sums=(("x", pl.col("x")), ("wf", pl.col("weight") * pl.col("flag"))),
    )
    parts = [t.on(df.slice(0, 123).lazy()).collect(), t.on(df.slice(123).lazy()).collect()]
    merged = group_arrays(t.combine(parts), ("x", "wf", "n"), 10)
    whole = group_arrays(t.combine([t.on(df.lazy()).collect()]), ("x", "wf", "n"), 10)
    g = df["user_id"].to_numpy() % 10
    x, flag = df["x"].to_numpy(), df["flag"].to_numpy()
    for k in range(10):
        assert merged["x"][k] == pytest.approx(x[g == k].sum(), rel=1e-12, abs=1e-12)
        assert merged["wf"][k] == 4.0 * flag[g == k].sum()
        assert merged["n"][k] == (g == k).sum()
        assert whole["x"][k] == pytest.approx(merged["x"][k], rel=1e-12, abs=1e-12)


def test_group_arrays_fill_empty_groups_with_zeros() -> None:
    frame = pl.DataFrame({"_group": [3], "s": [2.5]})
    arrays = group_arrays(frame, ("s",), 5)
    assert arrays["s"].tolist() == [0.0, 0.0, 0.0, 2.5, 0.0]


def test_the_tally_runner_runs_each_distinct_tally_once(small_dataset: Dataset) -> None:
    a = Tally("orders", sums=(("gmv", pl.col("gmv_usd") * pl.col("weight")),))
    b = Tally("orders", sums=(("gmv", pl.col("gmv_usd") * pl.col("weight")),))  # the same, built again
    assert a is not b and a.key == b.key
    cache: dict[Any, pl.DataFrame] = {}
    out = tally(small_dataset, [a, b], cache=cache)
    assert len(cache) == 1 and out[a] is out[b]
    direct = small_dataset.scan("orders", weights=True).select((pl.col("gmv_usd") * pl.col("weight")).sum()).collect()
    assert out[a]["gmv"][0] == pytest.approx(direct.item(), rel=1e-12)


def test_the_old_name_and_the_group_count_hold() -> None:
    from newretail.tables.tally import GROUPS as TALLY_GROUPS

    assert PartialQuery is Tally
    assert TALLY_GROUPS == GROUPS


def test_a_tally_refuses_an_empty_spec() -> None:
    with pytest.raises(ValueError, match="sums"):
        Tally("orders")
    with pytest.raises(ValueError, match="groups"):
        group_key(pl.col("user_id"), 1)
