"""Staggered adoption done right: Callaway & Sant'Anna (2021) group-time average effects and their aggregations.

With units treated at different times and effects that grow with exposure, the two-way fixed-effects DiD compares
late adopters with early adopters already treated and can even flip sign. Callaway & Sant'Anna estimate one effect
per cohort g (the units first treated in period g) and period t, ATT(g,t), each a plain 2x2 DiD against a clean
comparison group (the never treated, or those not yet treated by t), then average them with cohort-size weights: by
event time (``event_``), by cohort (``group_``) and overall (``att_``). Errors come from the influence functions
(clustered by unit or a coarser column) or a multiplier bootstrap, as in the authors' R package ``did`` (and its
Python port csdid, which the tests compare with on the published minimum-wage example).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
from scipy import stats

from newretail.methods._frames import MethodInputError, check_alpha, shown
from newretail.methods._panel_data import Panel, plain, read_panel
from newretail.methods._results import Term, Tidy
from newretail.methods.effects import Effect

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["StaggeredDiD", "StaggeredSummary"]

_NEVER = 2**40  # the cohort of the never treated: after any period
_FRAME = {"estimate": pl.Float64, "se": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "n": pl.Int64}


@dataclass(frozen=True)
class _Cells:
    """ATT(g,t) per cell with its influence function (units x cells, already scaled so se = sqrt(sum psi^2) / n)."""

    cohort: np.ndarray  # time index of each cell's cohort
    period: np.ndarray  # time index of each cell's period
    att: np.ndarray
    psi: np.ndarray
    n_treated: np.ndarray
    n_control: np.ndarray


def _cells(y: np.ndarray, first: np.ndarray, cohorts: np.ndarray, *, not_yet: bool, anticipation: int) -> _Cells:
    """Every ATT(g,t) on the wide outcome ``y`` (units x periods), ``first`` each unit's cohort (``_NEVER`` for the
    never treated), with R did's varying base period: the period before g - anticipation once t reaches it, the
    period before t until then. Each is the difference of the mean changes of the cohort and of its comparison group
    (the never treated, or every unit not treated by t + anticipation), with its influence function."""
    n, n_t = y.shape
    rows: list[tuple[int, int, float, np.ndarray, int, int]] = []
    for g in cohorts:
        for t in range(1, n_t):
            base = g - anticipation - 1 if t >= g - anticipation else t - 1
            treated = first == g
            control = (first > t + anticipation) & (first != g) if not_yet else first == _NEVER
            if not control.any():
                continue
            change = y[:, t] - y[:, base]
            mu_d, mu_c = change[treated].mean(), change[control].mean()
            psi = n * (treated * (change - mu_d) / treated.sum() - control * (change - mu_c) / control.sum())
            rows.append((int(g), t, float(mu_d - mu_c), psi, int(treated.sum()), int(control.sum())))
    if not rows:
        raise MethodInputError("df: no cohort has a comparison group in any period (nothing to estimate)")
    return _Cells(
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([r[2] for r in rows]),
        np.column_stack([r[3] for r in rows]),
        np.array([r[4] for r in rows]),
        np.array([r[5] for r in rows]),
    )


def _weights_if(first: np.ndarray, cohort: np.ndarray, keep: np.ndarray, pg: np.ndarray) -> np.ndarray:
    """The influence of estimating the cohort shares P(G = g) used as weights (R did's ``wif``): units x cells kept."""
    member = (first[:, None] == cohort[keep][None, :]).astype(np.float64) - pg[keep][None, :]
    total = pg[keep].sum()
    return member / total - member.sum(axis=1, keepdims=True) * (pg[keep] / total**2)[None, :]


class StaggeredDiD:
    """Callaway & Sant'Anna (2021) difference-in-differences for staggered, absorbing treatment.

    Parameters
    ----------
    unit, time, outcome, treated : column names; ``treated`` is D_it (bool or 0/1), on from a unit's first treated
        period onwards (absorbing: a unit switching off is refused), as for :class:`~newretail.methods.DiD`.
    control : ``"never"`` (never-treated units) or ``"not_yet"`` (also units not yet treated by t + anticipation;
        without never-treated units the periods from the last cohort on are dropped and that cohort only compares).
    cluster : column constant within unit to cluster by (None: by unit).
    anticipation : periods before the first treated one in which the units may already react (0: none).
    alpha : 1 - confidence level, in (0, 0.5]; intervals are normal (pointwise), as in R's ``did``.
    bootstrap : 0 for analytic (influence-function) errors; else the draws of a multiplier bootstrap (Mammen weights
        per cluster), errors from the interquartile range as in R's ``did``.
    seed : the bootstrap's seed.

    Time is counted in periods: positions among the panel's sorted times (anticipation and event times too). An
    unbalanced panel is balanced first, as R's ``did`` and csdid do: units missing some period are dropped and
    counted (``n_unbalanced_``); units treated in the first period (nothing before to compare) likewise
    (``n_always_treated_``).

    Attributes
    ----------
    att_gt_ : frame (cohort, time, event_time, estimate, se, ci_low, ci_high, n_treated, n_control).
    att_ : :class:`~newretail.methods.Effect`, the overall ATT: cohort effects averaged by cohort size (CS's
        theta_sel^O, R's ``aggte(type="group")`` overall). att_simple_ : every post-treatment ATT(g,t) averaged with
        cohort-size weights (R's ``type="simple"``: the mean effect over treated unit-periods). att_dynamic_ : the
        effects by event time from 0 on, averaged (R's ``type="dynamic"`` overall).
    event_ : frame (event_time, estimate, se, ci_low, ci_high, n) by periods since treatment; n the treated units.
    group_ : frame (cohort, estimate, se, ci_low, ci_high, n) per cohort.
    n_units_, n_unbalanced_, n_always_treated_.
    """

    def __init__(
        self,
        unit: str,
        time: str,
        outcome: str,
        treated: str,
        *,
        control: Literal["never", "not_yet"] = "never",
        cluster: str | None = None,
        anticipation: int = 0,
        alpha: float = 0.05,
        bootstrap: int = 0,
        seed: int | None = None,
    ) -> None:
        self.unit = unit
        self.time = time
        self.outcome = outcome
        self.treated = treated
        self.control = control
        self.cluster = cluster
        self.anticipation = anticipation
        self.alpha = alpha
        self.bootstrap = bootstrap
        self.seed = seed

    def _check(self) -> float:
        alpha = check_alpha(self.alpha)
        for arg in ("unit", "time", "outcome", "treated", "cluster"):
            value = getattr(self, arg)
            if not isinstance(value, str) and not (value is None and arg == "cluster"):
                raise MethodInputError(f"{arg}: a column name (str) expected, got {shown(value)}")
        if self.control not in ("never", "not_yet"):
            raise MethodInputError(f"control: 'never' or 'not_yet', got {shown(self.control)}")
        for arg, low in (("anticipation", 0), ("bootstrap", 0)):
            value = getattr(self, arg)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise MethodInputError(f"{arg}: a whole number, 0 or more, got {shown(value)}")
        if 0 < self.bootstrap < 99:
            raise MethodInputError(f"bootstrap: 0 (analytic errors) or at least 99 draws, got {self.bootstrap}")
        return alpha

    def _balanced(self, df: Any) -> tuple[Panel, np.ndarray, int]:
        """The balanced panel, each unit's cluster code and the units dropped for missing periods."""
        panel = read_panel(
            df,
            unit=self.unit,
            time=self.time,
            outcome=self.outcome,
            treated=self.treated,
            cluster=self.cluster,
            check_treated=False,
        )
        off_again = np.flatnonzero((panel.u[1:] == panel.u[:-1]) & panel.d[:-1] & ~panel.d[1:])
        if off_again.size:
            row = off_again[0] + 1
            raise MethodInputError(
                f"column '{self.treated}': {self.unit} {plain(panel.units[panel.u[row]])} is treated and then "
                f"untreated again at {self.time} {plain(panel.times[panel.t[row]])}; StaggeredDiD needs absorbing "
                "treatment"
            )
        n_t = panel.times.size
        complete = np.bincount(panel.u, minlength=panel.n_units) == n_t
        if not complete.any():
            raise MethodInputError(f"column '{self.time}': no {self.unit} is observed in every period")
        unbalanced = int((~complete).sum())
        if unbalanced:
            panel = panel.subset(complete[panel.u])
        changes = (panel.u[1:] == panel.u[:-1]) & (panel.cluster[1:] != panel.cluster[:-1])
        if self.cluster is not None and changes.any():
            at = int(np.argmax(changes)) + 1
            raise MethodInputError(
                f"column '{self.cluster}': {self.unit} {plain(panel.units[panel.u[at]])} is in more than one cluster"
            )
        cluster = np.zeros(panel.n_units, dtype=np.int64)
        cluster[panel.u] = panel.cluster
        return panel, np.unique(cluster, return_inverse=True)[1], unbalanced

    def fit(self, df: Any) -> StaggeredDiD:
        """Fit on a long frame (polars or pandas); returns self."""
        alpha = self._check()
        panel, cluster, self.n_unbalanced_ = self._balanced(df)
        n_t, antic = panel.times.size, int(self.anticipation)
        first = panel.first_treated().astype(np.int64)
        never = first < 0
        first[never] = _NEVER
        cohorts = np.unique(first[~never])
        if not never.any() and self.control == "never":
            raise MethodInputError(f"column '{self.treated}': no never-treated {self.unit}; use control='not_yet'")
        last = n_t
        if not never.any():  # not yet treated only: stop before the last cohort, which only compares (as R's did)
            last, cohorts = int(cohorts.max()) - antic, cohorts[cohorts < cohorts.max()]
        early = first <= antic  # treated in the first period (net of anticipation): nothing before to compare
        self.n_always_treated_ = int(early.sum())
        keep = ~early
        cohorts = cohorts[cohorts > antic]
        if not cohorts.size or last < 2:
            net = " (net of anticipation)" if antic else ""
            raise MethodInputError(f"column '{self.treated}': no cohort is treated after the first period{net}")
        y = np.full((panel.n_units, n_t), np.nan)
        y[panel.u, panel.t] = panel.y
        y, first, cluster = y[keep][:, :last], first[keep], np.unique(cluster[keep], return_inverse=True)[1]
        if np.unique(cluster).size < 2:
            raise MethodInputError("df: fewer than two clusters left to estimate a clustered standard error")
        cells = _cells(y, first, cohorts, not_yet=self.control == "not_yet", anticipation=antic)
        self._finish(panel, cells, first, cluster, alpha)
        return self

    def _se(self, psi: np.ndarray, cluster: np.ndarray) -> np.ndarray:
        """Errors of the estimates whose influence functions are the columns of ``psi``."""
        n = psi.shape[0]
        sums = np.stack([np.bincount(cluster, weights=col) for col in psi.T], axis=1)
        if not self.bootstrap:
            se = np.sqrt((sums**2).sum(axis=0)) / n
        else:  # Mammen's two-point multipliers per cluster (R did's mboot)
            rng = np.random.default_rng(self.seed)
            s5 = np.sqrt(5.0)
            xi = np.where(rng.random((self.bootstrap, sums.shape[0])) < (s5 + 1) / (2 * s5), (1 - s5) / 2, (1 + s5) / 2)
            draws = xi @ sums / n
            q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
            se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
        return np.where(se > np.sqrt(np.finfo(float).eps) * 10, se, np.nan)

    def _finish(self, panel: Panel, cells: _Cells, first: np.ndarray, cluster: np.ndarray, alpha: float) -> None:
        n = first.size
        z = float(stats.norm.ppf(1 - alpha / 2))
        cohort_values = panel.times[cells.cohort]
        pg = np.array([(first == g).mean() for g in cells.cohort])
        post = cells.period >= cells.cohort
        event = cells.period - cells.cohort

        def aggregate(keep: np.ndarray, *, with_weights: bool = True) -> tuple[float, np.ndarray]:
            w = pg[keep] / pg[keep].sum() if with_weights else np.full(keep.sum(), 1 / keep.sum())
            psi = cells.psi[:, keep] @ w
            if with_weights:
                psi = psi + _weights_if(first, cells.cohort, keep, pg) @ cells.att[keep]
            return float(cells.att[keep] @ w), psi

        se = self._se(cells.psi, cluster)
        self.att_gt_ = pl.DataFrame(
            {
                "cohort": cohort_values,
                "time": panel.times[cells.period],
                "event_time": event,
                "estimate": cells.att,
                "se": se,
                "ci_low": cells.att - z * se,
                "ci_high": cells.att + z * se,
                "n_treated": cells.n_treated,
                "n_control": cells.n_control,
            }
        )
        events = np.unique(event)
        by_event = [aggregate(event == e) for e in events]
        groups = np.unique(cells.cohort[post])
        by_group = [aggregate((cells.cohort == g) & post, with_weights=False) for g in groups]
        # overall: cohort effects weighted by cohort size, the weights' own influence included (R did's "selective")
        pgg = np.array([(first == g).mean() for g in groups])
        group_att = np.array([a for a, _ in by_group])
        member = (first[:, None] == groups[None, :]) - pgg[None, :]
        wif = member / pgg.sum() - member.sum(axis=1, keepdims=True) * (pgg / pgg.sum() ** 2)[None, :]
        overall_psi = np.column_stack([p for _, p in by_group]) @ (pgg / pgg.sum()) + wif @ group_att
        simple = aggregate(post)
        post_events = events >= 0
        dynamic_psi = np.column_stack([p for (_, p), keep in zip(by_event, post_events, strict=True) if keep])
        psi_all = np.column_stack(
            [p for _, p in by_event] + [p for _, p in by_group] + [overall_psi, simple[1], dynamic_psi.mean(axis=1)]
        )
        ses = self._se(psi_all, cluster)
        k_e, k_g = events.size, groups.size
        treated_in = [int(np.isin(first, cells.cohort[event == e]).sum()) for e in events]
        self.event_ = _frame("event_time", events, [a for a, _ in by_event], ses[:k_e], z, treated_in)
        self.group_ = _frame(
            "cohort", panel.times[groups], group_att, ses[k_e : k_e + k_g], z, [(first == g).sum() for g in groups]
        )
        method = f"Callaway & Sant'Anna (2021), {'never' if self.control == 'never' else 'not yet'}-treated controls"
        n_treated = int(np.isin(first, groups).sum())
        overall = float(group_att @ (pgg / pgg.sum()))
        se_o, se_s, se_d = ses[k_e + k_g :]
        dyn = float(np.mean([a for (a, _), keep in zip(by_event, post_events, strict=True) if keep]))
        self.att_, self.att_simple_, self.att_dynamic_ = (
            Effect(est, float(se), est - z * float(se), est + z * float(se), n_treated, "ATT", method)
            for est, se in ((overall, se_o), (simple[0], se_s), (dyn, se_d))
        )
        self.n_units_ = n
        self._method = method

    def summary(self) -> StaggeredSummary:
        """The fitted aggregations as a frozen result (call :meth:`fit` first)."""
        if not hasattr(self, "att_"):
            raise MethodInputError("StaggeredDiD: call fit(df) before summary()")
        return StaggeredSummary(
            self.outcome,
            self.att_,
            self.event_,
            self.group_,
            self.att_gt_,
            float(self.alpha),
            self.n_units_,
            f"{self._method}, {'clustered by ' + repr(self.cluster) if self.cluster else 'by unit'}"
            + (f", bootstrap {self.bootstrap}" if self.bootstrap else ", analytic errors"),
        )

    def tidy(self) -> pl.DataFrame:
        """``summary().tidy()``: the overall ATT, then one row per event time and per cohort."""
        return self.summary().tidy()

    def plot(self, ax: Axes | None = None, *, truth: dict[int, float] | None = None) -> Figure:
        """Event-time plot of the aggregated effects (``truth``: event time -> true effect, drawn as crosses)."""
        return self.summary().plot(ax, truth=truth)


def _frame(key: str, keys: Any, est: Any, se: np.ndarray, z: float, n: list[int]) -> pl.DataFrame:
    est = np.asarray(est, dtype=np.float64)
    return pl.DataFrame(
        {key: keys, "estimate": est, "se": se, "ci_low": est - z * se, "ci_high": est + z * se, "n": n},
        schema_overrides=_FRAME,
    )


@dataclass(frozen=True)
class StaggeredSummary(Tidy):
    """A fitted :class:`StaggeredDiD`: the overall ATT (an :class:`~newretail.methods.Effect`), the effects by event
    time and by cohort, every ATT(g,t); ``tidy()`` rows: ``ATT``, ``event_time e``, ``cohort g``."""

    outcome: str
    att: Effect
    event: pl.DataFrame
    group: pl.DataFrame
    att_gt: pl.DataFrame
    alpha: float
    n_units: int
    design: str

    def _terms(self) -> list[Term]:
        nan = float("nan")

        def p(est: float, se: float) -> float:
            return float(2 * stats.norm.sf(abs(est / se))) if se > 0 else nan

        a = self.att
        terms = [Term("ATT", a.estimate, a.se, a.ci_low, a.ci_high, p(a.estimate, a.se), a.n)]
        for key, frame in (("event_time", self.event), ("cohort", self.group)):
            for r in frame.iter_rows(named=True):
                se = r["se"] if r["se"] is not None else nan
                label = f"{key} {plain(r[key])}"
                terms.append(Term(label, r["estimate"], se, r["ci_low"], r["ci_high"], p(r["estimate"], se), r["n"]))
        return terms

    def _design(self) -> str:
        return f"staggered DiD, {self.design}, {self.n_units:,} units"

    def plot(self, ax: Axes | None = None, *, truth: dict[int, float] | None = None) -> Figure:
        """Effects by event time with their intervals; before 0 the placebo (pre-trend) estimates."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(7.0, 3.8), constrained_layout=True)
        else:
            fig = ax.get_figure()  # type: ignore[assignment]
        e = self.event["event_time"].to_numpy()
        est = self.event["estimate"].to_numpy()
        low, high = self.event["ci_low"].to_numpy(), self.event["ci_high"].to_numpy()
        colors = np.where(e < 0, "#7f7f7f", "#1f77b4")
        for x, m, lo, hi, c in zip(e, est, low, high, colors, strict=True):
            ax.errorbar([x], [m], yerr=[[m - lo], [hi - m]], fmt="o", capsize=3, color=c)
        if truth:
            ax.scatter(list(truth), list(truth.values()), marker="x", color="#d62728", zorder=3, label="truth")
            ax.legend(fontsize=8, loc="upper left")
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(-0.5, color="grey", ls=":", lw=1)
        ax.set(xlabel="event time (periods since first treated)", ylabel=f"effect on {self.outcome.replace('_', ' ')}")
        a = self.att
        ax.set_title(
            f"Staggered DiD: ATT {a.estimate:+.4g} [{a.ci_low:+.4g}, {a.ci_high:+.4g}] ({1 - self.alpha:.0%})",
            fontsize=10,
        )
        return fig
