"""Every validation branch of the public methods, each with one bad input and its whole one-line message.

The project's rule (README, BRIEF): a public function refuses what it cannot handle with one line naming the column or
argument exactly as the user wrote it (``'d'``, ``x0``) and the offending value shown plainly (``-1``, ``'wald'``,
never ``np.int64(-1)``); an element-wise check names the first offending element (the successes and trials of that
same element). Each message is matched whole (anchored), so a message that loses its value, renames its field or
shows another element fails here.

Beside the refusals, ``ACCEPTED`` holds the boundary inputs each documented range must accept (``alpha = 0.5``,
``successes == trials``, ``shrinkage = 0``, ``max_occupancy = 1``...): a check written with ``<=`` where the contract
says ``<`` refuses one of them. Inputs that break only the second of two conditions, and bad entries after good ones
in lists, catch checks that stop early.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest

from newretail.methods import (
    DiD,
    ErlangC,
    EventStudy,
    LightGBMSettings,
    MethodInputError,
    ProbabilityModel,
    PropensityModel,
    StaggeredDiD,
    SyntheticControl,
    TLearner,
    aipw_effect,
    average_effect,
    compare_auc,
    cross_fit,
    decay_fit,
    delta_log_interval,
    difference_in_means,
    fit_burst,
    mantel_haenszel_odds_ratio,
    normal_quantile,
    poisson_interval,
    proportion_interval,
    quantile_interval,
    ratio_interval,
    ratio_test_power,
    ratio_test_size,
)
from newretail.methods.bursts import burst_counts
from newretail.methods.comparisons import difference_interval, mcnemar_exact, mean_interval
from newretail.methods.decay import decay_ratio
from newretail.methods.intervals import standardized_ratio
from newretail.methods.resampling import multiway_interval

# ----------------------------------------------------------------------------------------------------------- inputs
PANEL = pl.DataFrame(
    {
        "u": [u for u in "abcdef" for _ in range(6)],
        "t": list(range(1, 7)) * 6,
        "y": [float(10 * i + t + (i * t) % 3) for i in range(6) for t in range(1, 7)],
        # a treated from t=4, b from t=5, c..f never
        "d": [int((i == 0 and t >= 4) or (i == 1 and t >= 5)) for i in range(6) for t in range(1, 7)],
        "x": [float((i * 7 + t * 3) % 5) for i in range(6) for t in range(1, 7)],
        "g": [i // 2 for i in range(6) for _ in range(6)],
    }
)
ARMS = pl.DataFrame({"y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "d": [0, 1, 0, 1, 0, 1], "g": [1, 1, 2, 2, 3, 3]})
X3 = np.arange(6, dtype=float).reshape(3, 2)
CELLS = {  # decay_fit's cells: two strata, treated cells at repeats 0 and 1
    "strata": [0, 0, 0, 1, 1, 1],
    "treated": [0, 1, 1, 0, 1, 1],
    "repeat": [0, 0, 1, 0, 0, 1],
}
K, N = [10, 30, 20, 12, 28, 18], [100, 100, 100, 100, 100, 100]


def _frame(df: pl.DataFrame | Callable[[], pl.DataFrame]) -> pl.DataFrame:
    """A case's frame, built when the case runs: no polars work at import, where mutmut's forked test processes
    would inherit a thread pool whose threads they do not have (and hang)."""
    return df() if callable(df) else df


def _did(df: pl.DataFrame | Callable[[], pl.DataFrame] = PANEL, **kw: Any) -> Any:
    args = {"unit": "u", "time": "t", "outcome": "y", "treated": "d"} | kw
    return lambda: DiD(**args).fit(_frame(df))


def _event(**kw: Any) -> Any:
    args = {"unit": "u", "time": "t", "outcome": "y", "treated": "d"} | kw
    return lambda: EventStudy(**args).fit(PANEL)


def _staggered(df: pl.DataFrame | Callable[[], pl.DataFrame] = PANEL, **kw: Any) -> Any:
    args = {"unit": "u", "time": "t", "outcome": "y", "treated": "d"} | kw
    return lambda: StaggeredDiD(**args).fit(_frame(df))


def _synth(df: pl.DataFrame | Callable[[], pl.DataFrame] = PANEL, **kw: Any) -> Any:
    args = {"unit": "u", "time": "t", "outcome": "y", "treated_unit": "a", "treatment_time": 4, "progress": False} | kw
    return lambda: SyntheticControl(**args).fit(_frame(df).drop("d"))


def _power(**kw: Any) -> Any:
    args = {"ratio": 1.5, "ratio_null": 1.0, "p0": 0.1, "share": 0.5} | kw
    return lambda: ratio_test_power(args.pop("trials", 1000), **args)


def _size(**kw: Any) -> Any:
    args = {"ratio": 1.5, "ratio_null": 1.0, "p0": 0.1, "share": 0.5, "power": 0.8} | kw
    return lambda: ratio_test_size(**args)


def _decay(**kw: Any) -> Any:
    args: dict[str, Any] = {"successes": K, "trials": N, **CELLS} | kw
    return lambda: decay_fit(args.pop("successes"), args.pop("trials"), **args)


def _queue(**kw: Any) -> Any:
    args = {"service_level": 0.8, "answer_s": 20.0} | kw
    return lambda: ErlangC(0.5, 60.0).agents(**args)


def _multiway(**kw: Any) -> Any:
    a = {"num": np.arange(1.0, 9.0), "den": np.arange(2.0, 10.0)}
    args: dict[str, Any] = {"by_clustering": {"user": a}, "iid": a} | kw
    return lambda: multiway_interval(args.pop("by_clustering"), lambda num, den: num / den, **args)


def _count_names(fn: Callable[..., Any]) -> list[Any]:
    """A negative count at each of x1, n1, x0, n0 in turn (the others valid): the message names that argument."""
    cases = []
    for i, name in enumerate(("x1", "n1", "x0", "n0")):
        args = [[1, 2], [4, 4], [1, 2], [4, 4]]
        args[i] = [1, -1]  # the second stratum: a check that stops at the first element misses it
        cases.append(pytest.param(lambda a=args: fn(*a), f"{name}: negative count -1.0", id=f"{fn.__name__}-{name}"))
    return cases


# -------------------------------------------------------------------------------------------------- refusals
REFUSED = [
    # alpha, shared by every method: (0, 0.5]
    pytest.param(lambda: ratio_interval(1, 2, 1, 2, alpha=0), "alpha: must lie in (0, 0.5], got 0", id="alpha-0"),
    pytest.param(
        lambda: ratio_interval(1, 2, 1, 2, alpha=0.51), "alpha: must lie in (0, 0.5], got 0.51", id="alpha-big"
    ),
    pytest.param(
        lambda: proportion_interval(1, 2, alpha=True), "alpha: must be a number in (0, 0.5], got True", id="alpha-bool"
    ),
    pytest.param(
        lambda: poisson_interval(1, alpha=float("nan")), "alpha: must be a number in (0, 0.5], got nan", id="alpha-nan"
    ),
    pytest.param(
        lambda: quantile_interval([1, 2], q=0.5, alpha="0.05"),
        "alpha: must be a number in (0, 0.5], got '0.05'",
        id="alpha-str",
    ),
    # ratio_interval
    pytest.param(
        lambda: ratio_interval(1, 2, 1, 2, method="wald"),
        "method: must be one of katz, fieller, delta, got 'wald'",
        id="ratio-method",
    ),
    pytest.param(
        lambda: ratio_interval("3", 10, 1, 10), "x1: must be a count (a whole number >= 0), got '3'", id="ratio-str"
    ),
    pytest.param(
        lambda: ratio_interval(3, None, 1, 10), "n1: must be a count (a whole number >= 0), got None", id="ratio-none"
    ),
    pytest.param(
        lambda: ratio_interval(3, 10, [1, "a"], 10),
        "x0: must be a count (a whole number >= 0), got [1, 'a']",
        id="ratio-list",
    ),
    pytest.param(lambda: ratio_interval(3, 10, 1, []), "n0: no values", id="ratio-empty"),
    pytest.param(lambda: ratio_interval(3, 10, [1, float("inf")], 10), "x0: NaN or infinite count", id="ratio-inf"),
    pytest.param(
        lambda: ratio_interval(3, [10, 12], 1, [10, 10.5]),
        "n0: counts must be whole numbers, got 10.5",
        id="ratio-whole",
    ),
    pytest.param(lambda: ratio_interval(3, [10, 0], 1, 10), "n1: a zero denominator (no trials)", id="ratio-zero-n1"),
    pytest.param(lambda: ratio_interval(3, 10, 1, [5, 0]), "n0: a zero denominator (no trials)", id="ratio-zero-n0"),
    pytest.param(
        lambda: ratio_interval([1, 5, 9], [2, 4, 3], 1, 10), "x1: more successes than trials (5 > 4)", id="ratio-x1>n1"
    ),
    pytest.param(
        lambda: ratio_interval(1, 10, [1, 7], [2, 6]), "x0: more successes than trials (7 > 6)", id="ratio-x0>n0"
    ),
    pytest.param(
        lambda: ratio_interval([1, 2], [3, 4, 5], 1, 10),
        "x1, n1, x0, n0: arrays of different shapes",
        id="ratio-shapes",
    ),
    # proportion_interval
    pytest.param(
        lambda: proportion_interval(1, 2, method="exact"),
        "method: must be one of wilson, beta, agresti_coull, jeffreys, normal, got 'exact'",
        id="prop-method",
    ),
    pytest.param(lambda: proportion_interval(-2, 5), "successes: negative count -2.0", id="prop-negative"),
    pytest.param(lambda: proportion_interval(1, 0), "n: a zero denominator (no trials)", id="prop-zero"),
    pytest.param(
        lambda: proportion_interval([1, 6, 9], [2, 5, 3]),
        "successes: more successes than trials (6 > 5)",
        id="prop-k>n",
    ),
    pytest.param(
        lambda: proportion_interval([1, 2], [3, 4, 5]), "successes, n: arrays of different shapes", id="prop-shapes"
    ),
    # poisson_interval
    pytest.param(lambda: poisson_interval(-1), "count: negative count -1.0", id="poisson-negative"),
    pytest.param(
        lambda: poisson_interval(3, exposure=0),
        "exposure: must be finite and > 0 (a zero exposure has no rate), got 0.0",
        id="poisson-zero",
    ),
    pytest.param(
        lambda: poisson_interval([3, 4], exposure=[1, -2]),
        "exposure: must be finite and > 0 (a zero exposure has no rate), got -2.0",
        id="poisson-negative-exposure",
    ),
    pytest.param(
        lambda: poisson_interval(3, exposure="1"), "exposure: must be a positive number, got '1'", id="poisson-str"
    ),
    pytest.param(
        lambda: poisson_interval(3, exposure=True), "exposure: must be a positive number, got True", id="poisson-bool"
    ),
    pytest.param(
        lambda: poisson_interval([1, 2], exposure=[1, 2, 3]),
        "count, exposure: arrays of different shapes",
        id="poisson-shapes",
    ),
    # standardized ratio and Mantel-Haenszel: per stratum
    *_count_names(standardized_ratio),
    *_count_names(mantel_haenszel_odds_ratio),
    pytest.param(
        lambda: standardized_ratio([1, 2], [4, 4], [1, 2], [4]),
        "x1, n1, x0, n0: must be 1-d arrays of equal length (one value per stratum)",
        id="smr-lengths",
    ),
    pytest.param(
        lambda: standardized_ratio([[1]], [[4]], [[1]], [[4]]),
        "x1, n1, x0, n0: must be 1-d arrays of equal length (one value per stratum)",
        id="smr-2d",
    ),
    pytest.param(
        lambda: standardized_ratio([1, 2], [4, 4], [1, 3], [4, 2]),
        "x0: more successes than trials (3 > 2)",
        id="smr-x0>n0",
    ),
    pytest.param(
        lambda: standardized_ratio([1, 2], [4, 4], [1, 0], [4, 0]),
        "n0: a stratum with numerator trials has no reference trials to compare with",
        id="smr-no-reference",
    ),
    pytest.param(
        lambda: mantel_haenszel_odds_ratio([1, 5], [4, 3], [1, 1], [4, 4]),
        "x1: more successes than trials (5 > 3)",
        id="mh-x1>n1",
    ),
    pytest.param(
        lambda: mantel_haenszel_odds_ratio([1, 0], [2, 0], [0, 1], [0, 2]),
        "n1, n0: no stratum has trials in both groups; there is nothing to compare",
        id="mh-nothing",
    ),
    # quantile_interval
    pytest.param(lambda: quantile_interval([1, 2], q=0), "q: must be a probability in (0, 1), got 0", id="q-0"),
    pytest.param(lambda: quantile_interval([1, 2], q=1.0), "q: must be a probability in (0, 1), got 1.0", id="q-1"),
    pytest.param(
        lambda: quantile_interval([1, 2], q=True), "q: must be a probability in (0, 1), got True", id="q-bool"
    ),
    pytest.param(
        lambda: quantile_interval("abc", q=0.5), "values: must be a 1-d array of numbers, got 'abc'", id="values-str"
    ),
    pytest.param(
        lambda: quantile_interval([1, "a"], q=0.5),
        "values: must be a 1-d array of numbers, got list",
        id="values-mixed",
    ),
    pytest.param(
        lambda: quantile_interval([[1, 2]], q=0.5),
        "values: must be a non-empty 1-d array, got shape (1, 2)",
        id="values-2d",
    ),
    pytest.param(
        lambda: quantile_interval([], q=0.5), "values: must be a non-empty 1-d array, got shape (0,)", id="values-empty"
    ),
    pytest.param(lambda: quantile_interval([1, float("nan")], q=0.5), "values: NaN or infinite value", id="values-nan"),
    # delta_log_interval
    pytest.param(
        lambda: delta_log_interval(np.sum, [1.0, 2.0], np.eye(2), step=0),
        "step: must be a positive number, got 0",
        id="step-0",
    ),
    pytest.param(
        lambda: delta_log_interval(np.sum, [1.0, 2.0], np.eye(2), step=-1e-5),
        "step: must be a positive number, got -1e-05",
        id="step-negative",
    ),
    pytest.param(
        lambda: delta_log_interval(np.sum, [1.0, 2.0], np.eye(2), step=True),
        "step: must be a positive number, got True",
        id="step-bool",
    ),
    pytest.param(
        lambda: delta_log_interval(np.sum, [[1.0, 2.0]], np.eye(2)),
        "params: must be a 1-d array of finite numbers",
        id="params-2d",
    ),
    pytest.param(
        lambda: delta_log_interval(np.sum, [1.0, np.nan], np.eye(2)),
        "params: must be a 1-d array of finite numbers",
        id="params-nan",
    ),
    pytest.param(
        lambda: delta_log_interval(np.sum, [1.0, 2.0], np.eye(3)),
        "cov: must be a finite 2 x 2 matrix, got shape (3, 3)",
        id="cov-shape",
    ),
    pytest.param(
        lambda: delta_log_interval(lambda p: -1.0, [1.0, 2.0], np.eye(2)),
        "fn: must be positive at params (its log is taken), got -1.0",
        id="fn-negative",
    ),
    # comparisons
    pytest.param(
        lambda: difference_interval(-1, 5, 1, 5), "x1: must be a whole number >= 0, got -1", id="diff-negative"
    ),
    pytest.param(
        lambda: difference_interval(1, 5, np.int64(-3), 5), "x0: must be a whole number >= 0, got -3", id="diff-np-int"
    ),
    pytest.param(
        lambda: difference_interval(1, 5.5, 1, 5), "n1: must be a whole number >= 0, got 5.5", id="diff-float"
    ),
    pytest.param(
        lambda: difference_interval(1, 5, 0, 0), "n1, n0: each group needs at least one trial", id="diff-no-trials-n0"
    ),
    pytest.param(
        lambda: difference_interval(1, 5, 3, 2), "x1, x0: more successes than trials (1/5, 3/2)", id="diff-x0>n0"
    ),
    pytest.param(
        lambda: mcnemar_exact([[1, 2], [3, -1]]),
        "table: must be 2 x 2 counts (whole numbers >= 0), got [[1, 2], [3, -1]]",
        id="mcnemar-negative",
    ),
    pytest.param(
        lambda: mcnemar_exact([[1, 2, 3]]),
        "table: must be 2 x 2 counts (whole numbers >= 0), got [[1, 2, 3]]",
        id="mcnemar-shape",
    ),
    pytest.param(lambda: mean_interval([1.0]), "values: need at least two finite numbers, got 1", id="mean-one"),
    pytest.param(
        lambda: mean_interval([1.0, np.inf, 2.0]), "values: need at least two finite numbers, got inf", id="mean-inf"
    ),
    pytest.param(
        lambda: difference_in_means(ARMS, outcome="y", treatment="d", cluster=3),
        "cluster: a column name (str) or None expected, got 3",
        id="dim-cluster",
    ),
    pytest.param(
        lambda: difference_in_means(ARMS, outcome="yy", treatment="d"),
        "column 'yy' is not in df (columns: y, d, g)",
        id="dim-column",
    ),
    pytest.param(
        lambda: difference_in_means(ARMS.with_columns(d=pl.lit(1)), outcome="y", treatment="d"),
        "column 'd': every row is in the same arm; there is nothing to compare",
        id="dim-one-arm",
    ),
    pytest.param(
        lambda: difference_in_means(ARMS.with_columns(d=pl.Series([0, 1, 0, 2, 0, 1])), outcome="y", treatment="d"),
        "column 'd': a treatment indicator must be bool or 0/1, found the value 2",
        id="dim-indicator",
    ),
    pytest.param(
        lambda: difference_in_means(
            ARMS.with_columns(g=pl.Series([1, None, 2, 2, 3, 3])), outcome="y", treatment="d", cluster="g"
        ),
        "column 'g': 1 missing cluster labels",
        id="dim-cluster-null",
    ),
    pytest.param(
        lambda: compare_auc([0, 2, 1], [1, 2, 3], [1, 2, 3]),
        "y: must be 0/1 (or bool) labels, found the value 2.0",
        id="auc-label",
    ),
    pytest.param(
        lambda: compare_auc([[0, 1, 1]], [1, 2, 3], [1, 2, 3]),
        "y: must be a 1-d array of 0/1 labels, got shape (1, 3)",
        id="auc-2d",
    ),
    pytest.param(
        lambda: compare_auc([1, 1, 1], [1, 2, 3], [1, 2, 3]),
        "y: needs both outcomes (0 and 1) to compute an AUC",
        id="auc-one-class",
    ),
    pytest.param(
        lambda: compare_auc([0, 1, 1], [1, 2], [1, 2, 3]), "score, reference: need one value per label", id="auc-length"
    ),
    pytest.param(
        lambda: compare_auc([0, 1, 1], [1, 2, 3], [1, np.nan, 3]),
        "score, reference: NaN or infinite score",
        id="auc-nan-reference",
    ),
    # decay
    pytest.param(
        lambda: decay_ratio([0, 1], p0=0, effect=0.5, decay=0.2),
        "p0: must be a probability in (0, 1), got 0",
        id="decay-p0-0",
    ),
    pytest.param(
        lambda: decay_ratio([0, 1], p0=1.0, effect=0.5, decay=0.2),
        "p0: must be a probability in (0, 1), got 1.0",
        id="decay-p0-1",
    ),
    pytest.param(
        _decay(successes=[10, 30, 20, 12, 28, -1]),
        "successes: must be whole numbers from 0 to the cell's trials, got -1 of 100 trials in cell 5",
        id="decay-negative",
    ),
    pytest.param(
        _decay(successes=[10, 30, 20.5, 12, 28, 18]),
        "successes: must be whole numbers from 0 to the cell's trials, got 20.5 of 100 trials in cell 2",
        id="decay-fraction",
    ),
    pytest.param(
        _decay(trials=[100, 100, 100, 100, 100.5, 100]),
        "successes: must be whole numbers from 0 to the cell's trials, got 28 of 100.5 trials in cell 4",
        id="decay-trials-fraction",
    ),
    pytest.param(
        _decay(trials=[100, 29, 100, 100, 27, 100]),
        "successes: must be whole numbers from 0 to the cell's trials, got 30 of 29 trials in cell 1",
        id="decay-k>n",
    ),
    pytest.param(
        _decay(successes=[10, 30, 20, 0, 28, 18], trials=[100, 100, 100, 0, 100, 100]),
        "trials: every cell needs at least one trial, got 0 in cell 3",
        id="decay-no-trials",
    ),
    pytest.param(_decay(treated=[0, 1, 1, 0, 2, 1]), "treated: must be 0/1 (or bool), found 2.0", id="decay-treated"),
    pytest.param(
        _decay(repeat=[0, 0, 1, 0, 0, -1]),
        "repeat: must be >= 0 (0 at the first exposure), found -1.0",
        id="decay-repeat",
    ),
    pytest.param(
        _decay(repeat=[0, 1, 1, 0, 1, 1]),
        "repeat: the treated cells are at a single repeat; the decay cannot be estimated",
        id="decay-one-repeat",
    ),
    pytest.param(
        _decay(repeat=[0, 0, 1, 0, 0]),
        "successes, trials, treated, repeat: need one value per cell, the same number of each",
        id="decay-lengths",
    ),
    pytest.param(
        _decay(trials=[100, 100, 100, 100, 100, np.nan]),
        "trials: must be a 1-d array of finite numbers",
        id="decay-nan",
    ),
    pytest.param(_decay(strata=[0, 0, 0, 1, 1]), "strata: need one label per cell", id="decay-strata"),
    pytest.param(_decay(max_decay=0), "max_decay: must be a positive number, got 0", id="decay-max"),
    # bursts
    pytest.param(
        lambda: burst_counts([1.0, 2.0], 10),
        "params: must be 4 finite numbers (log_amplitude, log_tau, g0, g1), got [1.0, 2.0]",
        id="burst-params",
    ),
    pytest.param(
        lambda: burst_counts([1.0, 2.0, 0.0, 0.0], 0),
        "window_s: must be a whole number of seconds >= 1, got 0",
        id="burst-window-0",
    ),
    pytest.param(
        lambda: burst_counts([1.0, 2.0, 0.0, 0.0], 2.0),
        "window_s: must be a whole number of seconds >= 1, got 2.0",
        id="burst-window-float",
    ),
    pytest.param(lambda: fit_burst("x"), "counts: must be a 1-d array of counts per second, got 'x'", id="burst-str"),
    pytest.param(
        lambda: fit_burst(np.ones(119)),
        "counts: need a 1-d array of at least 120 seconds, got shape (119,)",
        id="burst-short",
    ),
    pytest.param(
        lambda: fit_burst(np.r_[np.ones(150), -2.0]), "counts: must be finite and >= 0, got -2.0", id="burst-negative"
    ),
    pytest.param(lambda: fit_burst(np.zeros(150)), "counts: no events; there is no burst to fit", id="burst-empty"),
    # power
    pytest.param(lambda: normal_quantile(1), "p: must lie in (0, 1), got 1", id="quantile-1"),
    pytest.param(lambda: normal_quantile("0.5"), "p: must be a number in (0, 1), got '0.5'", id="quantile-str"),
    pytest.param(_power(ratio=0), "ratio: must be a positive number (a ratio of proportions), got 0", id="power-ratio"),
    pytest.param(
        _power(ratio_null=-1.0),
        "ratio_null: must be a positive number (a ratio of proportions), got -1.0",
        id="power-ratio-null",
    ),
    pytest.param(_power(ratio=1.0), "ratio, ratio_null: must differ, both are 1.0", id="power-same"),
    pytest.param(_power(p0=0), "p0: must lie in (0, 1), got 0", id="power-p0"),
    pytest.param(_power(p0=0.5, ratio=2.0), "p0: p0 x ratio = 1.0 must lie in (0, 1) (a proportion)", id="power-p1"),
    pytest.param(_power(share=1), "share: must lie in (0, 1), got 1", id="power-share"),
    pytest.param(
        _power(trials=[1000, 0]),
        "trials: must be finite and > 0 (the trials in the test, both arms together), got 0.0",
        id="power-trials",
    ),
    pytest.param(
        _power(trials="100"), "trials: must be a positive count or an array of them, got '100'", id="power-trials-str"
    ),
    pytest.param(_size(alpha=0.6), "alpha: must lie in (0, 0.5], got 0.6", id="size-alpha"),
    pytest.param(_size(power=1.0), "power: must lie in (0, 1), got 1.0", id="size-power"),
    # queueing
    pytest.param(
        lambda: ErlangC(-1, 60), "arrivals_per_s: must be a finite number >= 0, got -1.0", id="erlang-arrivals"
    ),
    pytest.param(
        lambda: ErlangC([1, 2], [60, 0]), "handle_s: must be a finite number > 0, got 0.0", id="erlang-handle"
    ),
    pytest.param(lambda: ErlangC("1", 60), "arrivals_per_s: must be a number, got '1'", id="erlang-str"),
    pytest.param(
        lambda: ErlangC([1, 2], [60, 60, 60]),
        "arrivals_per_s, handle_s: arrays of different shapes",
        id="erlang-shapes",
    ),
    pytest.param(
        lambda: ErlangC(0.5, 60).p_wait([40, 40.5]), "agents: must be whole numbers, got 40.5", id="erlang-agents"
    ),
    pytest.param(
        lambda: ErlangC(0.5, 60).p_wait(-1),
        "agents: must be a finite number >= 0, got -1.0",
        id="erlang-agents-negative",
    ),
    pytest.param(
        _queue(service_level=1.0), "service_level: must be a share in (0, 1), e.g. 0.8, got 1.0", id="queue-level"
    ),
    pytest.param(_queue(service_level=True), "service_level: must be a number, got True", id="queue-level-bool"),
    pytest.param(_queue(shrinkage=1.0), "shrinkage: must be a share in [0, 1), got 1.0", id="queue-shrinkage"),
    pytest.param(_queue(shrinkage=float("nan")), "shrinkage: must be a number, got nan", id="queue-shrinkage-nan"),
    pytest.param(
        _queue(max_occupancy=0), "max_occupancy: must be a share in (0, 1] or None, got 0", id="queue-occupancy-0"
    ),
    pytest.param(
        _queue(max_occupancy=1.01),
        "max_occupancy: must be a share in (0, 1] or None, got 1.01",
        id="queue-occupancy-big",
    ),
    pytest.param(_queue(answer_s=[10, 20]), "answer_s: must be one number", id="queue-answer-array"),
    pytest.param(_queue(answer_s=-1), "answer_s: must be a finite number >= 0, got -1.0", id="queue-answer-negative"),
    # resampling
    pytest.param(_multiway(confidence=1.0), "confidence = 1.0: must be a number in [0.5, 1)", id="multiway-confidence"),
    pytest.param(
        _multiway(confidence=0.49), "confidence = 0.49: must be a number in [0.5, 1)", id="multiway-confidence-low"
    ),
    pytest.param(
        _multiway(by_clustering={}),
        "by_clustering: give the group totals of at least one clustering",
        id="multiway-none",
    ),
    # learners
    pytest.param(
        lambda: PropensityModel().fit(X3, np.array([0, 2, 1])),
        "treatment: values must be 0/1 (or booleans)",
        id="learner-treatment",
    ),
    pytest.param(
        lambda: ProbabilityModel().fit(np.arange(3.0), np.array([0, 1, 1])),
        "X: expected a non-empty 2-D feature matrix, got shape (3,)",
        id="learner-X",
    ),
    pytest.param(
        lambda: ProbabilityModel().fit(X3, np.array([0, 1])),
        "y: expected 3 values (one per row of X), got shape (2,)",
        id="learner-y-length",
    ),
    pytest.param(
        lambda: ProbabilityModel().fit(X3, np.array([0, 1, 2])),
        "y: outcomes must be 0/1 (or booleans) for a probability model",
        id="learner-y-binary",
    ),
    pytest.param(
        lambda: TLearner().fit(X3, np.array([0, 1, 1]), np.array([0.0, np.nan, 1.0])),
        "y: outcomes must be finite numbers (0/1 or continuous)",
        id="learner-y-nan",
    ),
    pytest.param(
        lambda: LightGBMSettings(num_threads=0).lightgbm_params(),
        "num_threads: must be a whole number of at least 1, got 0",
        id="settings-threads",
    ),
    pytest.param(
        lambda: LightGBMSettings(max_train_rows=99).lightgbm_params(),
        "max_train_rows: must be None or at least 100, got 99",
        id="settings-rows",
    ),
    pytest.param(
        lambda: cross_fit(X3, np.array([0, 1, 1]), np.ones(3), groups=np.arange(3), folds=1),
        "folds: must be a whole number of at least 2, got 1",
        id="crossfit-folds",
    ),
    pytest.param(
        lambda: cross_fit(X3, np.array([0, 1, 1]), np.ones(3), groups=np.arange(2)),
        "groups: expected 3 labels, got shape (2,)",
        id="crossfit-groups",
    ),
    pytest.param(
        lambda: cross_fit(X3, np.array([0, 1, 1]), np.ones(3), groups=np.zeros(3), folds=2),
        "groups: 1 distinct groups cannot fill 2 folds",
        id="crossfit-few-groups",
    ),
    # effects
    pytest.param(
        lambda: aipw_effect(np.ones(4), np.array([0, 1, 0, 1]), np.full(4, 0.5), np.ones(4), np.ones(4), clip=0.5),
        "clip: must be in [0, 0.5), got 0.5",
        id="aipw-clip",
    ),
    pytest.param(
        lambda: aipw_effect(
            np.ones(4), np.array([0, 1, 0, 1]), np.full(4, 0.5), np.ones(4), np.ones(4), estimand="atc"
        ),
        "estimand: must be 'ate' or 'att', got 'atc'",
        id="aipw-estimand",
    ),
    pytest.param(
        lambda: average_effect(ARMS, outcome="y", treatment="d", propensity=[0.5]),
        "propensity: must be None, a probability or a column name, got [0.5]",
        id="effect-propensity-list",
    ),
    pytest.param(
        lambda: average_effect(ARMS, outcome="y", treatment="d", propensity=1.0),
        "propensity: a known propensity must lie strictly between 0 and 1, got 1.0",
        id="effect-propensity-1",
    ),
    pytest.param(
        lambda: average_effect(
            ARMS.with_columns(e=pl.Series([0.5, 0.5, 0.0, 0.5, 0.5, 0.5])), outcome="y", treatment="d", propensity="e"
        ),
        "column 'e': a known propensity must lie strictly between 0 and 1, got 0.0",
        id="effect-propensity-column",
    ),
    pytest.param(
        lambda: average_effect(ARMS, outcome="y", treatment="d", estimand="atc"),
        "estimand: must be 'ate' or 'att', got 'atc'",
        id="effect-estimand",
    ),
    pytest.param(
        lambda: average_effect(ARMS, outcome="y", treatment="d", cluster=1),
        "cluster: a column name (str) or None expected, got 1",
        id="effect-cluster",
    ),
    pytest.param(
        lambda: average_effect(ARMS, outcome="y", treatment="d", clip=0.5),
        "clip: must be a number in (0, 0.5), got 0.5",
        id="effect-clip",
    ),
    pytest.param(
        lambda: average_effect(ARMS, outcome="y", treatment="d", covariates=["g", "g"]),
        "covariates: a column is used twice among 'y', 'd', 'g', 'g'",
        id="effect-covariates-twice",
    ),
    pytest.param(
        lambda: average_effect(ARMS.clear(), outcome="y", treatment="d", propensity=0.5),
        "df: no rows",
        id="effect-empty",
    ),
    # DiD, EventStudy
    pytest.param(_did(unit=1), "unit: a column name (str) expected, got 1", id="did-unit"),
    pytest.param(_did(cluster=np.int64(3)), "cluster: a column name (str) expected, got 3", id="did-cluster"),
    pytest.param(_did(unit_trends="yes"), "unit_trends: True or False expected, got 'yes'", id="did-unit-trends"),
    pytest.param(_did(allow_reversal=1), "allow_reversal: True or False expected, got 1", id="did-reversal"),
    pytest.param(_did(panel=None), "panel: True or False expected, got None", id="did-panel"),
    pytest.param(
        _did(covariates=["x", "x"]), "covariates: each column once, got ['x', 'x']", id="did-covariates-twice"
    ),
    pytest.param(
        _did(covariates=["x", 3]),
        "covariates: a column name or a list of column names expected, got ['x', 3]",
        id="did-covariates-type",
    ),
    pytest.param(_did(treated="dd"), "column 'dd' is not in df (columns: u, t, y, d, x, g)", id="did-column"),
    pytest.param(_did(weights="x"), "column 'x': weights must be positive, found 0.0", id="did-weights"),
    pytest.param(
        _did(outcome="d"),
        "columns: unit, time, outcome, treated, weights and covariates must differ, got ['u', 't', 'd', 'd']",
        id="did-roles",
    ),
    pytest.param(_did(df=lambda: PANEL.clear()), "df: the panel is empty", id="did-empty"),
    pytest.param(
        _did(df=lambda: PANEL.filter(pl.col("u") == "a")),
        "column 'u': a panel needs at least two units, found 1",
        id="did-one-unit",
    ),
    pytest.param(
        _did(df=lambda: PANEL.filter(pl.col("t") == 1)),
        "column 't': a panel needs at least two periods, found 1",
        id="did-one-period",
    ),
    pytest.param(
        _did(df=lambda: PANEL.with_columns(u=pl.when(pl.col("t") == 5).then(None).otherwise("u"))),
        "column 'u': 6 missing values in a key column",
        id="did-null-key",
    ),
    pytest.param(
        _did(df=lambda: PANEL.with_columns(t=pl.col("t").cast(pl.String))),
        "column 't': time must be numeric or a date (to order the periods), got String",
        id="did-time-dtype",
    ),
    pytest.param(
        _did(df=lambda: PANEL.with_columns(d=pl.lit(0))), "column 'd': no unit is ever treated", id="did-never"
    ),
    pytest.param(
        _did(df=lambda: PANEL.with_columns(d=pl.col("t") >= 4)),
        "column 'd': no control unit (every unit is treated in some period)",
        id="did-no-control",
    ),
    pytest.param(
        _did(df=lambda: PANEL.with_columns(d=(pl.col("u") == "c") & (pl.col("t").is_between(3, 4)))),
        "column 'd': u 'c' is treated and then untreated again at time 5; "
        "pass allow_reversal=True if that is the design",
        id="did-reversal-data",
    ),
    pytest.param(lambda: DiD("u", "t", "y", "d").summary(), "DiD: call fit(df) before summary()", id="did-summary"),
    pytest.param(_event(bin_width=0), "bin_width: a whole number of periods, 1 or more, got 0", id="event-bin"),
    pytest.param(_event(reference=-1.0), "reference: a whole event time, got -1.0", id="event-reference"),
    pytest.param(
        _event(window=(0, 3)), "window: (low, high) event times around reference=-1, got (0, 3)", id="event-window-low"
    ),
    pytest.param(
        _event(window=(-3, -2)),
        "window: (low, high) event times around reference=-1, got (-3, -2)",
        id="event-window-high",
    ),
    pytest.param(
        _event(window=(-1, -1)),
        "window: (low, high) event times around reference=-1, got (-1, -1)",
        id="event-window-empty",
    ),
    pytest.param(
        _event(window=(-2, 2.0)),
        "window: (low, high) event times around reference=-1, got (-2, 2.0)",
        id="event-window-float",
    ),
    pytest.param(
        _event(reference=-9),
        "reference: event time -9 is not in the data (has [-4, -3, -2, -1, 0, 1, 2])",
        id="event-reference-absent",
    ),
    pytest.param(
        lambda: EventStudy("u", "t", "y", "d").summary(),
        "EventStudy: call fit(df) before summary()",
        id="event-summary",
    ),
    # StaggeredDiD
    pytest.param(_staggered(outcome=None), "outcome: a column name (str) expected, got None", id="staggered-outcome"),
    pytest.param(_staggered(control="all"), "control: 'never' or 'not_yet', got 'all'", id="staggered-control"),
    pytest.param(
        _staggered(anticipation=np.int64(-1)),
        "anticipation: a whole number, 0 or more, got -1",
        id="staggered-anticipation",
    ),
    pytest.param(
        _staggered(bootstrap=True), "bootstrap: a whole number, 0 or more, got True", id="staggered-bootstrap-bool"
    ),
    pytest.param(
        _staggered(bootstrap=98),
        "bootstrap: 0 (analytic errors) or at least 99 draws, got 98",
        id="staggered-bootstrap",
    ),
    pytest.param(
        _staggered(bootstrap=1),
        "bootstrap: 0 (analytic errors) or at least 99 draws, got 1",
        id="staggered-bootstrap-1",
    ),
    pytest.param(
        _staggered(
            df=lambda: PANEL.with_columns(d=(pl.col("t") >= 3) | (pl.col("u").is_in(["a", "b"]) & (pl.col("t") >= 2)))
        ),
        "column 'd': no never-treated u; use control='not_yet'",
        id="staggered-no-never",
    ),
    pytest.param(
        _staggered(df=lambda: PANEL.with_columns(d=(pl.col("u") == "b") & (pl.col("t") == 3))),
        "column 'd': u 'b' is treated and then untreated again at t 4; StaggeredDiD needs absorbing treatment",
        id="staggered-reversal",
    ),
    pytest.param(_staggered(cluster="x"), "column 'x': u 'a' is in more than one cluster", id="staggered-cluster"),
    pytest.param(
        lambda: StaggeredDiD("u", "t", "y", "d").summary(),
        "StaggeredDiD: call fit(df) before summary()",
        id="staggered-summary",
    ),
    # SyntheticControl and its predictors
    pytest.param(_synth(time=2), "time: a column name (str) expected, got 2", id="synth-time"),
    pytest.param(_synth(design="lasso"), "design: one of adh, demeaned, got 'lasso'", id="synth-design"),
    pytest.param(_synth(placebos=-1), "placebos: 'all', 0 (none) or a whole number, got -1", id="synth-placebos"),
    pytest.param(_synth(placebo_size=0), "placebo_size: a whole number, 1 or more, got 0", id="synth-placebo-size"),
    pytest.param(
        _synth(placebo_size=2),
        "placebos: with placebo_size > 1 give the number of random placebo groups to draw",
        id="synth-placebo-all",
    ),
    pytest.param(_synth(treated_label=3), "treated_label: a str or None expected, got 3", id="synth-label"),
    pytest.param(_synth(treated_unit="z"), "column 'u': treated_unit 'z' is not in the data", id="synth-treated-unit"),
    pytest.param(
        _synth(treatment_time=9), "column 't': treatment_time 9 is not in the data", id="synth-treatment-time"
    ),
    pytest.param(
        _synth(treatment_time=2),
        "column 't': synthetic control needs at least two periods before treatment_time, found 1",
        id="synth-t0",
    ),
    pytest.param(
        _synth(df=lambda: PANEL.filter(~((pl.col("u") == "c") & (pl.col("t") == 2)))),
        "column 't': unit 'c' is missing some times; synthetic control needs every unit at every time",
        id="synth-gap",
    ),
    pytest.param(
        _synth(placebos=2, placebo_size=5),
        "placebo_size: 5 leaves no donor to fit a placebo group from (5 donors)",
        id="synth-placebo-too-big",
    ),
    pytest.param(_synth(v="ridge"), "v: one of outcome, custom, cv or a vector of weights, got 'ridge'", id="synth-v"),
    pytest.param(
        _synth(predictors=[("x", (1, 2, 3))]),
        "predictors: ('x', (1, 2, 3)): a window is (first, last), two times",
        id="synth-window",
    ),
    pytest.param(
        _synth(predictors=["x", ("x", [])]), "predictors: ('x', []): an empty list of times", id="synth-empty-times"
    ),
    pytest.param(
        _synth(predictors=[("x", 1, "max")]),
        "predictors: ('x', 1, 'max') aggregates by 'max'; one of mean, median",
        id="synth-how",
    ),
    pytest.param(
        _synth(predictors=["x", 5]),
        "predictors: 5 is not a column name, (column, time), (column, (first, last)[, how]) or "
        "(column, [times][, how])",
        id="synth-spec",
    ),
    pytest.param(_synth(predictors=["x", "x"]), "predictors: ['x', 'x'] names a predictor twice", id="synth-twice"),
    pytest.param(
        _synth(predictors=[("x", [1, 7])]),
        "predictors: 'x mean 1, 7': 7 is not a time of column 't'",
        id="synth-time-absent",
    ),
    pytest.param(
        _synth(predictors=[("x", 4)]),
        "predictors: 'x 4' reads 4, not before the treatment (or, in cross-validation, before the validation period): "
        "it would carry the effect it is matched on",
        id="synth-post",
    ),
    pytest.param(
        _synth(predictors=["x"], v="custom", custom_v=[1.0]),
        "custom_v: 2 weights expected (x, y), got 1",
        id="synth-custom-length",
    ),
    pytest.param(
        _synth(predictors=["x"], v="custom", custom_v=[1.0, -1.0]),
        "custom_v: weights must be finite, >= 0 and not all 0, got [1.0, -1.0]",
        id="synth-custom-negative",
    ),
    pytest.param(
        _synth(predictors=["x"], v="custom", custom_v=[0, 0]),
        "custom_v: weights must be finite, >= 0 and not all 0, got [0.0, 0.0]",
        id="synth-custom-zero",
    ),
    pytest.param(
        _synth(placebos=2, placebo_pool=["b", "zz"]), "placebo_pool: ['zz'] not in column 'u'", id="synth-pool-unknown"
    ),
    pytest.param(
        _synth(placebos=2, placebo_pool=["b", "a"]), "placebo_pool: holds the treated unit 'a'", id="synth-pool-treated"
    ),
    pytest.param(
        _synth(placebos=2, placebo_pool=["b", "b"]), "placebo_pool: ids must be distinct", id="synth-pool-distinct"
    ),
]


@pytest.mark.parametrize(("call", "message"), REFUSED)
def test_refused_with_its_whole_message(call: Callable[[], Any], message: str) -> None:
    """One bad input, one line: the argument or column as written and the offending value, nothing else."""
    with pytest.raises(MethodInputError, match=re.escape(message) + "$"):
        call()


# ---------------------------------------------------------------------------------------------- boundaries kept
ACCEPTED = [
    pytest.param(lambda: ratio_interval(1, 2, 1, 2, alpha=0.5), id="alpha-0.5"),
    pytest.param(lambda: ratio_interval([10, 0], [10, 1], [10, 0], [10, 1]), id="ratio-x=n-and-zero"),
    pytest.param(lambda: proportion_interval([0, 5], [5, 5]), id="prop-0-and-n"),
    pytest.param(lambda: poisson_interval(0, exposure=1e-9), id="poisson-tiny-exposure"),
    pytest.param(lambda: standardized_ratio([1, 0], [4, 0], [1, 0], [4, 0]), id="smr-empty-stratum"),
    pytest.param(lambda: standardized_ratio([4, 2], [4, 2], [4, 2], [4, 2]), id="smr-x=n"),
    pytest.param(lambda: mantel_haenszel_odds_ratio([1, 0, 2], [4, 0, 2], [1, 1, 1], [4, 2, 3]), id="mh-one-empty"),
    pytest.param(lambda: quantile_interval([3.0], q=0.5), id="quantile-one-value"),
    pytest.param(lambda: delta_log_interval(np.sum, [1.0, 2.0], np.eye(2), step=1e-300), id="step-tiny"),
    pytest.param(lambda: difference_interval(5, 5, 0, 1), id="diff-x=n"),
    pytest.param(lambda: mcnemar_exact([[0, 0], [0, 0]]), id="mcnemar-zeros"),
    pytest.param(lambda: decay_ratio([0, 1], p0=1e-9, effect=0.5, decay=0.2), id="decay-p0-small"),
    pytest.param(_decay(successes=[10, 100, 20, 0, 28, 18]), id="decay-k=n-and-0"),
    pytest.param(_decay(max_decay=1e-3), id="decay-max-small"),
    pytest.param(lambda: burst_counts([1.0, 2.0, 0.0, 0.0], 1), id="burst-window-1"),
    pytest.param(lambda: normal_quantile(1e-12), id="quantile-small"),
    pytest.param(_power(trials=[1e-3, 1e6]), id="power-trials-small"),
    pytest.param(_power(p0=0.4, ratio=2.4), id="power-p1-just-below-1"),
    pytest.param(lambda: ErlangC(0, 60).p_wait(0), id="erlang-zero-arrivals-and-agents"),
    pytest.param(_queue(shrinkage=0.0, max_occupancy=1.0), id="queue-shrinkage-0-occupancy-1"),
    pytest.param(_queue(max_occupancy=None, answer_s=0), id="queue-occupancy-none-answer-0"),
    pytest.param(_multiway(confidence=0.5), id="multiway-confidence-0.5"),
    pytest.param(lambda: LightGBMSettings(num_threads=1, max_train_rows=100).lightgbm_params(), id="settings-bounds"),
    pytest.param(
        lambda: aipw_effect(np.ones(4), np.array([0, 1, 0, 1]), np.full(4, 0.5), np.ones(4), np.ones(4), clip=0.0),
        id="aipw-clip-0",
    ),
    pytest.param(_event(window=(-2, -1)), id="event-window-ends-at-reference"),
    pytest.param(_event(window=(-1, 2)), id="event-window-starts-at-reference"),
    pytest.param(_staggered(control="not_yet", anticipation=0, bootstrap=0), id="staggered-zeros"),
    pytest.param(_synth(predictors=[("x", [1, 3])]), id="synth-first-time"),
    pytest.param(_synth(predictors=[("x", 3)]), id="synth-last-pre-time"),
    pytest.param(_synth(predictors=[("x", (1, 3), "median")]), id="synth-window-median"),
    pytest.param(_synth(placebos=0, placebo_size=1), id="synth-no-placebos"),
    pytest.param(_synth(treatment_time=3, placebos=0), id="synth-two-pre-periods"),
    pytest.param(_synth(placebos=2, placebo_size=4), id="synth-placebo-size-donors-1"),
    pytest.param(_staggered(bootstrap=99, seed=0), id="staggered-bootstrap-99"),
    pytest.param(_did(df=lambda: PANEL.filter(pl.col("u").is_in(["a", "c"]))), id="did-two-units"),
    pytest.param(_did(df=lambda: PANEL.filter(pl.col("t").is_in([3, 4]))), id="did-two-periods"),
    pytest.param(
        _did(
            allow_reversal=True, df=lambda: PANEL.with_columns(d=(pl.col("u") == "c") & (pl.col("t").is_between(3, 4)))
        ),
        id="did-reversal-allowed",
    ),
]


@pytest.mark.parametrize("call", ACCEPTED)
def test_boundary_inputs_are_accepted(call: Callable[[], Any]) -> None:
    """The edge of each documented range is inside it: these must run without a MethodInputError."""
    call()
