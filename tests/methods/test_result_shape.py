"""One result shape: every estimator in ``newretail.methods`` is fitted on a small input and its result read two
ways, ``tidy()`` (a polars frame with exactly :data:`TIDY_COLUMNS`) and ``summary()`` (a printed table, a ``str``,
showing each estimate), with the same field names (``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value``,
``n``) wherever a result holds one estimate.

Each public name of ``newretail.methods`` is either an estimator with a recipe below or listed in
``NOT_AN_ESTIMATE`` with the reason, so a new estimator without a recipe fails here. Results whose class does not
mix in :class:`~newretail.methods._results.Tidy` and say their terms fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest

import newretail.methods as methods
from newretail.methods import TIDY_COLUMNS
from newretail.methods._results import Tidy
from newretail.methods.bursts import burst_rate
from newretail.methods.resampling import multiway_interval, ratio_interval, total_interval

NOT_AN_ESTIMATE = {
    "TIDY_COLUMNS": "the column names themselves",
    "MAX_OCCUPANCY": "a number: the default ceiling on agents' occupancy in ErlangC.agents",
    "MethodInputError": "an exception",
    "CrossFit": "out-of-fold predictions per row, not an estimate",
    "LightGBMSettings": "hyperparameters",
    "Overlap": "diagnostics carried by an Effect",
    "ProbabilityModel": "a learner: predictions per row",
    "PropensityModel": "a learner: predictions per row",
    "TLearner": "a learner: individual effects per row",
    "XLearner": "a learner: individual effects per row",
    "cross_fit": "returns a CrossFit",
    "ErlangC": "a queue model: staffing numbers, no estimate or interval",
    "poisson_interval": "returns (low, high) numbers or arrays",
    "proportion_interval": "returns (value, low, high) numbers or arrays",
    "quantile_interval": "returns (value, low, high) numbers",
    "ratio_interval": "returns (ratio, low, high) numbers or arrays",
    "Effect": "a result (checked through average_effect and aipw_effect)",
    "Estimate": "a result (checked through the resampling intervals)",
    "SyntheticControlSummary": "a result (checked through SyntheticControl)",
    "AucComparison": "a result (checked through compare_auc)",
    "BurstFit": "a result (checked through fit_burst)",
    "DecayFit": "a result (checked through decay_fit)",
    "delta_log_interval": "returns (value, low, high) numbers",
    "mantel_haenszel_odds_ratio": "returns (odds ratio, low, high) numbers",
    "normal_quantile": "a quantile of the normal distribution, no estimate",
    "ratio_test_power": "a planned test's power, no estimate",
    "ratio_test_size": "a planned test's size, no estimate",
}


def _effect_frame(n: int = 300, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.random(n) < 1 / (1 + np.exp(-x))
    return pl.DataFrame({"y": x + 0.5 * t + rng.normal(size=n), "t": t, "x": x, "g": np.arange(n) // 3})


def _panel(units: int = 12, periods: int = 8, seed: int = 1) -> pl.DataFrame:
    """Units 0-2 treated from period 5 (effect 2), the rest never; unit and time effects."""
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)
    treated = (unit < 3) & (time >= 5)
    y = rng.normal(size=units)[unit] + 0.3 * time + 2.0 * treated + rng.normal(0, 0.5, unit.size)
    return pl.DataFrame({"unit": unit, "time": time, "y": y, "d": treated})


def _staggered(units: int = 30, periods: int = 10, seed: int = 2) -> pl.DataFrame:
    """Three cohorts (first treated in period 4, 6, never), absorbing treatment, effect 1."""
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)
    start = np.where(unit % 3 == 0, 4, np.where(unit % 3 == 1, 6, periods + 1))[unit]
    treated = time >= start
    y = rng.normal(size=units)[unit] + 0.2 * time + 1.0 * treated + rng.normal(0, 0.3, unit.size)
    return pl.DataFrame({"unit": unit, "time": time, "y": y, "d": treated})


def _resampling() -> list[Any]:
    rng = np.random.default_rng(3)
    num, den = rng.poisson(50, 100).astype(float), rng.poisson(400, 100).astype(float)
    clustered = multiway_interval(
        {"user": {"num": num, "den": den}}, lambda num, den: num / den, iid={"num": num, "den": den}, log=True
    )
    return [total_interval(num), ratio_interval(num, den), clustered.estimate]


RECIPES: dict[str, Callable[[], list[Any]]] = {
    "average_effect": lambda: [
        methods.average_effect(_effect_frame(), outcome="y", treatment="t", covariates=["x"], n_estimators=20),
        methods.average_effect(
            _effect_frame(), outcome="y", treatment="t", covariates=["x"], n_estimators=20, estimand="att", cluster="g"
        ),
    ],
    "aipw_effect": lambda: [
        methods.aipw_effect(np.arange(8.0), np.arange(8) % 2, np.full(8, 0.5), np.zeros(8), np.ones(8))[0]
    ],
    "SyntheticControl": lambda: [
        methods.SyntheticControl("unit", "time", "y", 0, 5, placebos=4).fit(_panel()).summary()
    ],
    "DiD": lambda: [methods.DiD("unit", "time", "y", "d").fit(_panel()).summary()],
    "EventStudy": lambda: [methods.EventStudy("unit", "time", "y", "d").fit(_panel()).summary()],
    "StaggeredDiD": lambda: [methods.StaggeredDiD("unit", "time", "y", "d").fit(_staggered()).att_],
    "resampling": _resampling,
    "difference_in_means": lambda: [
        methods.difference_in_means(_effect_frame(), outcome="y", treatment="t", cluster="g"),
        methods.difference_in_means(_effect_frame(), outcome="y", treatment="t"),
    ],
    "compare_auc": lambda: [
        methods.compare_auc(np.arange(40) % 3 == 0, np.arange(40.0) % 5, (np.arange(40) % 3 == 0) + np.arange(40) / 80)
    ],
    "decay_fit": lambda: [
        methods.decay_fit(
            [30, 20, 15, 60, 40, 31, 28],
            [1000] * 7,
            strata=[0, 0, 0, 1, 1, 1, 1],
            treated=[1, 1, 1, 1, 1, 0, 0],
            repeat=[0, 1, 2, 0, 1, 0, 1],
        )
    ],
    "fit_burst": lambda: [methods.fit_burst(np.random.default_rng(0).poisson(5 + 40 * np.exp(-np.arange(600) / 60)))],
}


def test_every_public_name_is_an_estimator_with_a_recipe_or_said_not_to_be_one() -> None:
    missing = [name for name in methods.__all__ if name not in RECIPES and name not in NOT_AN_ESTIMATE]
    assert not missing, f"add a recipe (or a reason) for {missing}"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_results_read_as_a_tidy_frame_and_a_printed_summary(name: str) -> None:
    for result in RECIPES[name]():
        assert isinstance(result, Tidy), f"{type(result).__name__} does not mix in Tidy"
        assert "_terms" in {k for c in type(result).__mro__[:-2] for k in vars(c)}, type(result).__name__
        frame = result.tidy()
        assert isinstance(frame, pl.DataFrame) and tuple(frame.columns) == TIDY_COLUMNS
        assert frame.height >= 1 and frame["design"].n_unique() == 1
        assert frame.to_pandas().shape == frame.shape
        text = result.summary()
        assert isinstance(text, str)
        for value in frame["estimate"]:
            assert f"{value:.4g}" in text, (value, text)
        if frame.height == 1:
            row = frame.row(0, named=True)
            for field in ("estimate", "se", "ci_low", "ci_high", "p_value", "n"):
                ours, theirs = getattr(result, field), row[field]
                assert ours == theirs or (np.isnan(ours) and np.isnan(theirs)), (field, ours, theirs)


def test_old_names_still_read() -> None:
    """``Effect.value`` and ``Estimate.value`` stay aliases of ``estimate``; ``SyntheticControl.effect_`` stays."""
    effect = RECIPES["average_effect"]()[0]
    estimate = _resampling()[0]
    assert effect.value == effect.estimate and estimate.value == estimate.estimate
    sc = methods.SyntheticControl("unit", "time", "y", 0, 5, placebos=4).fit(_panel())
    assert sc.effect_ == sc.summary().estimate == sc.tidy()["estimate"][0]


# --- every term carries the result's own numbers -------------------------------------------------------------------
#
# For each result type the rows its tidy()/summary() must show are written out below from the attributes the rows
# describe (or from a peer or a closed form), never from the result's own ``_terms``. Fitted once per module.

NAN = float("nan")
FIELDS = ("estimate", "se", "ci_low", "ci_high", "p_value", "n")


def _panel_with_covariate() -> pl.DataFrame:
    """``_panel`` with a covariate ``x`` that moves the outcome by 0.7 per unit."""
    frame = _panel()
    x = np.random.default_rng(5).normal(size=frame.height)
    return frame.with_columns(x=x, y=frame["y"] + 0.7 * x)


def _synth_panel(units: int = 20, periods: int = 12, seed: int = 4) -> pl.DataFrame:
    """Unit 0 treated from period 8 (effect 3); every unit a factor model, so the donors can rebuild it."""
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)
    load, factor = rng.uniform(0.5, 1.5, units), rng.normal(size=periods).cumsum()
    y = 10 + load[unit] * factor[time] + rng.normal(0, 0.2, unit.size) + 3.0 * ((unit == 0) & (time >= 8))
    return pl.DataFrame({"unit": unit, "time": time, "y": y})


class Fits:
    """The fitted estimators behind the results (their attributes are the reference numbers)."""

    def __init__(self) -> None:
        self.did = methods.DiD("unit", "time", "y", "d", covariates=["x"]).fit(_panel_with_covariate())
        self.event = methods.EventStudy("unit", "time", "y", "d").fit(_panel())
        self.staggered = methods.StaggeredDiD("unit", "time", "y", "d").fit(_staggered())
        self.synth = methods.SyntheticControl("unit", "time", "y", 0, 8, alpha=0.1).fit(_synth_panel())
        rng = np.random.default_rng(6)  # neither AUC perfect, so each has its own interval
        self.auc_y = rng.random(60) < 0.4
        self.auc_score = self.auc_y + rng.normal(0, 1.5, 60)
        self.auc_reference = self.auc_y + rng.normal(0, 0.6, 60)
        self.burst_counts = np.random.default_rng(0).poisson(5 + 40 * np.exp(-np.arange(600) / 60))
        self.results: dict[str, list[Any]] = {
            "DiD": [self.did.summary()],
            "EventStudy": [self.event.summary()],
            "StaggeredDiD": [self.staggered.summary(), self.staggered.att_],
            "SyntheticControl": [self.synth.summary()],
            "compare_auc": [methods.compare_auc(self.auc_y, self.auc_score, self.auc_reference)],
            "fit_burst": [methods.fit_burst(self.burst_counts)],
        }
        for name in ("average_effect", "aipw_effect", "resampling", "difference_in_means", "decay_fit"):
            self.results[name] = RECIPES[name]()


@pytest.fixture(scope="module")
def fits() -> Fits:
    return Fits()


def _normal_p(estimate: float, se: float) -> float:
    from scipy import stats

    return float(2 * stats.norm.sf(abs(estimate) / se)) if se > 0 else NAN


def _row(
    term: str, estimate: float, se: float = NAN, low: float = NAN, high: float = NAN, p: float = NAN, n: int = 0
) -> dict[str, Any]:
    return {"term": term, "estimate": estimate, "se": se, "ci_low": low, "ci_high": high, "p_value": p, "n": n}


def _expected_rows(result: Any, fits: Fits) -> list[dict[str, Any]]:
    """The rows ``result`` must show, from the attributes they describe."""
    from newretail.methods._panel_summaries import DiDSummary, EventStudySummary
    from newretail.methods.staggered import StaggeredSummary

    r = result
    if isinstance(r, methods.Effect):  # p: the two-sided normal test of estimate / se the docstring states
        return [_row(r.name, r.estimate, r.se, r.ci_low, r.ci_high, _normal_p(r.estimate, r.se), r.n)]
    if isinstance(r, methods.Estimate):
        return [_row(r.name, r.value, r.se, r.ci_low, r.ci_high, r.p_value, r.n)]
    if isinstance(r, methods.AucComparison):
        return [
            _row("AUC", r.auc, NAN, r.auc_ci_low, r.auc_ci_high, NAN, r.n),
            _row("reference AUC", r.reference_auc, NAN, r.reference_ci_low, r.reference_ci_high, NAN, r.n),
            _row("reference minus score", r.gap, NAN, r.gap_ci_low, r.gap_ci_high, NAN, r.n),
        ]
    if isinstance(r, methods.DecayFit):
        return [
            _row("decay", r.decay, NAN, r.ci_low, r.ci_high, NAN, r.n),
            _row("effect at first exposure", r.effect, n=r.n),
        ]
    if isinstance(r, methods.BurstFit):
        peak = r.interval(lambda th: burst_rate(th, 0.5, window_s=float(r.window_s)))
        tau = r.interval(lambda th: float(np.exp(th[1])))
        return [
            _row("peak rate, per s", peak[0], NAN, *peak[1:], NAN, round(r.n)),
            _row("decay time, s", tau[0], NAN, *tau[1:], NAN, round(r.n)),
        ]
    if isinstance(r, DiDSummary):
        own = _row(r.treated, r.effect, r.se, r.ci_low, r.ci_high, r.p_value, r.n_obs)
        coefs = fits.did.coefs_.filter(pl.col("term") != r.treated)  # the estimator's covariate table
        return [own] + [
            _row(c["term"], c["estimate"], c["se"], c["ci_low"], c["ci_high"], c["p_value"], r.n_obs)
            for c in coefs.iter_rows(named=True)
        ]
    if isinstance(r, EventStudySummary):
        rows = []
        for c in r.coefs.iter_rows(named=True):
            if c["event_time"] == r.reference:
                rows.append(_row(f"event_time {r.reference} (reference)", 0.0, n=c["n"]))
            else:
                rows.append(_row(f"event_time {c['event_time']}", *(c[f] for f in FIELDS)))
        return rows
    if isinstance(r, StaggeredSummary):
        a = r.att
        rows = [_row("ATT", a.estimate, a.se, a.ci_low, a.ci_high, _normal_p(a.estimate, a.se), a.n)]
        for key, frame in (("event_time", r.event), ("cohort", r.group)):
            for c in frame.iter_rows(named=True):
                p = _normal_p(c["estimate"], c["se"])
                rows.append(_row(f"{key} {c[key]}", c["estimate"], c["se"], c["ci_low"], c["ci_high"], p, c["n"]))
        return rows
    if isinstance(r, methods.SyntheticControlSummary):
        name = f"effect on {r.outcome} from {r.treatment_time}"
        return [_row(name, r.effect, NAN, r.ci[0], r.ci[1], r.p_value, r.units)]
    raise AssertionError(f"no expected rows written for {type(r).__name__}: add them here")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)
    return a == b


CASES = [
    ("average_effect", 0), ("average_effect", 1), ("aipw_effect", 0), ("SyntheticControl", 0), ("DiD", 0),
    ("EventStudy", 0), ("StaggeredDiD", 0), ("StaggeredDiD", 1), ("resampling", 0), ("resampling", 1),
    ("resampling", 2), ("difference_in_means", 0), ("difference_in_means", 1), ("compare_auc", 0), ("decay_fit", 0),
    ("fit_burst", 0),
]  # fmt: skip


def test_the_cases_cover_every_recipe() -> None:
    assert {name for name, _ in CASES} == set(RECIPES)


@pytest.mark.parametrize(("name", "i"), CASES)
def test_each_tidy_row_carries_the_results_own_numbers(fits: Fits, name: str, i: int) -> None:
    result = fits.results[name][i]
    expected = _expected_rows(result, fits)
    rows = list(result.tidy().iter_rows(named=True))
    assert [r["term"] for r in rows] == [e["term"] for e in expected]
    for row, want in zip(rows, expected, strict=True):
        for field in FIELDS:
            assert _same(row[field], want[field]), (row["term"], field, row[field], want[field])
    assert all(isinstance(r["term"], str) and r["term"].strip() for r in rows), "a term without a name"
    assert len({r["term"] for r in rows}) == len(rows), "two terms share a name"


def _summary_cells(text: str) -> list[dict[str, str]]:
    """The summary's table read back by its column rule (the dashes line), blank cells kept blank."""
    lines = text.splitlines()
    spans, start = [], 0
    for dashes in lines[1].split("  "):
        spans.append((start, start + len(dashes)))
        start += len(dashes) + 2
    header = [lines[0][a:b].strip() for a, b in spans]
    assert header == ["term", *FIELDS]
    assert lines[-1].startswith("design: ")
    return [{h: line[a:b].strip() for h, (a, b) in zip(header, spans, strict=True)} for line in lines[2:-1]]


