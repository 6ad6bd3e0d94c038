"""StaggeredDiD (Callaway & Sant'Anna 2021) against its peer and against simulated truth.

The peer is csdid 0.4.3, a line-by-line Python port of the authors' R package ``did`` (its aggregation and influence
function code mirrors R's ``aggte``/``mboot``; chosen over pyfixest's did2s/lpdid, which estimate other
estimators, and over moderndid, which ships the data but is a newer re-implementation). The published example is
``mpdta`` (Callaway & Sant'Anna's minimum wage and teen employment: log employment of 500 US counties, 2003-2007;
shipped in the moderndid 0.2.0 wheel): R's vignette reports the overall ATT -0.0400 (``type="simple"``) and
-0.031 by cohort (``type="group"``). The simulation is pyfixest's ``df_het`` (did2s: heterogeneous, dynamic effects
with their true values ``te + te_dynamic`` in the file), where TWFE gives 1.983 against a true ATT of 2.220.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

from newretail.methods import DiD, Effect, MethodInputError, StaggeredDiD
from newretail.methods._results import TIDY_COLUMNS


def _file(package: str, path: str) -> str:
    return str(importlib.metadata.distribution(package).locate_file(path))


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    data = pd.read_pickle(_file("moderndid", "moderndid/core/datasets/mpdta_long.pkl.gz"))
    data["d"] = (data["first.treat"] > 0) & (data["year"] >= data["first.treat"])
    data["state"] = data["countyreal"] // 1000
    return data


@pytest.fixture(scope="module")
def df_het() -> pl.DataFrame:
    return pl.read_csv(_file("pyfixest", "pyfixest/did/data/df_het.csv"))


def _csdid(data: pd.DataFrame, control: str, **kwargs: object) -> object:
    from csdid.att_gt import ATTgt

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ATTgt(
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            data=data,
            control_group=[control],
            **kwargs,
        ).fit(est_method="reg", bstrap=False)
    return fit


def _aggregate(fit: object, kind: str) -> dict[str, object]:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fit.aggte(typec=kind, bstrap=False).atte  # type: ignore[attr-defined]
    return out if isinstance(out, dict) else vars(out)


def _agrees(ours: StaggeredDiD, peer: object) -> None:
    """Every ATT(g,t), the simple, dynamic and group aggregations and their analytic errors, to 1e-10."""
    cells = peer.results  # type: ignore[attr-defined]
    np.testing.assert_allclose(ours.att_gt_["estimate"].to_numpy(), np.asarray(cells["att"]), atol=1e-12)
    np.testing.assert_allclose(ours.att_gt_["se"].to_numpy(), np.asarray(cells["se"]).ravel(), rtol=1e-10)
    simple, dynamic, group = (_aggregate(peer, k) for k in ("simple", "dynamic", "group"))
    assert ours.att_simple_.estimate == pytest.approx(simple["overall_att"], abs=1e-12)
    assert ours.att_simple_.se == pytest.approx(simple["overall_se"], rel=1e-10)
    assert ours.att_.estimate == pytest.approx(group["overall_att"], abs=1e-12)
    assert ours.att_.se == pytest.approx(group["overall_se"], rel=1e-10)
    assert ours.att_dynamic_.estimate == pytest.approx(dynamic["overall_att"], abs=1e-12)
    np.testing.assert_allclose(ours.event_["estimate"].to_numpy(), np.asarray(dynamic["att_egt"], float), atol=1e-12)
    np.testing.assert_allclose(ours.event_["se"].to_numpy(), np.asarray(dynamic["se_egt"], float), rtol=1e-10)
    np.testing.assert_allclose(ours.group_["estimate"].to_numpy(), np.asarray(group["att_egt"], float), atol=1e-12)
    np.testing.assert_allclose(ours.group_["se"].to_numpy(), np.asarray(group["se_egt"], float), rtol=1e-10)


@pytest.mark.parametrize(("control", "peer_control"), [("never", "nevertreated"), ("not_yet", "notyettreated")])
def test_mpdta_equals_csdid_and_the_published_overall_effects(
    mpdta: pd.DataFrame, control: str, peer_control: str
) -> None:
    ours = StaggeredDiD("countyreal", "year", "lemp", "d", control=control).fit(mpdta)
    _agrees(ours, _csdid(mpdta, peer_control))
    assert ours.att_gt_.height == 12 and ours.n_units_ == 500
    if control == "never":  # the R vignette's numbers
        assert round(ours.att_simple_.estimate, 4) == -0.0400
        assert round(ours.att_.estimate, 3) == -0.031
        assert (
            ours.att_gt_.filter((pl.col("cohort") == 2004) & (pl.col("time") == 2006))["estimate"].round(4)[0]
            == -0.1373
        )


def test_mpdta_unbalanced_clustered_with_anticipation_equals_csdid(mpdta: pd.DataFrame) -> None:
    """Rows of 23 counties removed: both balance the panel by dropping those counties; errors clustered by state;
    one period of anticipation."""
    rng = np.random.default_rng(0)
    gone = rng.choice(len(mpdta), 23, replace=False)
    data = mpdta.drop(index=mpdta.index[gone]).reset_index(drop=True)
    missing = data["countyreal"].nunique() - (data.groupby("countyreal").size() == 5).sum()
    ours = StaggeredDiD("countyreal", "year", "lemp", "d", control="not_yet", cluster="state", anticipation=1).fit(data)
    assert ours.n_unbalanced_ == missing > 15
    _agrees(ours, _csdid(data, "notyettreated", clustervar="state", anticipation=1))


def test_equivalent_inputs_give_the_same_answer(mpdta: pd.DataFrame) -> None:
    base = StaggeredDiD("countyreal", "year", "lemp", "d").fit(mpdta)
    shuffled = pl.from_pandas(mpdta).sample(fraction=1.0, shuffle=True, seed=3).with_columns(pl.col("d").cast(pl.Int8))
    again = StaggeredDiD("countyreal", "year", "lemp", "d").fit(shuffled)
    assert again.att_gt_.equals(base.att_gt_) and again.event_.equals(base.event_) and again.att_ == base.att_


def test_df_het_covers_the_true_att_where_twfe_does_not(df_het: pl.DataFrame) -> None:
    """The simulation's true effects are in the file: the mean over treated rows of te + te_dynamic is 2.220 (what
    ``att_simple_`` estimates); per cohort then weighted by cohort size (``att_``), and per event time (``event_``).
    TWFE gives 1.983, pyfixest's number too, and its interval misses the truth."""
    frame = df_het.with_columns(effect=pl.col("te") + pl.col("te_dynamic"))
    treated = frame.filter(pl.col("treat"))
    true_simple = treated["effect"].mean()
    assert round(true_simple, 3) == 2.220  # type: ignore[arg-type]
    cohorts = treated.group_by("g").agg(pl.col("effect").mean(), pl.col("unit").n_unique())
    true_group = float((cohorts["effect"] * cohorts["unit"]).sum() / cohorts["unit"].sum())
    events = treated.with_columns(pl.col("rel_year").cast(pl.Int64)).group_by("rel_year").agg(pl.col("effect").mean())
    true_event = dict(events.iter_rows())
    twfe = DiD("unit", "year", "dep_var", "treat").fit(frame)
    assert round(twfe.effect_, 3) == 1.983 and not twfe.ci_[0] <= true_simple <= twfe.ci_[1]
    cs = StaggeredDiD("unit", "year", "dep_var", "treat", cluster="state").fit(frame)
    assert cs.att_simple_.covers(true_simple) and cs.att_.covers(true_group)
    post = cs.event_.filter(pl.col("event_time") >= 0)
    covered = [low <= true_event[e] <= high for e, low, high in post.select("event_time", "ci_low", "ci_high").rows()]
    assert np.mean(covered) >= 0.9
    pre = cs.event_.filter(pl.col("event_time") < 0)  # no effect before treatment in the simulation
    assert ((pre["ci_low"] <= 0) & (pre["ci_high"] >= 0)).mean() >= 0.9  # type: ignore[operator]


