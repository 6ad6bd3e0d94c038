"""Generated inputs for DiD, EventStudy, StaggeredDiD and SyntheticControl.

- Unbalanced and gapped panels (most examples lose rows at random, some units down to one row) with random weights,
  a covariate and a coarser cluster: DiD and EventStudy equal an independent reference, the regression with every
  unit and time dummy (statsmodels WLS, clustered), after the reference's own singleton removal; where the
  reference finds the design unidentified, the fit refuses with the one expected message.
- Equivalent inputs (0/1 integers or floats for a boolean treatment, shuffled rows, pandas for polars, categorical or
  string unit labels) give the clean answer.
- Bad inputs each get their own one-line message, matched whole, naming the column quoted (``'d'``) with plain values.

Example counts are modest (the file runs in well under a minute). In 150 gapped-panel examples about 105 lose rows;
of those about 72 fit and are compared number for number, the rest are refusals matched against the reference's
verdict (no treated unit left, treated units never seen untreated, the treatment absorbed, no residual left).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newretail.methods import DiD, EventStudy, MethodInputError, StaggeredDiD, SyntheticControl

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
REFERENCE = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------ unbalanced panels vs reference
@st.composite
def gapped_panels(draw: st.DrawFn) -> tuple[pl.DataFrame, dict[str, Any]]:
    """4-9 units over 3-7 periods, staggered adoption (a never-treated unit first), rows removed at random in 3 of
    4 examples (up to 45%), and DiD options drawn: weights, a time-varying covariate, clusters of pairs of units."""
    n_units, n_times = draw(st.integers(4, 9)), draw(st.integers(3, 7))
    starts = [None] + [draw(st.one_of(st.integers(1, n_times - 1), st.none())) for _ in range(n_units - 1)]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    unit, time = np.repeat(np.arange(n_units), n_times), np.tile(np.arange(n_times), n_units)
    start = np.array([s if s is not None else 10**6 for s in starts])
    d = time >= start[unit]
    x = rng.normal(size=unit.size)
    y = rng.normal(size=n_units)[unit] + rng.normal(size=n_times)[time] + 0.5 * d + 0.7 * x + rng.normal(size=d.size)
    frame = pl.DataFrame(
        {"unit": unit, "time": time, "y": y, "d": d, "x": x, "w": rng.uniform(0.5, 2, d.size), "pair": unit // 2}
    )
    share = draw(st.sampled_from([0.3, 0.15, 0.45, 0.0]))
    if share:
        frame = frame.filter(pl.Series(rng.random(frame.height) >= share))
    options = {
        "weights": draw(st.sampled_from([None, "w"])),
        "covariates": draw(st.sampled_from([None, ["x"]])),
        "cluster": draw(st.sampled_from([None, "pair"])),
    }
    return frame, options


def _without_singletons(frame: pl.DataFrame) -> pl.DataFrame:
    """pyfixest's rule, written out: drop rows alone in their unit or period until none is left."""
    while frame.height:
        alone = (pl.len().over("unit") == 1) | (pl.len().over("time") == 1)
        if not frame.select(alone.any()).item():
            break
        frame = frame.filter(~alone)
    return frame