@pytest.mark.parametrize(("name", "i"), CASES)
def test_the_printed_summary_shows_each_terms_numbers(fits: Fits, name: str, i: int) -> None:
    result = fits.results[name][i]
    expected = _expected_rows(result, fits)
    cells = _summary_cells(result.summary())
    assert [c["term"] for c in cells] == [e["term"] for e in expected]
    for cell, want in zip(cells, expected, strict=True):
        assert int(cell["n"].replace(",", "")) == want["n"]
        for field in FIELDS[:-1]:
            value = want[field]
            if math.isnan(value):
                assert cell[field] == "", (cell["term"], field, cell[field])
            else:  # four significant digits
                assert float(cell[field]) == pytest.approx(value, rel=5e-4, abs=1e-300), (cell["term"], field)
    assert result.summary().splitlines()[-1] == f"design: {result.tidy()['design'][0]}"


def test_normal_results_have_normal_intervals_and_p_values(fits: Fits) -> None:
    """Effect (and each StaggeredDiD row) states a normal interval and the two-sided normal test of estimate/se:
    ci = estimate -+ z se, p = 2 sf(|estimate| / se), z the 97.5% normal quantile (scipy)."""
    from scipy import stats

    z = stats.norm.ppf(0.975)
    names = ("average_effect", "aipw_effect", "difference_in_means", "StaggeredDiD")
    rows = [r for name in names for x in fits.results[name] for r in x.tidy().iter_rows(named=True)]
    assert len(rows) > 5
    for r in rows:
        assert r["ci_low"] == pytest.approx(r["estimate"] - z * r["se"], rel=1e-9), r["term"]
        assert r["ci_high"] == pytest.approx(r["estimate"] + z * r["se"], rel=1e-9), r["term"]
        assert r["p_value"] == pytest.approx(2 * stats.norm.sf(abs(r["estimate"] / r["se"])), rel=1e-9), r["term"]
    att = fits.staggered.summary().tidy().row(0, named=True)
    assert att["term"] == "ATT" and att["se"] == fits.staggered.att_.se and att["n"] == fits.staggered.att_.n