def test_the_bootstrap_errors_agree_with_the_analytic_ones(mpdta: pd.DataFrame) -> None:
    """999 Mammen multiplier draws over 500 counties: the IQR-based error (R did's) has a relative sd of about
    1.2/sqrt(999) = 4%, and every ratio to the analytic error is asserted within 20% of 1. Clustered by state (29
    clusters) only the overall ATT is compared: a cell resting on a few states has a multiplier distribution far
    from normal, whose IQR is not 1.35 sd (measured: 0.78-0.84 of the analytic error for cohort 2006 before 2006).

    Measured over bootstrap seeds 0-1,999 (the data are fixed; only the draws vary): each of the 14 ratios (12
    cells, the overall ATT by county and by state) had standard deviation 0.037 and mean 1.001 to 1.023 (cohort
    2004 in 2004 the highest); every bound lay at least 4.7 spreads away (5.2 or more for all but three cells), no
    seed failed, and the 28,000 ratios ranged 0.86-1.18. Normal tails summed over the 14 give 3e-6 per run (2e-5 on
    the log scale); the largest ratio sat 4.9 spreads out (that cell's excess kurtosis 0.46), so the rate is
    stated as below 1e-4. The band fails an error that leaves out the IQR's 1.35 (ratio 1.35 or 0.74) or draws
    weights of the wrong variance; it cannot tell state from county clustering on these data, whose analytic errors
    differ by 5%."""
    analytic = StaggeredDiD("countyreal", "year", "lemp", "d").fit(mpdta)
    boot = StaggeredDiD("countyreal", "year", "lemp", "d", bootstrap=999, seed=1).fit(mpdta)
    ratio = boot.att_gt_["se"].to_numpy() / analytic.att_gt_["se"].to_numpy()
    assert np.all(np.abs(ratio - 1) < 0.2), ratio
    assert abs(boot.att_.se / analytic.att_.se - 1) < 0.2 and boot.att_.estimate == analytic.att_.estimate
    by_state = StaggeredDiD("countyreal", "year", "lemp", "d", cluster="state").fit(mpdta)
    boot_state = StaggeredDiD("countyreal", "year", "lemp", "d", cluster="state", bootstrap=999, seed=1).fit(mpdta)
    assert abs(boot_state.att_.se / by_state.att_.se - 1) < 0.2


