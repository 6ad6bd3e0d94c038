"""Intervals that survive dependence: random-group totals of whole clusters, a bootstrap over them, and the
multi-way cluster-robust (linearised) variance of a smooth statistic of totals, with its design effect.

A sampled table's rows are correlated within a user (one user has several visits, orders and pages), so the
sampling error of a total or a ratio is estimated from *random groups* of whole clusters: every row goes to group
``cluster_id % groups``. The groups are independent and identically distributed, so the spread of their totals
measures the sampling error (the random-group variance estimator of survey sampling). One lazy ``group_by`` per
table gives all the totals, with memory bounded by ``groups``, and per-partition totals add up exactly, so the
same numbers can be computed partition by partition on a cluster.

When rows depend along two crossed clusterings (a banner impression shares its shopper with some rows and its
design with others), no single grouping holds every dependent pair together. :func:`multiway_interval` then adds
the linearised variances of the statistic over random groups of each clustering and subtracts that over groups of
their intersection (Cameron, Gelbach and Miller 2011, "Robust inference with multiway clustering", J. Bus. Econ.
Stat. 29(2)); it also reports the design effect, that variance over the variance under independent rows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from newretail.methods._frames import MethodInputError, check_alpha, shown
from newretail.methods._results import Term, Tidy

__all__ = [
    "CONFIDENCE",
    "GROUPS",
    "Clustered",
    "Estimate",
    "bootstrap_interval",
    "group_totals",
    "multiway_interval",
    "ratio_interval",
    "total_interval",
]

GROUPS = 100  # random groups of clusters; the bootstrap resamples these
N_RESAMPLES = 2000
BOOTSTRAP_SEED = 20171111  # intervals are deterministic for a given dataset
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate(Tidy):
    """A value and its 95% confidence interval, in the unit of the quantity estimated.

    ``value`` (also read as ``estimate``, the name every result shares) with ``ci_low``/``ci_high``; ``se``,
    ``p_value`` and ``n`` (the random groups or rows behind it) when the method gives them, else NaN and 0; ``name``
    labels the row of ``tidy()`` and ``method`` says how the interval was made.
    """

    value: float
    ci_low: float
    ci_high: float
    # what describes the estimate rather than is it: two Estimates with the same value and interval are equal
    se: float = field(default=math.nan, compare=False)
    p_value: float = field(default=math.nan, compare=False)
    n: int = field(default=0, compare=False)
    name: str = field(default="estimate", compare=False)
    method: str = field(default="random-group bootstrap (BCa), 95%", compare=False)

    @property
    def estimate(self) -> float:
        """The value (the name every result shares)."""
        return self.value

    def _terms(self) -> list[Term]:
        return [Term(self.name, self.value, self.se, self.ci_low, self.ci_high, self.p_value, self.n)]

    def _design(self) -> str:
        return self.method


def group_totals(
    lf: pl.LazyFrame, *, cluster: pl.Expr, sums: Mapping[str, pl.Expr], groups: int = GROUPS
) -> dict[str, np.ndarray]:
    """Totals of ``sums`` within each random group of clusters (``cluster % groups``), as arrays of ``groups``.

    Groups without rows (tiny samples) are zeros. The query streams.
    """
    if not isinstance(groups, int) or groups < 2:
        raise MethodInputError(f"groups = {shown(groups)}: must be a whole number of at least 2")
    if not sums:
        raise MethodInputError("sums: give at least one named expression to total")
    key = (cluster % groups).cast(pl.Int64).alias("_group")
    found = (
        lf.group_by(key)
        .agg(**{name: expr.cast(pl.Float64).sum() for name, expr in sums.items()})
        .collect(engine="streaming")
    )
    full = pl.DataFrame({"_group": np.arange(groups, dtype=np.int64)}).join(found, on="_group", how="left")
    return {name: full[name].fill_null(0.0).to_numpy().astype(np.float64) for name in sums}


def _settled(x: np.ndarray) -> np.ndarray:
    """Group totals rounded to 12 significant digits.

    The same totals added in another order (partition by partition, or on another worker) differ in the last bits;
    the BCa bias correction counts bootstrap values below the estimate, so on the lattice of a small sample's counts
    a one-ulp difference can move an interval end by a step. Rounding far below any sampling error makes the
    interval a function of the totals, not of their order of addition.
    """
    a = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = np.where((a != 0) & np.isfinite(a), 11 - np.floor(np.log10(np.abs(a))), 0).astype(np.int64)
    return np.array([round(float(v), int(d)) for v, d in zip(a.ravel(), digits.ravel(), strict=True)]).reshape(a.shape)


def bootstrap_interval(
    samples: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    *,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap interval (BCa, percentile where BCa is undefined) of a statistic of paired group totals.

    ``statistic(*samples, axis=-1)`` must be vectorised and may return one value or a vector of values.
    Groups of independent samples may be paired arbitrarily (group b of one with group b of the other): the
    pairs are still independent and identically distributed, so resampling pairs is valid.
    """
    from scipy import stats

    samples = tuple(_settled(s) for s in samples)
    kwargs = {
        "paired": True,
        "vectorized": True,
        "n_resamples": N_RESAMPLES,
        "confidence_level": confidence,
        "rng": np.random.default_rng(BOOTSTRAP_SEED),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(samples, statistic, method="BCa", **kwargs)
        low, high = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            kwargs["rng"] = np.random.default_rng(BOOTSTRAP_SEED)
            res = stats.bootstrap(samples, statistic, method="percentile", **kwargs)
            low, high = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
    return low.astype(np.float64), high.astype(np.float64)


def total_interval(groups: np.ndarray, *, confidence: float = CONFIDENCE) -> Estimate:
    """A total and its bootstrap interval, from its random-group totals."""

    def total(x: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(x, axis=axis)

    groups = _settled(groups)
    low, high = bootstrap_interval((groups,), total, confidence=confidence)
    return Estimate(float(groups.sum()), float(low[0]), float(high[0]), n=int(groups.size), name="total")


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray, *, confidence: float = CONFIDENCE) -> Estimate:
    """A ratio of two totals and its bootstrap interval, from their random-group totals."""

    def ratio(num: np.ndarray, den: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(num, axis=axis) / np.sum(den, axis=axis)

    numerator, denominator = _settled(numerator), _settled(denominator)
    low, high = bootstrap_interval((numerator, denominator), ratio, confidence=confidence)
    value = float(numerator.sum() / denominator.sum())
    return Estimate(value, float(low[0]), float(high[0]), n=int(numerator.size), name="ratio")


@dataclass(frozen=True)
class Clustered:
    """A statistic with its cluster-robust interval, the variance it comes from and the design effect.

    Attributes
    ----------
    estimate : value and 95% interval (normal on the log scale when ``log`` was asked, else on the value's scale).
    variance : cluster-robust variance of the statistic (value's unit squared).
    iid_variance : the same variance computed as if every row were independent.
    design_effect : ``variance / iid_variance`` (1 = no dependence; > 1 the iid interval is too narrow by its root).
    clusters : names of the clusterings used.
    """

    estimate: Estimate
    variance: float
    iid_variance: float
    design_effect: float
    clusters: tuple[str, ...]


def _linearised_variance(groups: Mapping[str, np.ndarray], names: tuple[str, ...], grad: np.ndarray) -> float:
    """Random-group variance of the linearised statistic: G/(G-1) sum_g (u_g - mean u)^2, u_g = grad . T_g."""
    t = np.stack([np.asarray(groups[n], dtype=np.float64) for n in names], axis=1)
    u = (t * grad[None, :]).sum(axis=1)  # a plain sum, not BLAS: the same numbers whatever the threads
    g = u.size
    return float(g / (g - 1) * np.sum((u - u.mean()) ** 2))


def multiway_interval(
    by_clustering: Mapping[str, Mapping[str, np.ndarray]],
    statistic: Callable[..., float],
    *,
    iid: Mapping[str, np.ndarray],
    intersections: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    log: bool = False,
    confidence: float = CONFIDENCE,
) -> Clustered:
    """Multi-way cluster-robust interval of a smooth statistic of totals, by linearisation over random groups.

    Parameters
    ----------
    by_clustering : for each clustering (e.g. ``"shopper"``, ``"design"``), the random-group totals of every
        named sum, as from :func:`group_totals` with that clustering's key. Each must hold the same sums.
    statistic : ``statistic(**totals) -> float`` of the overall totals (e.g. a ratio of two CTRs).
    iid : random-group totals with one row per cluster (a row key): the variance under independence.
    intersections : for two clusterings, totals over random groups of their intersection (a key combining both
        ids); the variance is then V_a + V_b - V_ab, floored at max(V_a, V_b). With one clustering, omit.
    log : interval on the log scale (positive statistics such as ratios and counts).
    confidence : coverage of the interval, in (0, 1).
    """
    from scipy import stats

    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 <= confidence < 1:
        raise MethodInputError(f"confidence = {shown(confidence)}: must be a number in [0.5, 1)")
    alpha = check_alpha(1.0 - confidence)
    if not by_clustering:
        raise MethodInputError("by_clustering: give the group totals of at least one clustering")
    if len(by_clustering) > 2:
        raise MethodInputError("by_clustering: at most two clusterings")
    if len(by_clustering) == 2 and not intersections:
        raise MethodInputError("intersections: two clusterings need the totals of their intersection")
    names = tuple(iid)
    for label, groups in {**by_clustering, **(intersections or {})}.items():
        if set(groups) != set(names):
            raise MethodInputError(f"by_clustering['{label}']: sums {sorted(groups)} differ from iid's {sorted(names)}")
    totals = np.array([float(np.sum(iid[n])) for n in names])
    value = float(statistic(**dict(zip(names, totals, strict=True))))
    if not np.isfinite(value) or (log and value <= 0):
        return Clustered(Estimate(value, math.nan, math.nan), math.nan, math.nan, math.nan, tuple(by_clustering))
    grad = np.zeros(len(names))
    for k in range(len(names)):  # central differences, relative steps
        h = 1e-6 * max(abs(totals[k]), 1e-12)
        up, down = totals.copy(), totals.copy()
        up[k] += h
        down[k] -= h
        grad[k] = (
            float(statistic(**dict(zip(names, up, strict=True))))
            - float(statistic(**dict(zip(names, down, strict=True))))
        ) / (2 * h)
    parts = [_linearised_variance(g, names, grad) for g in by_clustering.values()]
    variance = parts[0]
    if len(parts) == 2 and intersections:
        inter = _linearised_variance(next(iter(intersections.values())), names, grad)
        variance = max(parts[0] + parts[1] - inter, max(parts))
    iid_var = _linearised_variance(iid, names, grad)
    z = float(stats.norm.isf(alpha / 2))
    scale = "log scale" if log else "value scale"
    how = f"linearised, cluster-robust by {', '.join(by_clustering)}; normal on the {scale}, {confidence:.0%}"
    if log:
        half = z * math.sqrt(variance) / value
        est = Estimate(value, value * math.exp(-half), value * math.exp(half), se=math.sqrt(variance), method=how)
    else:
        half = z * math.sqrt(variance)
        est = Estimate(value, value - half, value + half, se=math.sqrt(variance), method=how)
    deff = variance / iid_var if iid_var > 0 else math.nan
    return Clustered(est, variance, iid_var, deff, tuple(by_clustering))
