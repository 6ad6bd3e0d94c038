"""Synthetic control (Abadie, Diamond & Hainmueller 2010) with in-space placebo inference.

One treated unit, adopted at ``treatment_time``; every other unit of the balanced panel is a donor. The synthetic
control is a convex combination of donors (weights non-negative, summing to one):

- ``design="adh"`` without predictors matches the whole pre-period outcome path: the weights minimise the pre-period
  mean squared gap, a quadratic program solved exactly here (:func:`simplex_least_squares`; the tests check it
  against pysyncon's Synth).
- ``design="adh"`` with ``predictors`` matches the pre-period means of those columns and of the outcome, with the
  predictor weights V chosen to minimise the pre-period outcome gap (ADH's nested optimisation, pysyncon's Synth).
- ``design="demeaned"`` matches the path of each series less its pre-period mean (SC with an intercept).

Inference: each donor in turn is treated as if it had adopted, fitted with the other donors (never the treated unit);
``p_value_`` is the rank of the treated unit's post/pre RMSPE ratio among all of them, divided by donors + 1.
When the treated unit is the mean of several units, ``placebo_size`` groups of that many units play the placebos,
and ``treated_members`` with ``placebo_pool`` make that a randomisation test: each placebo group is drawn from the
pool the members were assigned from and fitted from as many units as the treated unit (see :class:`SyntheticControl`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy import optimize

from newretail.methods._frames import MethodInputError, as_polars, check_alpha, finite_numeric, require_columns
from newretail.methods._panel_data import read_panel

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["SyntheticControl", "SyntheticControlSummary", "simplex_least_squares"]

DESIGNS = ("adh", "demeaned")


def simplex_least_squares(a: np.ndarray, b: np.ndarray, *, max_iter: int = 500) -> np.ndarray:
    """Weights w >= 0 with sum(w) = 1 minimising ||a w - b||^2 (a: periods x donors).

    A primal active-set method for this quadratic program: on the current support the weights solve the
    equality-constrained least squares exactly (KKT system); a weight that would turn negative leaves the support at
    the step's boundary, and the donor whose gradient most undercuts the support's enters, until the KKT conditions
    hold. Starts from non-negative least squares with the sum constraint as a heavily weighted row.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = a.shape[1]
    if n == 1:
        return np.ones(1)
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()), 1e-12)
    a, b = a / scale, b / scale  # the solution does not change; the tolerances below become relative
    big = 1e2 * np.sqrt(a.shape[0])
    w0, _ = optimize.nnls(np.vstack([a, np.full((1, n), big)]), np.concatenate([b, [big]]), maxiter=100 * n)
    w = w0 / w0.sum() if w0.sum() > 0 else np.full(n, 1.0 / n)
    support = w > 1e-12
    gram, cross = a.T @ a, a.T @ b
    for _ in range(max_iter):
        s = np.flatnonzero(support)
        kkt = np.zeros((s.size + 1, s.size + 1))
        kkt[: s.size, : s.size] = gram[np.ix_(s, s)]
        kkt[: s.size, s.size] = kkt[s.size, : s.size] = 1.0
        sol = np.linalg.lstsq(kkt, np.concatenate([cross[s], [1.0]]), rcond=None)[0]
        target = sol[: s.size]
        if (target < -1e-14).any():  # move towards the target until a weight reaches zero; drop it
            neg = target < 0
            steps = w[s][neg] / (w[s][neg] - target[neg])
            step = float(steps.min())
            w[s] = w[s] + step * (target - w[s])
            w[s[neg][np.argmin(steps)]] = 0.0
            w = np.clip(w, 0, None)
            w /= w.sum()
            support = w > 1e-14
            continue
        w = np.zeros(n)
        w[s] = np.clip(target, 0, None)
        w /= w.sum()
        grad = gram @ w - cross
        level = float(np.mean(grad[s]))  # the gradient is equal across the support at the optimum
        slack = grad - level
        slack[s] = 0.0
        j = int(np.argmin(slack))
        if slack[j] >= -1e-12:
            break
        support = w > 0
        support[j] = True
    return w