def test_panel_results_state_a_t_test_on_clusters_minus_one_degrees_of_freedom(fits: Fits) -> None:
    """DiD and EventStudy (CRV1 by unit): ci = estimate -+ t(G-1) se and p = 2 t_sf(|estimate/se|, G-1), G the
    clusters; the reference bin of the event study shows no error."""
    from scipy import stats

    for fit in (fits.did, fits.event):
        dof = fit.n_clusters_ - 1
        assert fit.n_clusters_ == 12
        q = stats.t.ppf(1 - fit.alpha / 2, dof)
        for r in fit.tidy().iter_rows(named=True):
            if "(reference)" in r["term"]:
                assert r["estimate"] == 0 and all(math.isnan(r[f]) for f in ("se", "ci_low", "ci_high", "p_value"))
                continue
            assert r["se"] > 0, r["term"]
            assert r["ci_low"] == pytest.approx(r["estimate"] - q * r["se"], rel=1e-9), r["term"]
            assert r["ci_high"] == pytest.approx(r["estimate"] + q * r["se"], rel=1e-9), r["term"]
            assert r["p_value"] == pytest.approx(2 * stats.t.sf(abs(r["estimate"] / r["se"]), dof), rel=1e-9)


def test_did_rows_are_the_treatment_then_each_covariate(fits: Fits) -> None:
    """The covariate's row is its own coefficient (near the 0.7 built in), not the treatment's, with its own se,
    interval and p, and the rows the fit used."""
    rows = fits.did.tidy()
    assert rows["term"].to_list() == ["d", "x"]
    x = rows.row(1, named=True)
    assert x["estimate"] == pytest.approx(0.7, abs=0.3) and x["ci_low"] < x["estimate"] < x["ci_high"]
    assert x["p_value"] < 1e-3 and x["n"] == fits.did.n_obs_ == 96
    assert rows.row(0, named=True)["estimate"] == pytest.approx(2.0, abs=1.0)