def _reference(frame: pl.DataFrame, regressors: list[str], options: dict[str, Any]) -> tuple[str, Any]:
    """The expected refusal (a regex) or the coefficients and CRV1 errors of the dummy regression (statsmodels)."""
    import statsmodels.api as sm

    data = _without_singletons(frame)
    if data.height == 0:
        return "error", r"^df: no rows left once the singletons \(rows alone in their unit or period\) are dropped$"
    ever = data.group_by("unit").agg(pl.col("d").any().alias("ever"), (~pl.col("d")).any().alias("untreated"))
    if not ever["ever"].any():
        return "error", r"^column 'd': no unit is ever treated$"
    if ever["ever"].all():
        return "error", r"^column 'd': no control unit \(every unit is treated in some period\)$"
    if not (ever["ever"] & ever["untreated"]).any():
        return "error", r"^column 'd': every treated unit is treated in every period it is observed \(no treated "
    u, t = data["unit"].to_numpy(), data["time"].to_numpy()
    units, times = np.unique(u), np.unique(t)
    x = data.select(regressors).to_numpy().astype(float)
    dummies = np.column_stack([(u == i) for i in units] + [(t == s) for s in times[1:]]).astype(float)
    w = data["w"].to_numpy() if options.get("weights") else np.ones(data.height)
    rank_fe = np.linalg.matrix_rank(dummies)
    if np.linalg.matrix_rank(np.column_stack([x, dummies])) < rank_fe + x.shape[1]:
        return "error", r"^columns '.+': (is absorbed by|are collinear given) the unit and time effects"
    groups = data[options.get("cluster") or "unit"].to_numpy()
    n, g = data.height, np.unique(groups).size
    nested = data.group_by("unit").agg(k=pl.col(options.get("cluster") or "unit").n_unique())["k"].max() == 1
    k = x.shape[1] + rank_fe - (units.size - 1 if nested else 0)  # nested unit effects count as one (reghdfe)
    if n - x.shape[1] - rank_fe <= 0 or n - k <= 0 or g < 2:  # no residual left, or nothing to cluster
        return "error", r"^df: too few observations or clusters to estimate a clustered standard error$"
    design = np.column_stack([x, dummies])
    cols = design.shape[1]  # statsmodels' factor counts every column; convert to the CRV1 count k
    if n <= cols:  # a rank-deficient dummy set (a disconnected panel) leaves statsmodels no count of its own
        coef = np.linalg.lstsq(design * np.sqrt(w)[:, None], data["y"].to_numpy() * np.sqrt(w), rcond=None)[0]
        return "ok", (coef[: x.shape[1]], None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.WLS(data["y"].to_numpy(), design, weights=w).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return "ok", (fit.params[: x.shape[1]], fit.bse[: x.shape[1]] * np.sqrt((n - cols) / (n - k)))


def _check_against_reference(fitted: Any, got: tuple[np.ndarray, np.ndarray] | str, expected: tuple[str, Any]) -> None:
    kind, ref = expected
    if kind == "error":
        assert isinstance(got, str) and re.search(ref, got), (got, ref)
        return
    assert not isinstance(got, str), got
    coef, se = ref
    np.testing.assert_allclose(got[0], coef, atol=1e-8, rtol=1e-8)
    if se is not None:  # errors are O(0.1) here: 1e-7 absolute cannot pass a wrong one
        np.testing.assert_allclose(got[1], se, rtol=1e-6, atol=1e-7)


@REFERENCE
@given(case=gapped_panels())
def test_did_on_gapped_panels_equals_the_dummy_regression(case: tuple[pl.DataFrame, dict[str, Any]]) -> None:
    frame, options = case
    model = DiD("unit", "time", "y", "d", **options)
    try:
        model.fit(frame)
        got: Any = (model.coefs_["estimate"].to_numpy(), model.coefs_["se"].to_numpy())
        assert model.n_singletons_ == frame.height - _without_singletons(frame).height
    except MethodInputError as err:
        got = str(err)
    _check_against_reference(model, got, _reference(frame, ["d", *(options["covariates"] or [])], options))


@FUZZ
@given(case=gapped_panels())
def test_event_study_on_gapped_panels_equals_the_dummy_regression(case: tuple[pl.DataFrame, dict[str, Any]]) -> None:
    frame, options = case
    model = EventStudy("unit", "time", "y", "d", cluster=options["cluster"])
    data = _without_singletons(frame)
    periods = data["time"].unique().sort().to_list()
    data = data.with_columns(pos=pl.col("time").replace_strict(periods, list(range(len(periods)))))
    first = pl.when(pl.col("d")).then(pl.col("pos")).min().over("unit")
    data = data.with_columns(e=(pl.col("pos") - first))
    events = sorted(e for e in data["e"].drop_nulls().unique().to_list() if e != -1)
    data = data.with_columns(**{f"e{i}": (pl.col("e") == e).fill_null(False) for i, e in enumerate(events)})
    try:
        model.fit(frame)
        est = model.coefs_.filter(pl.col("event_time") != -1)
        got: Any = (est["estimate"].to_numpy(), est["se"].to_numpy())
    except MethodInputError as err:
        got = str(err)
    if isinstance(got, str) and got.startswith("reference: event time -1 is not in the data"):
        assert -1 not in data["e"].to_list()  # no unit observed the period before its first treated one
        return
    expected = _reference(data, [f"e{i}" for i in range(len(events))], {"cluster": options["cluster"]})
    _check_against_reference(model, got, expected)


# ------------------------------------------------------------------------------------ equivalent and bad variants
@st.composite
def did_panels(draw: st.DrawFn) -> pl.DataFrame:
    """3-6 units over 3-6 periods; at least one never treated and one treated from a period after the first."""
    n_units, n_times = draw(st.integers(3, 6)), draw(st.integers(3, 6))
    starts = [draw(st.one_of(st.none(), st.integers(1, n_times - 1))) for _ in range(n_units)]
    starts[0], starts[1] = None, starts[1] or draw(st.integers(1, n_times - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    unit, time = np.repeat(np.arange(n_units), n_times), np.tile(np.arange(n_times), n_units)
    start = np.array([s if s is not None else 10**6 for s in starts])
    d = time >= start[unit]
    y = rng.normal(size=unit.size) + 0.5 * d + rng.normal(size=n_units)[unit]
    return pl.DataFrame({"unit": unit, "time": time, "y": y, "d": d, "w": rng.uniform(1, 2, d.size), "c": unit % 2})


EQUIVALENT = ("int", "float", "int8_pandas", "shuffle", "pandas", "categorical_unit", "string_unit")
BAD = {  # variant -> the whole message (regex) for DiD; EventStudy and StaggeredDiD differ where noted
    "string_treatment": r"^column 'd': a treatment indicator must be bool or 0/1, got dtype String$",
    "value_two": r"^column 'd': a treatment indicator must be bool or 0/1, found the value 2$",
    "null_treatment": r"^column 'd': 1 missing values in a treatment indicator$",
    "nan_outcome": r"^column 'y': NaN or infinite values$",
    "inf_outcome": r"^column 'y': NaN or infinite values$",
    "null_outcome": r"^column 'y': 1 missing values$",
    "null_unit": r"^column 'unit': 1 missing values in a key column$",
    "string_time": r"^column 'time': time must be numeric or a date \(to order the periods\), got String$",
    "duplicate": r"^df: duplicate rows for columns 'unit', 'time' \(unit, time = \d, \d\): one row per unit and ",
    "reversal": r"^column 'd': unit \d is treated and then untreated again at time \d; ",
    "unknown_column": r"^column 'y' is not in df \(columns: unit, time, sales, d, w, c\)$",
    "empty": r"^df: the panel is empty$",
    "single_unit": r"^column 'unit': a panel needs at least two units, found 1$",
    "single_period": r"^column 'time': a panel needs at least two periods, found 1$",
    "all_treated": r"^column 'd': no control unit \(every unit is treated in some period\)$",
    "never_treated": r"^column 'd': no unit is ever treated$",
    "bad_alpha": r"^alpha: must lie in \(0, 0.5\], got 0.75$",
    "null_cluster": r"^column 'c': 1 missing cluster labels$",
    "bad_weights": r"^column 'w': weights must be positive, found -1.0$",
    "bad_covariate": r"^column 'w': NaN or infinite values$",
}
STAGGERED_BAD = BAD | {  # StaggeredDiD's own words where its design differs
    "reversal": r"^column 'd': unit \d is treated and then untreated again at time \d; StaggeredDiD needs absorbing",
    "all_treated": r"^column 'd': no never-treated unit; use control='not_yet'$",
    "never_treated": r"^column 'd': no cohort is treated after the first period$",
}
ONLY_DID = ("bad_weights", "bad_covariate")  # arguments EventStudy and StaggeredDiD do not take


def _variant(frame: pl.DataFrame, name: str, rng: np.random.Generator) -> Any:
    at = int(rng.integers(frame.height))
    row = pl.int_range(pl.len()) == at
    treated = frame.filter(pl.col("d"))["unit"]
    treated_unit = treated[0] if treated.len() else frame["unit"][0]
    changes = {
        "int": lambda: frame.with_columns(pl.col("d").cast(pl.Int64)),
        "float": lambda: frame.with_columns(pl.col("d").cast(pl.Float64)),
        "int8_pandas": lambda: frame.with_columns(pl.col("d").cast(pl.Int8)).to_pandas(),
        "shuffle": lambda: frame.sample(fraction=1.0, shuffle=True, seed=int(rng.integers(1000))),
        "pandas": lambda: frame.to_pandas().sample(frac=1.0, random_state=int(rng.integers(1000))),
        "categorical_unit": lambda: frame.with_columns(pl.format("u{}", "unit").cast(pl.Categorical).alias("unit")),
        "string_unit": lambda: frame.with_columns(pl.format("u{}", "unit").alias("unit")),
        "string_treatment": lambda: frame.with_columns(pl.col("d").cast(pl.String)),
        "value_two": lambda: frame.with_columns(d=pl.when(row).then(2).otherwise(pl.col("d").cast(pl.Int64))),
        "null_treatment": lambda: frame.with_columns(d=pl.when(row).then(None).otherwise("d")),
        "nan_outcome": lambda: frame.with_columns(y=pl.when(row).then(float("nan")).otherwise("y")),
        "inf_outcome": lambda: frame.with_columns(y=pl.when(row).then(float("-inf")).otherwise("y")),
        "null_outcome": lambda: frame.with_columns(y=pl.when(row).then(None).otherwise("y")),
        "null_unit": lambda: frame.with_columns(unit=pl.when(row).then(None).otherwise("unit")),
        "string_time": lambda: frame.with_columns(pl.col("time").cast(pl.String)),
        "duplicate": lambda: pl.concat([frame, frame[at]]),
        "reversal": lambda: frame.with_columns(  # the first treated unit: on in the first period, off in the second
            d=pl.when(pl.col("unit") == treated_unit)
            .then(pl.when(pl.col("time") == 0).then(True).when(pl.col("time") == 1).then(False).otherwise("d"))
            .otherwise("d")
        ),
        "unknown_column": lambda: frame.rename({"y": "sales"}),
        "empty": lambda: frame.head(0),
        "single_unit": lambda: frame.filter(pl.col("unit") == treated_unit),
        "single_period": lambda: frame.filter(pl.col("time") == frame["time"].max()),
        "all_treated": lambda: frame.with_columns(d=pl.col("time") >= frame["time"].max()),
        "never_treated": lambda: frame.with_columns(d=False),
        "bad_alpha": lambda: frame,
        "null_cluster": lambda: frame.with_columns(c=pl.when(row).then(None).otherwise("c")),
        "bad_weights": lambda: frame.with_columns(w=pl.when(row).then(-1.0).otherwise("w")),
        "bad_covariate": lambda: frame.with_columns(w=pl.when(row).then(float("nan")).otherwise("w")),
    }
    return changes[name]()


def _make(method: type, name: str) -> Any:
    args: dict[str, Any] = {"alpha": 0.75} if name == "bad_alpha" else {}
    args |= {"cluster": "c"} if name == "null_cluster" else {}
    if method is DiD:
        args |= {"weights": "w"} if name == "bad_weights" else {}
        args |= {"covariates": ["w"]} if name == "bad_covariate" else {}
    return method("unit", "time", "y", "d", **args)


def _answer(method: Any, df: Any) -> tuple[str, Any]:
    try:
        method.fit(df)
    except MethodInputError as err:
        return "error", str(err)
    if isinstance(method, DiD):
        return "ok", np.array([method.effect_, method.se_, *method.ci_])
    if isinstance(method, EventStudy):
        return "ok", method.coefs_.select("estimate", "se").to_numpy().ravel()
    if isinstance(method, StaggeredDiD):
        return "ok", method.att_gt_.select("estimate", "se").to_numpy().ravel()
    return "ok", np.array([*method.gap_["gap"].to_numpy(), method.p_value_, method.pre_rmspe_])


def _check(method: type, frame: pl.DataFrame, name: str, seed: int) -> None:
    if name in ONLY_DID and method is not DiD:
        return
    rng = np.random.default_rng(seed)
    kind, got = _answer(_make(method, name), _variant(frame, name, rng))
    if name in EQUIVALENT:
        clean = _answer(_make(method, name), frame)
        assert kind == clean[0], (name, got, clean)
        if kind == "ok":
            relabelled = name.endswith("_unit")  # units sort by label: same sums in another order
            np.testing.assert_allclose(got, clean[1], rtol=1e-9 if relabelled else 0, atol=1e-12 if relabelled else 0)
        return
    expected = (STAGGERED_BAD if method is StaggeredDiD else BAD)[name]
    assert kind == "error" and "\n" not in got and "np." not in got, (name, got)
    assert re.search(expected, got), (name, got, expected)


VARIANTS = (*EQUIVALENT, *BAD)


@FUZZ
@given(frame=did_panels(), name=st.sampled_from(VARIANTS), seed=st.integers(0, 10**6))
def test_did_equals_the_clean_answer_or_gives_the_variants_message(frame: pl.DataFrame, name: str, seed: int) -> None:
    _check(DiD, frame, name, seed)


@FUZZ
@given(frame=did_panels(), name=st.sampled_from(VARIANTS), seed=st.integers(0, 10**6))
def test_event_study_equals_the_clean_answer_or_gives_the_variants_message(
    frame: pl.DataFrame, name: str, seed: int
) -> None:
    _check(EventStudy, frame, name, seed)


@FUZZ
@given(frame=did_panels(), name=st.sampled_from(VARIANTS), seed=st.integers(0, 10**6))
def test_staggered_did_equals_the_clean_answer_or_gives_the_variants_message(
    frame: pl.DataFrame, name: str, seed: int
) -> None:
    _check(StaggeredDiD, frame, name, seed)


@pytest.mark.parametrize("name", sorted(BAD))
@pytest.mark.parametrize("method", [DiD, EventStudy, StaggeredDiD])
def test_every_bad_variant_on_a_fixed_panel(method: type, name: str) -> None:
    """Each variant at least once, whatever the generator draws."""
    frame = pl.DataFrame(
        {"unit": np.repeat(np.arange(4), 4), "time": np.tile(np.arange(4), 4), "y": np.arange(16) % 5 * 1.0}
    ).with_columns(d=(pl.col("unit") >= 2) & (pl.col("time") >= 2), w=1.5, c=pl.col("unit") % 2)
    _check(method, frame, name, 0)


# ------------------------------------------------------------------------------------------------ synthetic control
SC_BAD = {
    "nan_outcome": r"^column 'y': NaN or infinite values$",
    "inf_outcome": r"^column 'y': NaN or infinite values$",
    "null_outcome": r"^column 'y': 1 missing values$",
    "duplicate": r"^df: duplicate rows for columns 'unit', 'time' \(unit, time = \d, \d{4}\): one row per unit and "
    r"period expected$",
    "unknown_column": r"^column 'y' is not in df \(columns: unit, time, sales, d\)$",
    "empty": r"^df: the panel is empty$",
    "single_unit": r"^column 'unit': a panel needs at least two units, found 1$",
    "gap": r"^column 'time': unit .+ is missing some times; synthetic control needs every unit at every time$",
    "absent_unit": r"^column 'unit': treated_unit 99 is not in the data$",
    "absent_time": r"^column 'time': treatment_time 2100 is not in the data$",
    "early_time": r"^column 'time': synthetic control needs at least two periods before treatment_time, found 1$",
    "bad_alpha": r"^alpha: must lie in \(0, 0.5\], got 0.75$",
}
SC_EQUIVALENT = ("shuffle", "pandas", "categorical_unit", "string_unit")


@st.composite
def sc_panels(draw: st.DrawFn) -> tuple[pl.DataFrame, int, int]:
    n_units, n_times = draw(st.integers(3, 6)), draw(st.integers(4, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = 10 + rng.normal(size=(n_units, n_times)).cumsum(axis=1)
    frame = pl.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_times),
            "time": np.tile(np.arange(1990, 1990 + n_times), n_units),
            "y": y.ravel(),
            "d": np.zeros(n_units * n_times, dtype=bool),
        }
    )
    return frame, draw(st.integers(0, n_units - 1)), 1990 + draw(st.integers(2, n_times - 1))


@FUZZ
@given(case=sc_panels(), name=st.sampled_from((*SC_EQUIVALENT, *SC_BAD)), seed=st.integers(0, 10**6))
def test_synthetic_control_equals_the_clean_answer_or_gives_the_variants_message(
    case: tuple[pl.DataFrame, int, int], name: str, seed: int
) -> None:
    frame, treated, when = case
    args: dict[str, Any] = {"treated_unit": treated, "treatment_time": when, "progress": False}
    if name in ("categorical_unit", "string_unit"):
        args["treated_unit"] = f"u{treated}"
    elif name == "absent_unit":
        args["treated_unit"] = 99
    elif name == "absent_time":
        args["treatment_time"] = 2100
    elif name == "early_time":
        args["treatment_time"] = 1991
    elif name == "bad_alpha":
        args["alpha"] = 0.75
    clean = _answer(SyntheticControl("unit", "time", "y", treated, when, progress=False), frame)
    if name == "gap":  # a row of a unit other than the treated one, so the gap is what is wrong
        df = frame.filter(~((pl.col("unit") == (treated + 1) % frame["unit"].n_unique()) & (pl.col("time") == 1990)))
    elif name.startswith(("absent", "early", "bad")):
        df = frame
    else:
        df = _variant(frame.with_columns(w=1.0, c=0), name, np.random.default_rng(seed)).drop("w", "c", strict=False)
    kind, got = _answer(SyntheticControl("unit", "time", "y", **args), df)
    if name in SC_EQUIVALENT:
        assert kind == clean[0] == "ok", got
        np.testing.assert_allclose(got, clean[1], rtol=1e-9, atol=1e-9)
    else:
        assert kind == "error" and "\n" not in got, (name, got)
        assert re.search(SC_BAD[name], got), (name, got)


@pytest.mark.parametrize("method", [DiD, EventStudy, StaggeredDiD])
def test_integer_treatment_regression_example(method: Any) -> None:
    """Explicit example: a 0/1 integer treatment equals the boolean one (the old code read it as row indices)."""
    frame = pl.DataFrame(
        {
            "unit": [0, 0, 0, 1, 1, 1, 2, 2, 2],
            "time": [0, 1, 2] * 3,
            "y": [1.0, 1.2, 2.3, 0.5, 0.6, 0.8, 2.0, 2.1, 2.0],
            "d": [False, False, True, False, False, False, False, False, False],
        }
    )
    a = _answer(method("unit", "time", "y", "d"), frame)
    b = _answer(method("unit", "time", "y", "d"), frame.with_columns(pl.col("d").cast(pl.Int64)))
    np.testing.assert_array_equal(a[1], b[1])