def _predictor_weights(x0: np.ndarray, x1: np.ndarray, z0: np.ndarray, z1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ADH's nested optimisation with pysyncon's Synth: donor weights W and predictor weights V."""
    import pandas as pd
    from pysyncon import Synth

    cols = [f"d{j}" for j in range(x0.shape[1])]
    synth = Synth()
    synth.fit(
        X0=pd.DataFrame(x0, columns=cols),
        X1=pd.Series(x1, name="treated"),
        Z0=pd.DataFrame(z0, columns=cols),
        Z1=pd.Series(z1, name="treated"),
    )
    return np.asarray(synth.W, dtype=np.float64), np.asarray(synth.V, dtype=np.float64)


@dataclass(frozen=True)
class SyntheticControlSummary:
    """A fitted synthetic control: ``gap`` (time, actual, synthetic, gap), the donor ``weights``, the RMSPEs and the
    placebo rank; ``placebo_gaps`` (unit, time, gap) for the in-space placebos."""

    treated_unit: Any
    treatment_time: Any
    outcome: str
    weights: dict[Any, float]
    gap: pl.DataFrame
    pre_rmspe: float
    post_rmspe: float
    rmspe_ratio: float
    placebo_rank: int
    p_value: float
    effect: float
    placebo_gaps: pl.DataFrame = field(repr=False)

    def plot(self, ax: Axes | None = None, *, truth: float | None = None) -> Figure:
        """Two panels: actual against synthetic, and the gap over the placebo gaps in grey (``ax``: 2 axes)."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, constrained_layout=True)
        else:
            top, bottom = ax  # type: ignore[misc]
            fig = top.get_figure()
        g = self.gap
        times = g["time"].to_numpy()
        top.plot(times, g["actual"].to_numpy(), color="#d62728", label=f"{self.treated_unit}")
        top.plot(times, g["synthetic"].to_numpy(), color="#1f77b4", ls="--", label="synthetic control")
        for a in (top, bottom):
            a.axvline(self.treatment_time, color="grey", ls=":")
        top.set_ylabel(self.outcome)
        top.legend(fontsize=8, loc="best")
        for _, p in self.placebo_gaps.group_by("unit", maintain_order=True):
            bottom.plot(p["time"].to_numpy(), p["gap"].to_numpy(), color="grey", alpha=0.25, lw=0.6)
        bottom.plot(times, g["gap"].to_numpy(), color="#d62728", lw=1.6, label="actual - synthetic")
        bottom.axhline(0, color="black", lw=0.8)
        if truth is not None:
            bottom.hlines(truth, self.treatment_time, times.max(), color="black", ls="--", label="true effect")
        bottom.set(xlabel="time", ylabel="gap")
        bottom.set_title(
            f"placebos in grey; post/pre RMSPE ratio rank {self.placebo_rank}, p = {self.p_value:.3f}", fontsize=10
        )
        bottom.legend(fontsize=8, loc="best")
        return fig


class SyntheticControl:
    """Synthetic control for one treated unit with in-space placebo inference (see the module docstring).

    Parameters
    ----------
    unit, time, outcome : column names of a balanced long panel (time numeric or a date).
    treated_unit : the value of ``unit`` that was treated; treatment_time : its first treated ``time``.
    design : ``"adh"`` (outcome path, or ``predictors`` with V as in ADH) or ``"demeaned"``.
    predictors : columns whose pre-period means join the outcome's pre-period mean as matching variables.
    placebos : ``"all"`` (every donor) or a number; fewer donors than that: all of them (exact enumeration); more: a
        random draw of that many (``random_state``).
    alpha : size of the placebo test behind ``ci_``, in (0, 0.5].
    progress : show a progress bar over the placebos (None: only in a terminal and when there are more than 50).
    placebo_size : 1 (default) makes each placebo a single donor, as ADH do. When the treated unit is itself the mean
        of several units (for example 13 pilot stores), a single unit is a noisier placebo than it and the rank test
        is no longer exact; ``placebo_size`` = that number draws ``placebos`` random groups of that many donors, each
        group's mean fitted from the donors outside it (``placebos`` must then be a number).
    placebo_pool : the ``unit`` ids placebos (single units or groups) are drawn from; None (default): every donor.
        Use it to draw placebos only among units of the treated units' kind (for example the store type the pilots
        were chosen from). It may hold ``treated_members``, never ``treated_unit``; at least ``placebo_size`` ids.
    treated_members : the ``unit`` ids whose mean is ``treated_unit`` (``placebo_size`` of them), or None (default).
        They stay in the frame but are never donors of the treated unit; each placebo group is then fitted from every
        unit outside it but the treated one (members included), so a placebo has as many donors as the treated unit.
        Without them, a group of k donors is fitted from k fewer donors than the treated unit and, with short
        pre-periods, matches its pre-period worse, so the treated unit's post/pre ratio ranks high too often. With
        both, and ``placebo_pool`` the units the members were drawn at random from, the rank test is the Fisher
        randomisation test (exact under no effect). A group may then hold members, and under an effect its gap
        carries part of it, which widens ``ci_``; ``p_value_`` (a test of no effect) stays exact.

    Attributes
    ----------
    weights_ : dict donor -> weight. gap_ : frame (time, actual, synthetic, gap). pre_rmspe_, post_rmspe_,
    rmspe_ratio_ : root mean squared gap before/after ``treatment_time`` and their ratio. placebo_rank_ : rank of
    ``rmspe_ratio_`` among the treated unit and its placebos (1 = largest; ties count against the treated unit).
    p_value_ : placebo_rank_ / (placebos + 1). effect_ : mean gap after the treatment (outcome units). ci_ : the
    constant effects the placebo test of mean post-period gaps does not reject at ``alpha`` (symmetric).
    placebo_gaps_ : frame (unit, time, gap); placebo_weights_ : dict placebo -> its donor weights.
    placebo_groups_ : dict placebo -> the ``unit`` ids of its group (``placebo_size`` > 1 only).
    v_weights_ : predictor weights (predictors only).
    """

    def __init__(
        self,
        unit: str,
        time: str,
        outcome: str,
        treated_unit: Any,
        treatment_time: Any,
        *,
        design: str = "adh",
        predictors: list[str] | tuple[str, ...] | None = None,
        placebos: int | str = "all",
        alpha: float = 0.05,
        random_state: int = 0,
        progress: bool | None = None,
        placebo_size: int = 1,
        placebo_pool: list[Any] | tuple[Any, ...] | np.ndarray | None = None,
        treated_members: list[Any] | tuple[Any, ...] | np.ndarray | None = None,
    ) -> None:
        self.unit = unit
        self.time = time
        self.outcome = outcome
        self.treated_unit = treated_unit
        self.treatment_time = treatment_time
        self.design = design
        self.predictors = predictors
        self.placebos = placebos
        self.alpha = alpha
        self.random_state = random_state
        self.progress = progress
        self.placebo_size = placebo_size
        self.placebo_pool = placebo_pool
        self.treated_members = treated_members

    def _check(self) -> tuple[float, list[str]]:
        alpha = check_alpha(self.alpha)
        for arg in ("unit", "time", "outcome"):
            if not isinstance(getattr(self, arg), str):
                raise MethodInputError(f"{arg}: a column name (str) expected, got {getattr(self, arg)!r}")
        if self.design not in DESIGNS:
            raise MethodInputError(f"design: one of {', '.join(DESIGNS)}, got {self.design!r}")
        predictors = list(self.predictors or [])
        if predictors and self.design != "adh":
            raise MethodInputError("predictors: only the 'adh' design matches predictors")
        p = self.placebos
        if not (p == "all" or (isinstance(p, int) and not isinstance(p, bool) and p >= 1)):
            raise MethodInputError(f"placebos: 'all' or a whole number, 1 or more, got {p!r}")
        k = self.placebo_size
        if not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
            raise MethodInputError(f"placebo_size: a whole number, 1 or more, got {k!r}")
        if k > 1 and p == "all":
            raise MethodInputError("placebos: with placebo_size > 1 give the number of random placebo groups to draw")
        members = self.treated_members
        if members is not None and hasattr(members, "__len__") and len(members) != k:
            raise MethodInputError(f"treated_members: placebo_size ({k}) ids expected, got {len(members)}")
        return alpha, predictors

    def _ids(self, name: str, ids: Any, units: np.ndarray, target: int) -> np.ndarray:
        """Row indices of the unit ids of argument ``name`` (distinct, known, not the treated unit)."""
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
            raise MethodInputError(f"{name}: a sequence of '{self.unit}' ids expected, got {ids!r}")
        wanted = list(ids)
        where = {_py(u): i for i, u in enumerate(units)}
        unknown = [u for u in wanted if not _comparable(units, u) or _py(u) not in where]
        if unknown:
            raise MethodInputError(f"{name}: {unknown[:5]!r} not in column '{self.unit}'")
        rows = np.array(sorted({where[_py(u)] for u in wanted}), dtype=np.int64)
        if rows.size != len(wanted):
            raise MethodInputError(f"{name}: ids must be distinct")
        if target in rows:
            raise MethodInputError(f"{name}: holds the treated unit {self.treated_unit!r}")
        return rows

    def _matrix(
        self, df: Any, predictors: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
        """Outcome (units x times) and predictor pre-means (units x k), the times, units, the treated row."""
        frame = as_polars(df)
        require_columns(frame, predictors)
        panel = read_panel(frame, unit=self.unit, time=self.time, outcome=self.outcome, treated=None)
        if panel.u.size != panel.n_units * panel.times.size:
            counts = np.bincount(panel.u, minlength=panel.n_units)
            short = panel.units[int(np.argmin(counts))]
            raise MethodInputError(
                f"column '{self.time}': unit {short!r} is missing some times; synthetic control needs every unit "
                "at every time"
            )
        hit = np.flatnonzero(panel.units == self.treated_unit) if _comparable(panel.units, self.treated_unit) else None
        if hit is None or hit.size != 1:
            raise MethodInputError(f"column '{self.unit}': treated_unit {self.treated_unit!r} is not in the data")
        comparable = _comparable(panel.times, self.treatment_time)
        when = np.flatnonzero(panel.times == self.treatment_time) if comparable else None
        if when is None or when.size != 1:
            raise MethodInputError(f"column '{self.time}': treatment_time {self.treatment_time!r} is not in the data")
        if when[0] < 2:
            raise MethodInputError(
                f"column '{self.time}': synthetic control needs at least two periods before treatment_time, "
                f"found {when[0]}"
            )
        y = np.empty((panel.n_units, panel.times.size))
        y[panel.u, panel.t] = panel.y
        x = np.empty((panel.n_units, len(predictors)))
        if predictors:
            for k, name in enumerate(predictors):
                values = finite_numeric(frame[name]).to_numpy()[panel.order]
                pre = panel.t < when[0]
                x[:, k] = np.bincount(panel.u[pre], weights=values[pre], minlength=panel.n_units) / when[0]
                if np.ptp(x[:, k]) == 0:  # pysyncon standardizes predictors: a zero spread would fit nothing
                    raise MethodInputError(
                        f"predictors: {name!r} has the same pre-treatment mean in every unit, so it cannot weigh "
                        "donors; drop it"
                    )
        return y, x, panel.times, panel.units, int(hit[0]), int(when[0])

    def _gap(self, y: np.ndarray, x: np.ndarray, target: int, donors: np.ndarray, t0: int) -> tuple[np.ndarray, ...]:
        """Gap path, synthetic path and donor weights for unit ``target`` from ``donors``."""
        if self.design == "demeaned":
            series = y - y[:, :t0].mean(axis=1, keepdims=True)
            w = simplex_least_squares(series[donors, :t0].T, series[target, :t0])
            gap = series[target] - w @ series[donors]
            return gap, y[target] - gap, w, np.empty(0)
        if x.shape[1]:
            xs = np.column_stack([x, y[:, :t0].mean(axis=1)])
            cols = np.concatenate([donors, [target]])
            xs = xs / xs[cols].std(axis=0, ddof=1).clip(1e-12)
            w, v = _predictor_weights(xs[donors].T, xs[target], y[donors, :t0].T, y[target, :t0])
        else:
            w, v = simplex_least_squares(y[donors, :t0].T, y[target, :t0]), np.empty(0)
        synthetic = w @ y[donors]
        return y[target] - synthetic, synthetic, w, v

    def fit(self, df: Any) -> SyntheticControl:
        """Fit on a long frame (polars or pandas); returns self."""
        alpha, predictors = self._check()
        y, x, times, units, target, t0 = self._matrix(df, predictors)
        others = np.delete(np.arange(units.size), target)  # the units placebos are fitted from
        members = np.empty(0, dtype=np.int64)
        if self.treated_members is not None:
            members = self._ids("treated_members", self.treated_members, units, target)
        donors = np.setdiff1d(others, members)
        pool = donors
        if self.placebo_pool is not None:
            pool = self._ids("placebo_pool", self.placebo_pool, units, target)
            if pool.size < self.placebo_size:
                raise MethodInputError(f"placebo_pool: {pool.size} ids, fewer than placebo_size ({self.placebo_size})")
        gap, synthetic, w, v = self._gap(y, x, target, donors, t0)

        def rmspe(g: np.ndarray) -> tuple[float, float]:
            return float(np.sqrt(np.mean(g[:t0] ** 2))), float(np.sqrt(np.mean(g[t0:] ** 2)))

        pre, post = rmspe(gap)
        if self.placebo_size > 1:
            ratios, effects, paths, labels = self._group_placebos(y, x, units, pool, others, t0, rmspe)
        else:
            ratios, effects, paths, labels = self._unit_placebos(y, x, units, pool, others, t0, rmspe)
        ratio = post / pre if pre > 0 else float("inf")
        self.weights_ = {_py(units[d]): float(wd) for d, wd in zip(donors, w, strict=True)}
        self.gap_ = pl.DataFrame({"time": times, "actual": y[target], "synthetic": synthetic, "gap": gap})
        self.pre_rmspe_, self.post_rmspe_, self.rmspe_ratio_ = pre, post, ratio
        self.placebo_ratios_ = {label: float(r) for label, r in zip(labels, ratios, strict=True)}
        self.placebo_rank_ = 1 + int(np.sum(np.asarray(ratios) >= ratio))
        self.p_value_ = self.placebo_rank_ / (len(ratios) + 1)
        self.effect_ = float(gap[t0:].mean())
        self.placebo_effects_ = np.asarray(effects)
        size = np.abs(self.placebo_effects_)
        j = int(np.floor(alpha * (size.size + 1)))  # the j-th largest |placebo effect| bounds the accepted region
        half = float(np.sort(size)[::-1][j - 1]) if j >= 1 else float("inf")
        self.ci_ = (self.effect_ - half, self.effect_ + half)
        self.placebo_gaps_ = pl.DataFrame(
            {
                "unit": np.repeat(np.asarray(labels), times.size),
                "time": np.tile(times, len(labels)),
                "gap": np.concatenate(paths) if paths else np.empty(0),
            }
        )
        self.v_weights_ = dict(zip([*predictors, self.outcome], v.tolist(), strict=False)) if v.size else {}
        return self

    def _unit_placebos(
        self,
        y: np.ndarray,
        x: np.ndarray,
        units: np.ndarray,
        pool: np.ndarray,
        donors: np.ndarray,
        t0: int,
        rmspe: Any,
    ) -> tuple[list[float], list[float], list[np.ndarray], list[Any]]:
        """Each unit of ``pool`` in turn (or a random subset of ``placebos`` of them) fitted from the other
        ``donors``."""
        chosen = pool
        if self.placebos != "all" and int(self.placebos) < pool.size:
            rng = np.random.default_rng(self.random_state)
            chosen = np.sort(rng.choice(pool, size=int(self.placebos), replace=False))
        ratios, effects, paths = [], [], []
        self.placebo_weights_: dict[Any, dict[Any, float]] = {}
        for j in _progress(chosen, self.progress):
            rest = np.setdiff1d(donors, [j])  # the treated unit is never a placebo's donor
            g, _, wj, _ = self._gap(y, x, int(j), rest, t0)
            self.placebo_weights_[_py(units[j])] = _positive_weights(units, rest, wj)
            p_pre, p_post = rmspe(g)
            ratios.append(p_post / p_pre if p_pre > 0 else np.inf)
            effects.append(float(g[t0:].mean()))
            paths.append(g)
        return ratios, effects, paths, [_py(units[j]) for j in chosen]

    def _group_placebos(
        self,
        y: np.ndarray,
        x: np.ndarray,
        units: np.ndarray,
        pool: np.ndarray,
        donors: np.ndarray,
        t0: int,
        rmspe: Any,
    ) -> tuple[list[float], list[float], list[np.ndarray], list[Any]]:
        """``placebos`` random groups of ``placebo_size`` units of ``pool``, each group's mean fitted from the
        ``donors`` outside it: placebos that look like a treated unit that is itself the mean of that many units."""
        k = self.placebo_size
        if k > donors.size - 1:
            raise MethodInputError(
                f"placebo_size: {k} leaves no donor to fit a placebo group from ({donors.size} donors)"
            )
        rng = np.random.default_rng(self.random_state)
        ratios, effects, paths = [], [], []
        self.placebo_weights_, self.placebo_groups_ = {}, {}
        for r in _progress(np.arange(int(self.placebos)), self.progress):
            group = np.sort(rng.choice(pool, size=k, replace=False))
            self.placebo_groups_[int(r)] = [_py(u) for u in units[group]]
            rest = np.setdiff1d(donors, group)
            yy, xx = np.vstack([y, y[group].mean(axis=0)]), np.vstack([x, x[group].mean(axis=0)])
            g, _, wj, _ = self._gap(yy, xx, yy.shape[0] - 1, rest, t0)
            self.placebo_weights_[int(r)] = _positive_weights(units, rest, wj)
            p_pre, p_post = rmspe(g)
            ratios.append(p_post / p_pre if p_pre > 0 else np.inf)
            effects.append(float(g[t0:].mean()))
            paths.append(g)
        return ratios, effects, paths, list(range(int(self.placebos)))

    def summary(self) -> SyntheticControlSummary:
        """The fit as a frozen result (call :meth:`fit` first)."""
        if not hasattr(self, "gap_"):
            raise MethodInputError("SyntheticControl: call fit(df) before summary()")
        return SyntheticControlSummary(
            self.treated_unit,
            self.treatment_time,
            self.outcome,
            dict(self.weights_),
            self.gap_,
            self.pre_rmspe_,
            self.post_rmspe_,
            self.rmspe_ratio_,
            self.placebo_rank_,
            self.p_value_,
            self.effect_,
            self.placebo_gaps_,
        )

    def plot(self, ax: Any = None, *, truth: float | None = None) -> Figure:
        """Shortcut for ``summary().plot(...)``."""
        return self.summary().plot(ax, truth=truth)


def _comparable(values: np.ndarray, value: Any) -> bool:
    """Whether ``value`` can be compared with the entries of ``values`` (a string never equals a number)."""
    if values.dtype.kind in "OUS":
        return isinstance(value, str)
    if values.dtype.kind in "iuf":
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return True


def _positive_weights(units: np.ndarray, donors: np.ndarray, weights: np.ndarray) -> dict[Any, float]:
    """A placebo's donor weights keyed by unit id (``donors`` index ``units``), the zero weights left out."""
    return {_py(units[d]): float(v) for d, v in zip(donors, weights, strict=True) if v > 0}


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _progress(items: np.ndarray, show: bool | None) -> Any:
    if show is None:
        show = items.size > 50 and sys.stderr.isatty()
    if not show:
        return items
    from rich.progress import track

    return track(items, description="placebos", transient=True)