def test_auc_rows_agree_with_scikit_learn(fits: Fits) -> None:
    """Each AUC row's estimate is scikit-learn's roc_auc_score of its score; the gap is their difference; each
    interval is a normal one, symmetric about its own estimate; n the rows."""
    from sklearn.metrics import roc_auc_score

    rows = fits.results["compare_auc"][0].tidy()
    own, ref = roc_auc_score(fits.auc_y, fits.auc_score), roc_auc_score(fits.auc_y, fits.auc_reference)
    assert rows["estimate"].to_list() == pytest.approx([own, ref, ref - own], rel=1e-12)
    assert ref > own  # the two intervals are different numbers, so a swapped interval shows
    for r in rows.iter_rows(named=True):
        assert r["ci_low"] < r["estimate"] < r["ci_high"] and r["n"] == 60, r
        assert r["estimate"] - r["ci_low"] == pytest.approx(r["ci_high"] - r["estimate"], rel=1e-9), r["term"]


def test_synthetic_control_row_matches_its_gap_table(fits: Fits) -> None:
    """From the gap table and the placebo paths (ADH): effect = mean post gap; gap = actual - synthetic; the ratio
    of post to pre RMSPE; p = (1 + placebos with a ratio at least the treated one's) / (placebos + 1); the interval
    the j-th largest absolute placebo effect either side, j = floor(alpha (placebos + 1))."""
    s = fits.synth.summary()
    g, t0 = s.gap, s.treatment_time
    assert g["gap"].to_numpy() == pytest.approx((g["actual"] - g["synthetic"]).to_numpy(), abs=1e-9)
    post, pre = g.filter(pl.col("time") >= t0)["gap"].to_numpy(), g.filter(pl.col("time") < t0)["gap"].to_numpy()
    rmspe = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    assert s.effect == pytest.approx(post.mean(), rel=1e-12) and s.effect == pytest.approx(3.0, abs=1.0)
    assert (s.pre_rmspe, s.post_rmspe) == pytest.approx((rmspe(pre), rmspe(post)), rel=1e-9)
    ratios, effects = [], []
    for _, p in s.placebo_gaps.group_by("unit", maintain_order=True):
        gp, tp = p["gap"].to_numpy(), p["time"].to_numpy()
        ratios.append(rmspe(gp[tp >= t0]) / rmspe(gp[tp < t0]))
        effects.append(gp[tp >= t0].mean())
    assert len(ratios) == 19
    rank = 1 + sum(r >= s.rmspe_ratio for r in ratios)
    half = sorted(np.abs(effects), reverse=True)[int(np.floor(0.1 * 20)) - 1]
    row = s.tidy().row(0, named=True)
    assert row["p_value"] == pytest.approx(rank / 20) and s.placebo_rank == rank
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((s.effect - half, s.effect + half), rel=1e-9)
    assert row["n"] == 20 and math.isnan(row["se"])


def test_burst_and_decay_rows_rest_on_what_was_counted(fits: Fits) -> None:
    """A burst's n is the events counted, its decay time the fitted e-folding time; a decay fit's n the trials."""
    burst = fits.results["fit_burst"][0]
    rows = burst.tidy()
    assert rows["n"].to_list() == [int(fits.burst_counts.sum())] * 2
    assert rows["estimate"].to_list() == pytest.approx([burst.rate(0.5), burst.tau_s], rel=1e-9)
    assert burst.tau_s == pytest.approx(60, rel=0.3) and burst.rate(0.5) == pytest.approx(45, rel=0.2)
    decay = fits.results["decay_fit"][0].tidy()
    assert decay["n"].to_list() == [7000, 7000]