def test_results_tidy_summary_and_plot(mpdta: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    fit = StaggeredDiD("countyreal", "year", "lemp", "d").fit(mpdta)
    assert isinstance(fit.att_, Effect) and fit.att_.n == 191
    tidy = fit.tidy()
    assert tuple(tidy.columns) == TIDY_COLUMNS
    assert tidy["term"].to_list()[:2] == ["ATT", "event_time -3"] and "cohort 2004" in tidy["term"].to_list()
    assert tidy["estimate"][0] == fit.att_.estimate and tidy.height == 1 + fit.event_.height + fit.group_.height
    assert "never-treated controls" in fit.summary().summary()
    ax = fit.plot(truth={0: -0.02}).axes[0]
    assert ax.get_xlabel() == "event time (periods since first treated)" and ax.get_ylabel() == "effect on lemp"


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        (lambda f: f.assign(d=f["d"] & (f["year"] != 2006)), {}, r"^column 'd': countyreal \d+ is treated and then "),
        (
            lambda f: f.assign(d=f["year"] >= 2006),
            {},
            r"^column 'd': no never-treated countyreal; use control='not_yet'$",
        ),
        (lambda f: f.assign(d=False), {}, r"^column 'd': no cohort is treated after the first period$"),
        (lambda f: f, {"control": "later"}, r"^control: 'never' or 'not_yet', got 'later'$"),
        (lambda f: f, {"anticipation": -1}, r"^anticipation: a whole number, 0 or more, got -1$"),
        (lambda f: f, {"bootstrap": 10}, r"^bootstrap: 0 \(analytic errors\) or at least 99 draws, got 10$"),
        (lambda f: f.assign(state=f["year"]), {"cluster": "state"}, r"^column 'state': countyreal \d+ is in more "),
        (lambda f: f.rename(columns={"lemp": "y"}), {}, r"^column 'lemp' is not in df"),
    ],
)
def test_bad_inputs_are_refused_by_name(mpdta: pd.DataFrame, change, args: dict, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MethodInputError, match=message):
        StaggeredDiD("countyreal", "year", "lemp", "d", **args).fit(change(mpdta.copy()))
