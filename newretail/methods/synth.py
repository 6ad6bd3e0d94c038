"""Synthetic control (Abadie, Diamond & Hainmueller 2010) with in-space placebo inference.

One treated unit, adopted at ``treatment_time``; every other unit of the balanced panel is a donor. The synthetic
control is a convex combination of donors (weights non-negative, summing to one):

- ``design="adh"`` without predictors matches the whole pre-period outcome path: the weights minimise the pre-period
  mean squared gap, a quadratic program solved exactly (:func:`simplex_least_squares`; the tests check it against
  pysyncon's Synth).
- ``design="adh"`` with ``predictors`` matches those (each a column read over its own window and summarised, see
  :mod:`newretail.methods._synth_predictors`), weighted by V: chosen to minimise the pre-period outcome gap
  (``v="outcome"``, ADH 2010's nested optimisation), given (``v="custom"``), or cross-validated (``v="cv"``, ADH 2015:
  W fitted on predictors of a training period, V judged on the validation period's outcomes, the final W fitted on
  the validation period's predictors). The inner problem is the same exact QP; ties among weight vectors that match
  the predictors equally well go to the one matching the pre-period outcomes best (:mod:`._synth_weights`).
- ``design="demeaned"`` matches the path of each series less its pre-period mean (SC with an intercept).

Inference: each donor in turn is treated as if it had adopted, fitted with the other donors (never the treated unit);
``p_value_`` is the treated unit's rank among the post/pre RMSPE ratios of it and its placebos, divided by their
number. Ties count against the treated unit (rank = 1 + the placebos whose ratio is at least the treated unit's, as
ADH's p-value counts them), so tied infinite ratios (pre-periods fitted exactly) make p larger, never smaller.
When the treated unit is the mean of several units, ``placebo_size`` groups of that many units play the placebos,
and ``treated_members`` with ``placebo_pool`` make that a randomisation test: each placebo group is drawn from the
pool the members were assigned from and fitted from as many units as the treated unit (see :class:`SyntheticControl`).
``placebos=0`` skips the placebos (no p-value, rank or interval).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from newretail.methods._frames import MethodInputError, check_alpha, shown
from newretail.methods._synth_data import _Data, _rmspe, _standardized, read_synth_data
from newretail.methods._synth_predictors import Predictor, _comparable, parse_predictors
from newretail.methods._synth_result import SyntheticControlSummary
from newretail.methods._synth_weights import predictor_weights, search_v, simplex_least_squares

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SyntheticControl", "SyntheticControlSummary", "simplex_least_squares"]

DESIGNS = ("adh", "demeaned")
V_CHOICES = ("outcome", "custom", "cv")


class SyntheticControl:
    """Synthetic control for one treated unit with in-space placebo inference (see the module docstring).

    Parameters
    ----------
    unit, time, outcome : column names of a balanced long panel (time numeric or a date).
    treated_unit : the value of ``unit`` that was treated; treatment_time : its first treated ``time``.
    design : ``"adh"`` (outcome path, or ``predictors`` with V as in ADH) or ``"demeaned"``.
    predictors : the matching variables (``"adh"`` only), each a column name (its pre-period mean), ``(column,
        time)``, ``(column, (first, last)[, how])`` or ``(column, [times][, how])`` with ``how`` "mean" or "median"
        (:mod:`newretail.methods._synth_predictors`), e.g. ``[("cigsale", (1975, 1980)), ("beer", (1984, 1988)),
        ("cigsale", 1988)]``. The outcome's pre-period mean joins them unless one reads the outcome. Predictors are
        standardized (divided by their standard deviation across the units) before V weighs them.
    v : how predictors are weighed: ``"outcome"`` (default: the V whose synthetic control best matches the
        pre-period outcomes, ADH 2010), ``"custom"`` (``custom_v``; or pass the vector itself as ``v``) or ``"cv"``
        (ADH 2015: W fitted on the predictors read in the training period, before ``cv_split``; V chosen by the
        outcome gap in the validation period, from ``cv_split`` to the treatment; the final W on the predictors read
        in the validation period).
    custom_v : one non-negative weight per predictor (the outcome's mean last, when it was added), normalised to sum
        to one; ``v="custom"`` only.
    cv_split : the first time of the validation period (``v="cv"``; default: the pre-period's middle time).
    cv_predictors : the predictors of the training fit, when they are not ``predictors`` read over the training
        period (``v="cv"``; every window before ``cv_split``).
    placebos : ``"all"`` (every donor), a number (fewer donors than that: all of them; more: a random draw of that
        many, ``random_state``) or 0 (no placebos: no p-value, rank or interval).
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
    treated_label : the treated unit's name in plots and summaries (default: its id, or "mean of k treated units"
        with ``treated_members``).

    Attributes
    ----------
    weights_ : dict donor -> weight. gap_ : frame (time, actual, synthetic, gap). pre_rmspe_, post_rmspe_,
    rmspe_ratio_ : root mean squared gap before/after ``treatment_time`` and their ratio. placebo_rank_ : rank of
    ``rmspe_ratio_`` among the treated unit and its placebos (1 = largest; ties count against the treated unit: 1 +
    the placebos whose ratio is at least the treated unit's). p_value_ : placebo_rank_ / (placebos + 1).
    effect_ : mean gap after the treatment (outcome units). ci_ : the constant effects the placebo test of mean
    post-period gaps does not reject at ``alpha`` (symmetric). placebo_gaps_ : frame (unit, time, gap);
    placebo_weights_ : dict placebo -> its donor weights. placebo_groups_ : dict placebo -> the ``unit`` ids of its
    group (``placebo_size`` > 1 only). v_weights_ : predictor label -> weight in V (predictors only).
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
        predictors: Sequence[Any] | None = None,
        v: str | Sequence[float] = "outcome",
        custom_v: Sequence[float] | None = None,
        cv_split: Any = None,
        cv_predictors: Sequence[Any] | None = None,
        placebos: int | str = "all",
        alpha: float = 0.05,
        random_state: int = 0,
        progress: bool | None = None,
        placebo_size: int = 1,
        placebo_pool: list[Any] | tuple[Any, ...] | np.ndarray | None = None,
        treated_members: list[Any] | tuple[Any, ...] | np.ndarray | None = None,
        treated_label: str | None = None,
    ) -> None:
        self.unit = unit
        self.time = time
        self.outcome = outcome
        self.treated_unit = treated_unit
        self.treatment_time = treatment_time
        self.design = design
        self.predictors = predictors
        self.v = v
        self.custom_v = custom_v
        self.cv_split = cv_split
        self.cv_predictors = cv_predictors
        self.placebos = placebos
        self.alpha = alpha
        self.random_state = random_state
        self.progress = progress
        self.placebo_size = placebo_size
        self.placebo_pool = placebo_pool
        self.treated_members = treated_members
        self.treated_label = treated_label

    def _check(self) -> tuple[float, list[Predictor]]:
        alpha = check_alpha(self.alpha)
        for arg in ("unit", "time", "outcome"):
            if not isinstance(getattr(self, arg), str):
                raise MethodInputError(f"{arg}: a column name (str) expected, got {shown(getattr(self, arg))}")
        if self.design not in DESIGNS:
            raise MethodInputError(f"design: one of {', '.join(DESIGNS)}, got {shown(self.design)}")
        predictors = parse_predictors(self.predictors or [], self.outcome)
        if predictors and self.design != "adh":
            raise MethodInputError("predictors: only the 'adh' design matches predictors")
        mode = self._v_mode()
        if mode != "outcome" and not predictors:
            raise MethodInputError(f"v: {shown(mode)} weighs predictors; give predictors (or leave v='outcome')")
        p = self.placebos
        if not (p == "all" or (isinstance(p, int) and not isinstance(p, bool) and p >= 0)):
            raise MethodInputError(f"placebos: 'all', 0 (none) or a whole number, got {shown(p)}")
        k = self.placebo_size
        if not (isinstance(k, int) and not isinstance(k, bool) and k >= 1):
            raise MethodInputError(f"placebo_size: a whole number, 1 or more, got {shown(k)}")
        if k > 1 and p == "all":
            raise MethodInputError("placebos: with placebo_size > 1 give the number of random placebo groups to draw")
        members = self.treated_members
        if members is not None and hasattr(members, "__len__") and len(members) != k:
            raise MethodInputError(f"treated_members: placebo_size ({k}) ids expected, got {len(members)}")
        if self.treated_label is not None and not isinstance(self.treated_label, str):
            raise MethodInputError(f"treated_label: a str or None expected, got {shown(self.treated_label)}")
        return alpha, predictors

    def _v_mode(self) -> str:
        if isinstance(self.v, str):
            if self.v not in V_CHOICES:
                raise MethodInputError(f"v: one of {', '.join(V_CHOICES)} or a vector of weights, got {shown(self.v)}")
            return self.v
        return "custom"

    def _custom_v(self, labels: list[str]) -> np.ndarray:
        given = self.custom_v if isinstance(self.v, str) else self.v
        if given is None:
            raise MethodInputError(f"custom_v: v='custom' needs one weight per predictor ({', '.join(labels)})")
        try:
            v = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            raise MethodInputError(f"custom_v: numbers expected, got {shown(given)}") from None
        if v.shape != (len(labels),):
            raise MethodInputError(f"custom_v: {len(labels)} weights expected ({', '.join(labels)}), got {v.size}")
        if not (np.all(np.isfinite(v)) and np.all(v >= 0) and v.sum() > 0):
            raise MethodInputError(f"custom_v: weights must be finite, >= 0 and not all 0, got {shown(v.tolist())}")
        return v / v.sum()

    def _ids(self, name: str, ids: Any, units: np.ndarray, target: int) -> np.ndarray:
        """Row indices of the unit ids of argument ``name`` (distinct, known, not the treated unit)."""
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
            raise MethodInputError(f"{name}: a sequence of '{self.unit}' ids expected, got {shown(ids)}")
        wanted = list(ids)
        where = {_py(u): i for i, u in enumerate(units)}
        unknown = [u for u in wanted if not _comparable(units, u) or _py(u) not in where]
        if unknown:
            raise MethodInputError(f"{name}: {shown(unknown[:5])} not in column '{self.unit}'")
        rows = np.array(sorted({where[_py(u)] for u in wanted}), dtype=np.int64)
        if rows.size != len(wanted):
            raise MethodInputError(f"{name}: ids must be distinct")
        if target in rows:
            raise MethodInputError(f"{name}: holds the treated unit {shown(self.treated_unit)}")
        return rows

    def _matrix(self, df: Any, predictors: list[Predictor]) -> tuple[_Data, np.ndarray, np.ndarray, int]:
        """The fit's data, the times, the units and the treated unit's row."""
        cv = self._v_mode() == "cv"
        train = parse_predictors(self.cv_predictors, self.outcome) if cv and self.cv_predictors else predictors
        return read_synth_data(
            df, unit=self.unit, time=self.time, outcome=self.outcome, treated_unit=self.treated_unit,
            treatment_time=self.treatment_time, predictors=predictors,
            cv_split=(self.cv_split, train) if cv else None,
        )  # fmt: skip

    def _gap(self, data: _Data, target: int, donors: np.ndarray) -> tuple[np.ndarray, ...]:
        """Gap path, synthetic path, donor weights and predictor weights for unit ``target`` from ``donors``."""
        y, t0 = data.y, data.t0
        if self.design == "demeaned":
            series = y - y[:, :t0].mean(axis=1, keepdims=True)
            w = simplex_least_squares(series[donors, :t0].T, series[target, :t0])
            gap = series[target] - w @ series[donors]
            return gap, y[target] - gap, w, np.empty(0)
        v = np.empty(0)
        if data.x.shape[1]:
            x0, x1 = _standardized(data.x, target, donors)
            z0, z1 = y[donors, :t0].T, y[target, :t0]
            mode = self._v_mode()
            if mode == "custom":
                v = self._v_given
            elif mode == "outcome":
                v = search_v(x0, x1, z0, z1)
            else:
                xt0, xt1 = _standardized(data.x_train, target, donors)
                s = data.split
                v = search_v(xt0, xt1, y[donors, :s].T, y[target, :s], validation=(y[donors, s:t0].T, y[target, s:t0]))
            w, _ = predictor_weights(x0, x1, z0, z1, v)
        else:
            w = simplex_least_squares(y[donors, :t0].T, y[target, :t0])
        synthetic = w @ y[donors]
        return y[target] - synthetic, synthetic, w, v

    def fit(self, df: Any) -> SyntheticControl:
        """Fit on a long frame (polars or pandas); returns self."""
        alpha, predictors = self._check()
        data, times, units, target = self._matrix(df, predictors)
        labels = [p.label for p in predictors]
        self._v_given = self._custom_v(labels) if self._v_mode() == "custom" else np.empty(0)
        t0 = data.t0
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
        gap, synthetic, w, v = self._gap(data, target, donors)
        pre, post = _rmspe(gap, t0)
        self.placebo_weights_: dict[Any, dict[Any, float]] = {}
        ratios: list[float] = []
        effects: list[float] = []
        paths: list[np.ndarray] = []
        labels_p: list[Any] = []
        if self.placebos == 0:
            pass
        elif self.placebo_size > 1:
            ratios, effects, paths, labels_p = self._group_placebos(data, units, pool, others)
        else:
            ratios, effects, paths, labels_p = self._unit_placebos(data, units, pool, others)
        ratio = post / pre if pre > 0 else float("inf")
        self.weights_ = {_py(units[d]): float(wd) for d, wd in zip(donors, w, strict=True)}
        self.gap_ = pl.DataFrame({"time": times, "actual": data.y[target], "synthetic": synthetic, "gap": gap})
        self.pre_rmspe_, self.post_rmspe_, self.rmspe_ratio_ = pre, post, ratio
        self.placebo_ratios_ = {label: float(r) for label, r in zip(labels_p, ratios, strict=True)}
        self.effect_ = float(gap[t0:].mean())
        self.placebo_effects_ = np.asarray(effects)
        self._rank(np.asarray(ratios, dtype=np.float64), ratio, alpha)
        self.placebo_gaps_ = pl.DataFrame(
            {
                "unit": np.repeat(np.asarray(labels_p), times.size),
                "time": np.tile(times, len(labels_p)),
                "gap": np.concatenate(paths) if paths else np.empty(0),
            }
        )
        self.v_weights_ = dict(zip(labels, v.tolist(), strict=True)) if v.size else {}
        self.units_ = int(units.size)
        return self

    def _rank(self, ratios: np.ndarray, ratio: float, alpha: float) -> None:
        """ADH's placebo rank (ties count against the treated unit), p-value and the test-inversion interval."""
        if ratios.size == 0:
            self.placebo_rank_: int | None = None
            self.p_value_ = math.nan
            self.ci_ = (math.nan, math.nan)
            return
        self.placebo_rank_ = 1 + int(np.sum(ratios >= ratio))
        self.p_value_ = self.placebo_rank_ / (ratios.size + 1)
        size = np.abs(self.placebo_effects_)
        j = int(np.floor(alpha * (size.size + 1)))  # the j-th largest |placebo effect| bounds the accepted region
        half = float(np.sort(size)[::-1][j - 1]) if j >= 1 else float("inf")
        self.ci_ = (self.effect_ - half, self.effect_ + half)

    def _unit_placebos(
        self, data: _Data, units: np.ndarray, pool: np.ndarray, donors: np.ndarray
    ) -> tuple[list[float], list[float], list[np.ndarray], list[Any]]:
        """Each unit of ``pool`` in turn (or a random subset of ``placebos`` of them) fitted from the other
        ``donors``."""
        chosen = pool
        if self.placebos != "all" and int(self.placebos) < pool.size:
            rng = np.random.default_rng(self.random_state)
            chosen = np.sort(rng.choice(pool, size=int(self.placebos), replace=False))
        ratios, effects, paths = [], [], []
        for j in _progress(chosen, self.progress):
            rest = np.setdiff1d(donors, [j])  # the treated unit is never a placebo's donor
            g, _, wj, _ = self._gap(data, int(j), rest)
            self.placebo_weights_[_py(units[j])] = _positive_weights(units, rest, wj)
            p_pre, p_post = _rmspe(g, data.t0)
            ratios.append(p_post / p_pre if p_pre > 0 else np.inf)
            effects.append(float(g[data.t0 :].mean()))
            paths.append(g)
        return ratios, effects, paths, [_py(units[j]) for j in chosen]

    def _group_placebos(
        self, data: _Data, units: np.ndarray, pool: np.ndarray, donors: np.ndarray
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
        self.placebo_groups_: dict[int, list[Any]] = {}
        for r in _progress(np.arange(int(self.placebos)), self.progress):
            group = np.sort(rng.choice(pool, size=k, replace=False))
            self.placebo_groups_[int(r)] = [_py(u) for u in units[group]]
            rest = np.setdiff1d(donors, group)
            grouped = data.with_mean_of(group)
            g, _, wj, _ = self._gap(grouped, grouped.y.shape[0] - 1, rest)
            self.placebo_weights_[int(r)] = _positive_weights(units, rest, wj)
            p_pre, p_post = _rmspe(g, data.t0)
            ratios.append(p_post / p_pre if p_pre > 0 else np.inf)
            effects.append(float(g[data.t0 :].mean()))
            paths.append(g)
        return ratios, effects, paths, list(range(int(self.placebos)))

    def _label(self) -> str:
        if self.treated_label is not None:
            return self.treated_label
        if self.treated_members is not None:
            return f"mean of {len(self.treated_members)} treated units"
        return str(self.treated_unit)

    def summary(self) -> SyntheticControlSummary:
        """The fit as a frozen result (call :meth:`fit` first); its ``summary()`` and ``tidy()`` give the table."""
        if not hasattr(self, "gap_"):
            raise MethodInputError("SyntheticControl: call fit(df) before summary()")
        placebos = 0 if self.placebo_rank_ is None else len(self.placebo_ratios_)
        predictors = f", {len(self.v_weights_)} predictors, V by {self._v_mode()}" if self.v_weights_ else ""
        design = f"synthetic control ({self.design}{predictors}); {placebos} placebos, ties against the treated unit"
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
            ci=self.ci_,
            units=self.units_,
            label=self._label(),
            time_name=self.time,
            design=design,
        )

    def tidy(self) -> pl.DataFrame:
        """Shortcut for ``summary().tidy()``: the effect as one row of the package's tidy columns."""
        return self.summary().tidy()

    def plot(
        self, ax: Any = None, *, truth: float | None = None, outcome_label: str | None = None,
        time_label: str | None = None,
    ) -> Figure:  # fmt: skip
        """Shortcut for ``summary().plot(...)``."""
        return self.summary().plot(ax, truth=truth, outcome_label=outcome_label, time_label=time_label)


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
