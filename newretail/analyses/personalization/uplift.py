"""The effect of personalization on conversion: the naive difference and the uplift models' estimates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods import effects, learners
from newretail.methods.comparisons import difference_in_means
from newretail.methods.effects import Effect

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.personalization.conversion import _random_state
from newretail.analyses.personalization.visits import FEATURES, OUTCOME, TREATMENT, _check_frame, design_matrix

# ----------------------------------------------------------------------------------------------------------------
# the effect of personalization


def naive_effect(frame: pl.DataFrame, *, alpha: float = 0.05) -> Effect:
    """Conversion of personalized visits minus that of the others, with a cluster-robust (by user) interval.

    It compares different visitors as well as different pages, so it is the effect only if personalization was
    served at random.
    """
    _check_frame(frame, ("user_id", TREATMENT, OUTCOME))
    t = frame[TREATMENT].to_numpy().astype(float)
    if t.min() == t.max():
        raise ValueError("frame: every visit has the same personalization; there is nothing to compare")
    effect = difference_in_means(frame, outcome=OUTCOME, treatment=TREATMENT, cluster="user_id", alpha=alpha)
    return replace(effect, name="naive difference", method="difference in conversion rates; cluster-robust interval")


@dataclass(frozen=True)
class UpliftAnalysis:
    """The naive gap and the doubly robust effects of personalization, with cross-fitted individual uplifts.

    Effects are differences in conversion probability. ``rows`` holds, per visit: ``visit_id``, ``user_id``,
    ``fold``, ``personalized``, ``converted``, ``propensity`` (estimated chance of personalization), ``mu0``/``mu1``
    (estimated conversion without/with it), ``uplift_t``/``uplift_x`` (T- and X-learner) and ``dr_score`` (the
    AIPW score, whose mean is the ATE).
    """

    naive: Effect
    ate: Effect
    att: Effect
    plugin_ate: dict[str, float]
    rows: pl.DataFrame
    folds: int
    clip: float

    def effects(self) -> pl.DataFrame:
        """The estimates as a table (name, value, ci_low, ci_high, method)."""
        rows = [self.naive, self.ate, self.att]
        table = pl.DataFrame(
            {
                "name": [e.name for e in rows],
                "value": [e.value for e in rows],
                "ci_low": [e.ci_low for e in rows],
                "ci_high": [e.ci_high for e in rows],
                "method": [e.method for e in rows],
            }
        )
        plug = pl.DataFrame(
            {
                "name": [f"{k}-learner mean" for k in self.plugin_ate],
                "value": list(self.plugin_ate.values()),
                "ci_low": [None] * len(self.plugin_ate),
                "ci_high": [None] * len(self.plugin_ate),
                "method": ["mean of cross-fitted individual uplifts (no interval)"] * len(self.plugin_ate),
            },
            schema=table.schema,
        )
        return pl.concat([table, plug])

    def plot_effects(self, *, truth: dict[str, float] | None = None) -> Figure:
        """Forest plot of the estimates (percentage points), with true values as markers when given
        (``{"ATE": ..., "ATT": ...}``)."""
        import matplotlib.pyplot as plt

        t = self.effects()
        fig, ax = plt.subplots(figsize=(6.2, 2.9), layout="constrained")
        y = np.arange(t.height)
        value = 100 * t["value"].to_numpy()
        low = 100 * t["ci_low"].fill_null(np.nan).to_numpy()
        high = 100 * t["ci_high"].fill_null(np.nan).to_numpy()
        err = np.vstack([value - low, high - value])
        ax.errorbar(value, y, xerr=np.nan_to_num(err), fmt="o", color="0.2", capsize=3)
        ax.set_yticks(y, t["name"].to_list())
        ax.invert_yaxis()
        for i, (name, v) in enumerate((truth or {}).items()):
            ax.axvline(
                100 * v, color=("C3", "C0", "C2")[i % 3], ls=("--", ":", "-.")[i % 3], lw=1, label=f"true {name}"
            )
        ax.axvline(0, color="0.7", lw=0.6)
        ax.set_xlabel("effect of personalization on conversion, percentage points")
        if truth:
            ax.legend(frameon=False, fontsize=8, loc="lower right")
        return fig

    def curves(self, *, true_uplift: pl.DataFrame | None = None, points: int = 101) -> pl.DataFrame:
        """Uplift curves of targeting visits by each learner's score: ``qini`` (observed outcomes, as if
        personalization had been randomized), ``doubly robust`` (cumulative AIPW scores) and, with ``true_uplift``
        (visit_id, true_uplift), ``true`` (cumulative true uplift) and the ``oracle`` ranking by the true uplift.

        Columns: learner, curve, share (of visits targeted), gain (conversions gained per visit of the population).
        """
        rows = self.rows
        if true_uplift is not None:
            rows = rows.join(true_uplift.select("visit_id", "true_uplift"), on="visit_id", how="left")
            if rows["true_uplift"].null_count():
                raise ValueError("true_uplift: does not cover every visit")
        t, y, dr = rows[TREATMENT].to_numpy(), rows[OUTCOME].to_numpy(), rows["dr_score"].to_numpy()
        parts = []
        for learner in ("t", "x"):
            score = rows[f"uplift_{learner}"].to_numpy()
            kinds = {
                "qini (observed)": learners.qini_curve(score, t, y, points=points),
                "doubly robust": learners.gain_curve(score, dr, points=points),
            }
            if true_uplift is not None:
                kinds["true"] = learners.gain_curve(score, rows["true_uplift"].to_numpy(), points=points)
            for kind, (share, gain) in kinds.items():
                parts.append(pl.DataFrame({"learner": learner.upper(), "curve": kind, "share": share, "gain": gain}))
        if true_uplift is not None:
            tu = rows["true_uplift"].to_numpy()
            share, gain = learners.gain_curve(tu, tu, points=points)
            parts.append(pl.DataFrame({"learner": "oracle", "curve": "true", "share": share, "gain": gain}))
        return pl.concat(parts)

    def qini_table(self, *, true_uplift: pl.DataFrame | None = None) -> pl.DataFrame:
        """Area between each uplift curve and random targeting (Qini coefficient / AUUC over random), per learner
        and curve, in conversions per visit (x share)."""
        c = self.curves(true_uplift=true_uplift)
        return (
            c.group_by("learner", "curve", maintain_order=True)
            .agg(pl.struct("share", "gain"))
            .with_columns(
                area=pl.col("share").map_elements(
                    lambda s: learners.area_over_random(
                        s.struct.field("share").to_numpy(), s.struct.field("gain").to_numpy()
                    ),
                    return_dtype=pl.Float64,
                )
            )
            .select("learner", "curve", "area")
        )

    def plot_curves(self, *, true_uplift: pl.DataFrame | None = None) -> Figure:
        """Uplift curves per learner (panels), with random targeting as a dashed line."""
        import matplotlib.pyplot as plt

        c = self.curves(true_uplift=true_uplift)
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), sharey=True, layout="constrained")
        styles = {"qini (observed)": ("C1", "-"), "doubly robust": ("C0", "-"), "true": ("C3", "-")}
        for ax, learner in zip(axes, ("T", "X"), strict=True):
            for kind, (color, ls) in styles.items():
                part = c.filter((pl.col("learner") == learner) & (pl.col("curve") == kind))
                if part.height:
                    share, gain = part["share"].to_numpy(), 100 * part["gain"].to_numpy()
                    ax.plot(share, gain, color=color, ls=ls, label=kind)
                    ax.plot([0, 1], [0, gain[-1]], color=color, ls=":", lw=0.8)
            oracle = c.filter(pl.col("learner") == "oracle")
            if oracle.height:
                ax.plot(oracle["share"], 100 * oracle["gain"], color="0.5", ls="--", label="oracle ranking (true)")
            ax.set_title(f"{learner}-learner ranking", fontsize=9)
            ax.set_xlabel("share of visits personalized, highest predicted uplift first")
        axes[0].set_ylabel("extra conversions per 100 visits")
        axes[0].legend(frameon=False, fontsize=8)
        return fig

    def plot_individual(self, true_uplift: pl.DataFrame) -> Figure:
        """Estimated against true individual uplift (hexbin, one panel per learner), percentage points."""
        import matplotlib.pyplot as plt

        rows = self.rows.join(true_uplift.select("visit_id", "true_uplift"), on="visit_id", how="inner")
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.0), layout="constrained")
        truth = 100 * rows["true_uplift"].to_numpy()
        both = 100 * rows.select("uplift_t", "uplift_x").to_numpy()
        lo, hi = np.percentile(np.concatenate([truth, both.ravel()]), [1.0, 99.0])
        for ax, learner, est in zip(axes, ("t", "x"), both.T, strict=True):
            ax.hexbin(truth, est, gridsize=40, bins="log", cmap="Greys", mincnt=1, extent=(lo, hi, lo, hi))
            ax.plot([lo, hi], [lo, hi], color="C3", lw=1, label="estimate = truth")
            r = float(np.corrcoef(truth, est)[0, 1])
            ax.set_title(f"{learner.upper()}-learner: correlation {r:.2f}", fontsize=9)
            ax.set_xlabel("true uplift, percentage points")
            ax.set_ylabel("estimated uplift, percentage points")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal")
        axes[0].legend(frameon=False, fontsize=8, loc="upper left")
        return fig

    def individual_accuracy(self, true_uplift: pl.DataFrame) -> pl.DataFrame:
        """Correlation and root-mean-square error (probability) of each learner's individual uplift against the
        truth, over all cross-fitted visits."""
        rows = self.rows.join(true_uplift.select("visit_id", "true_uplift"), on="visit_id", how="inner")
        return pl.DataFrame(
            [
                {
                    "learner": learner.upper(),
                    "correlation": rows.select(pl.corr(f"uplift_{learner}", "true_uplift")).item(),
                    "rmse": rows.select(
                        ((pl.col(f"uplift_{learner}") - pl.col("true_uplift")) ** 2).mean().sqrt()
                    ).item(),
                }
                for learner in ("t", "x")
            ]
        )


def uplift_analysis(
    frame: pl.DataFrame,
    *,
    folds: int = 2,
    clip: float = 0.01,
    alpha: float = 0.05,
    n_estimators: int = 150,
    learning_rate: float = 0.1,
    num_leaves: int = 15,
    min_child_samples: int = 200,
    max_train_rows: int | None = 100_000,
    num_threads: int = 1,
    random_state: int = 0,
    seed: int | None = None,
) -> UpliftAnalysis:
    """Effect of personalization on conversion: naive gap, and cross-fitted T-/X-learners with AIPW averages.

    Parameters
    ----------
    frame : a :func:`visit_frame`.
    folds : cross-fitting folds (users are split, never their visits).
    clip : estimated propensities are clipped to [clip, 1 - clip] in the AIPW scores.
    alpha : 1 - confidence level.
    n_estimators, learning_rate, num_leaves, min_child_samples, max_train_rows, num_threads, random_state :
        :class:`~newretail.methods.learners.LightGBMSettings` of every nuisance model; ``random_state`` also seeds
        the folds. ``seed`` is its deprecated former name.

    Returns
    -------
    UpliftAnalysis
        Effects as differences in conversion probability; ATE and ATT with cluster-robust influence-function
        intervals; per-visit individual uplifts.
    """
    settings = learners.LightGBMSettings(
        n_estimators=n_estimators,
        learning_rate=learning_rate,
        num_leaves=num_leaves,
        min_child_samples=min_child_samples,
        max_train_rows=max_train_rows,
        num_threads=num_threads,
        random_state=_random_state(random_state, seed, "uplift_analysis"),
    )
    _check_frame(frame, ("visit_id", "user_id", *FEATURES, TREATMENT, OUTCOME))
    X = design_matrix(frame)
    t = frame[TREATMENT].to_numpy().astype(np.int8)
    y = frame[OUTCOME].to_numpy().astype(np.int8)
    users = frame["user_id"].to_numpy()
    fit = learners.cross_fit(X, t, y, groups=users, folds=folds, settings=settings)
    ate, scores = effects.aipw_effect(
        y, t, fit.propensity, fit.mu0, fit.mu1, estimand="ate", groups=users, clip=clip, alpha=alpha
    )
    att, _ = effects.aipw_effect(
        y, t, fit.propensity, fit.mu0, fit.mu1, estimand="att", groups=users, clip=clip, alpha=alpha
    )
    rows = frame.select("visit_id", "user_id", TREATMENT, OUTCOME).with_columns(
        fold=pl.Series(fit.fold, dtype=pl.Int8),
        propensity=pl.Series(fit.propensity),
        mu0=pl.Series(fit.mu0),
        mu1=pl.Series(fit.mu1),
        uplift_t=pl.Series(fit.uplift_t),
        uplift_x=pl.Series(fit.uplift_x),
        dr_score=pl.Series(scores),
    )
    plugin = {"T": float(fit.uplift_t.mean()), "X": float(fit.uplift_x.mean())}
    return UpliftAnalysis(naive_effect(frame, alpha=alpha), ate, att, plugin, rows, folds, clip)
