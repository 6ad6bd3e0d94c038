"""Personalized pages: who converts, what personalization truly adds, and what "20% conversion" can mean.

Three analyses on the ``visits`` joined with ``users``:

- a LightGBM model of conversion from the visit and user features (held-out AUC, with SHAP explanations);
- the effect of personalization on conversion: the naive gap between personalized and other visits, and the
  doubly robust average effect from cross-fitted T- and X-learners (``newretail.methods.learners``), with Qini curves;
- the two readings of the report's "20% conversion" (a rate, or a lift) as scenario variants, and what each
  implies for the true effect (from the calibration, no data needed).

Visits of one user share the user's features, so splits keep a user's visits together and intervals are
cluster-robust over users. Every visit of a dataset carries the same sampling weight, so unweighted rates and
effects estimate the full-scale ones.

Functions whose name starts with ``true_`` read the ``truth_*`` tables: they are for validation sections and tests,
never for an estimate.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy import stats

from newretail.methods import effects, learners
from newretail.methods.effects import Effect
from newretail.scenario import Scenario
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FEATURES",
    "AucComparison",
    "ConversionFit",
    "ConversionModel",
    "Readings",
    "ShapExplanation",
    "UpliftAnalysis",
    "compare_auc",
    "conversion_readings",
    "design_matrix",
    "explain",
    "fit_conversion",
    "naive_effect",
    "true_visits",
    "uplift_analysis",
    "visit_frame",
]

US_PER_HOUR = 3_600_000_000
USER_FEATURES = ("segment", "age_band", "city_tier", "is_vip", "cart_items", "past_orders_90d")
VISIT_FEATURES = ("device", "source", "n_pages", "hour")
FEATURES: tuple[str, ...] = USER_FEATURES + VISIT_FEATURES
"""Features a model may use: what the platform knows of the user and the visit (not whether it converted)."""
TREATMENT = "personalized"
OUTCOME = "converted"


# ----------------------------------------------------------------------------------------------------------------
# data


def visit_frame(ds: Dataset) -> pl.DataFrame:
    """One row per visit: ``visit_id``, ``user_id``, the :data:`FEATURES`, ``personalized`` and ``converted``.

    ``hour`` is the hour of the day the visit ended (0-23); enums keep their categories.
    """
    hour = (pl.col("ts_us") // US_PER_HOUR).clip(0, 23).cast(pl.Int8).alias("hour")
    visits = ds.scan("visits").select("visit_id", "user_id", "device", "source", "n_pages", hour, TREATMENT, OUTCOME)
    users = ds.scan("users").select("user_id", *USER_FEATURES)
    return (
        visits.join(users, on="user_id", how="inner")
        .select("visit_id", "user_id", *FEATURES, TREATMENT, OUTCOME)
        .sort("visit_id")
        .collect()
    )


def _check_frame(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"frame: expected a polars DataFrame from visit_frame(), got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame: missing column(s) {', '.join(missing)} (build it with visit_frame(ds))")
    if frame.height == 0:
        raise ValueError("frame: no visits")


def design_matrix(frame: pl.DataFrame, *, features: Sequence[str] = FEATURES) -> np.ndarray:
    """Float32 feature matrix for LightGBM: enums as their category codes (segment and age band are ordered),
    booleans as 0/1."""
    _check_frame(frame, features)
    cols = [pl.col(c).to_physical().cast(pl.Float32) for c in features]
    return frame.select(cols).to_numpy().astype(np.float32, copy=False)


def _split_users(user_id: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Boolean mask of rows whose user falls in a seeded random ``share`` of users."""
    users, inverse = np.unique(user_id, return_inverse=True)
    rng = np.random.default_rng([seed, 11])
    return (rng.random(users.size) < share)[inverse]


# ----------------------------------------------------------------------------------------------------------------
# conversion model


class ConversionModel:
    """LightGBM classifier of conversion from the :data:`FEATURES` and whether the visit was personalized.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM's.
    max_train_rows : the model trains on a seeded subsample of at most this many rows (None: all).
    num_threads : LightGBM threads (explicit: the default of all cores is slow on a shared machine).
    random_state : seed of the subsample and of LightGBM.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 200,
        max_train_rows: int | None = 200_000,
        num_threads: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_train_rows = max_train_rows
        self.num_threads = num_threads
        self.random_state = random_state

    @property
    def columns(self) -> tuple[str, ...]:
        """Model inputs, in order."""
        return (*FEATURES, TREATMENT)

    def fit(self, frame: pl.DataFrame) -> ConversionModel:
        """Fit on a :func:`visit_frame` (or a subset of its rows); returns self."""
        from lightgbm import LGBMClassifier

        _check_frame(frame, (*self.columns, OUTCOME))
        if not (isinstance(self.num_threads, int) and self.num_threads >= 1):
            raise ValueError(f"num_threads = {self.num_threads!r}: must be a whole number of at least 1")
        rows = np.arange(frame.height)
        if self.max_train_rows is not None and frame.height > self.max_train_rows:
            rng = np.random.default_rng([self.random_state, 13])
            rows = np.sort(rng.choice(rows, size=self.max_train_rows, replace=False))
        sample = frame[rows]
        y = sample[OUTCOME].to_numpy()
        if np.unique(y).size < 2:
            raise ValueError("frame: the training visits all have the same outcome")
        self.model_: Any = LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            n_jobs=self.num_threads,
            random_state=self.random_state,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        ).fit(design_matrix(sample, features=self.columns), y)
        self.n_train_ = int(rows.size)
        return self

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        """Conversion probability of each visit."""
        return np.asarray(self.model_.predict_proba(design_matrix(frame, features=self.columns))[:, 1])

    def predict_margin(self, frame: pl.DataFrame) -> np.ndarray:
        """Raw model output of each visit, log-odds of conversion."""
        return np.asarray(self.model_.predict(design_matrix(frame, features=self.columns), raw_score=True))


@dataclass(frozen=True)
class AucComparison:
    """AUC of a model and of a reference score (e.g. the true probabilities) on the same rows, with DeLong
    intervals for each and for their difference (reference minus model)."""

    auc: float
    auc_ci_low: float
    auc_ci_high: float
    reference_auc: float
    reference_ci_low: float
    reference_ci_high: float
    gap: float
    gap_ci_low: float
    gap_ci_high: float
    n: int


def _delong_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and DeLong's placement values (per positive and per negative row) for each score column."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    rank_all = stats.rankdata(np.hstack([pos, neg]), axis=1)
    rank_pos, rank_neg = stats.rankdata(pos, axis=1), stats.rankdata(neg, axis=1)
    v10 = (rank_all[:, :m] - rank_pos) / n  # share of negatives below each positive
    v01 = 1.0 - (rank_all[:, m:] - rank_neg) / m  # share of positives above each negative
    return v10.mean(axis=1), v10, v01


def compare_auc(y: np.ndarray, score: np.ndarray, reference: np.ndarray, *, alpha: float = 0.05) -> AucComparison:
    """AUCs of ``score`` and ``reference`` for 0/1 labels ``y``, with DeLong's paired variance.

    Parameters
    ----------
    y : 0/1 outcomes.
    score : the model's scores (any monotone scale).
    reference : the reference's scores, e.g. the true conversion probabilities (the oracle).
    alpha : 1 - confidence level.
    """
    y = np.asarray(y).astype(np.int8)
    if np.unique(y).size != 2:
        raise ValueError("y: needs both outcomes (0 and 1) to compute an AUC")
    both = np.vstack([np.asarray(score, float), np.asarray(reference, float)])
    if both.shape[1] != y.size:
        raise ValueError("score, reference: need one value per label")
    auc, v10, v01 = _delong_components(y, both)
    cov = np.cov(v10) / v10.shape[1] + np.cov(v01) / v01.shape[1]
    z = float(stats.norm.ppf(1 - alpha / 2))
    se = np.sqrt(np.diag(cov))
    gap = float(auc[1] - auc[0])
    se_gap = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))
    return AucComparison(
        auc=float(auc[0]),
        auc_ci_low=float(auc[0] - z * se[0]),
        auc_ci_high=float(auc[0] + z * se[0]),
        reference_auc=float(auc[1]),
        reference_ci_low=float(auc[1] - z * se[1]),
        reference_ci_high=float(auc[1] + z * se[1]),
        gap=gap,
        gap_ci_low=gap - z * se_gap,
        gap_ci_high=gap + z * se_gap,
        n=int(y.size),
    )


@dataclass(frozen=True)
class ConversionFit:
    """A conversion model fitted on some users' visits and scored on the other users' (held-out) visits.

    ``test`` holds ``visit_id``, ``converted`` and the model's ``p_model`` for the held-out visits.
    """

    model: ConversionModel
    test: pl.DataFrame
    auc: float
    auc_ci_low: float
    auc_ci_high: float
    n_train: int

    def compare(self, reference: pl.DataFrame, *, column: str = "p_convert", alpha: float = 0.05) -> AucComparison:
        """Compare the held-out AUC with that of ``reference[column]`` (joined on ``visit_id``), e.g. the true
        probabilities of :func:`true_visits` (the best AUC any model could reach)."""
        if "visit_id" not in reference.columns or column not in reference.columns:
            raise ValueError(f"reference: needs columns visit_id and {column}")
        joined = self.test.join(reference.select("visit_id", column), on="visit_id", how="inner")
        if joined.height != self.test.height:
            raise ValueError("reference: does not cover every held-out visit")
        return compare_auc(
            joined[OUTCOME].to_numpy(), joined["p_model"].to_numpy(), joined[column].to_numpy(), alpha=alpha
        )

    def plot_calibration(self, reference: pl.DataFrame | None = None, *, bins: int = 20) -> Figure:
        """Observed conversion against the model's probability (binned by deciles-like quantiles); with
        ``reference`` (visit_id, p_convert) also the mean true probability per bin."""
        import matplotlib.pyplot as plt

        t = self.test
        if reference is not None:
            t = t.join(reference.select("visit_id", "p_convert"), on="visit_id", how="left")
        edges = np.unique(np.quantile(t["p_model"].to_numpy(), np.linspace(0, 1, bins + 1)))
        aggs = [pl.col("p_model").mean(), pl.col(OUTCOME).mean().alias("observed")]
        if reference is not None:
            aggs.append(pl.col("p_convert").mean().alias("p_true"))
        binned = (
            t.with_columns(bin=pl.col("p_model").cut(edges[1:-1].tolist(), left_closed=True).to_physical())
            .group_by("bin")
            .agg(aggs)
            .sort("bin")
        )
        fig, ax = plt.subplots(figsize=(4.6, 4.2), layout="constrained")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
        ax.plot(binned["p_model"], binned["observed"], "o", color="0.2", ms=4, label="observed conversion")
        if reference is not None:
            ax.plot(binned["p_model"], binned["p_true"], "s", color="C3", ms=3, label="true probability (ground truth)")
        top = 1.05 * float(max(binned["p_model"].to_numpy().max(), binned["observed"].to_numpy().max()))
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("model's conversion probability (held-out visits)")
        ax.set_ylabel("conversion")
        ax.legend(frameon=False, fontsize=8)
        return fig


def fit_conversion(
    frame: pl.DataFrame,
    *,
    model: ConversionModel | None = None,
    test_share: float = 0.3,
    seed: int = 0,
    alpha: float = 0.05,
) -> ConversionFit:
    """Fit a :class:`ConversionModel` on the visits of a random ``1 - test_share`` of users, score the rest.

    Returns
    -------
    ConversionFit
        The fitted model, held-out predictions (probabilities) and the held-out AUC with its DeLong interval.
    """
    _check_frame(frame, ("visit_id", "user_id", *FEATURES, TREATMENT, OUTCOME))
    if not 0 < test_share < 1:
        raise ValueError(f"test_share = {test_share!r}: must be in (0, 1)")
    model = model if model is not None else ConversionModel(random_state=seed)
    held = _split_users(frame["user_id"].to_numpy(), test_share, seed)
    train, test = frame.filter(pl.Series(~held)), frame.filter(pl.Series(held))
    model.fit(train)
    scored = test.select("visit_id", OUTCOME).with_columns(p_model=pl.Series(model.predict_proba(test)))
    y, p = scored[OUTCOME].to_numpy(), scored["p_model"].to_numpy()
    cmp = compare_auc(y, p, p, alpha=alpha)
    return ConversionFit(model, scored, cmp.auc, cmp.auc_ci_low, cmp.auc_ci_high, model.n_train_)


# ----------------------------------------------------------------------------------------------------------------
# SHAP


@dataclass(frozen=True)
class ShapExplanation:
    """SHAP values (TreeExplainer) of a conversion model for a sample of visits, in log-odds.

    ``values`` is rows x features; ``expected_value`` the base log-odds; ``margin`` the model's raw log-odds of each
    row, so ``values.sum(1) + expected_value`` should equal ``margin`` (additivity). ``lightgbm_contrib`` holds
    LightGBM's own contributions (``pred_contrib``) for comparison.
    """

    values: np.ndarray
    expected_value: float
    margin: np.ndarray
    lightgbm_contrib: np.ndarray
    features: pl.DataFrame

    @property
    def additivity_error(self) -> float:
        """Largest |sum of contributions + expected value - raw margin| over rows, log-odds."""
        return float(np.max(np.abs(self.values.sum(axis=1) + self.expected_value - self.margin)))

    @property
    def lightgbm_difference(self) -> float:
        """Largest |SHAP value - LightGBM pred_contrib| over rows and features, log-odds."""
        return float(np.max(np.abs(self.values - self.lightgbm_contrib[:, :-1])))

    def importance(self) -> pl.DataFrame:
        """Mean |SHAP value| per feature (log-odds), largest first."""
        return pl.DataFrame({"feature": self.features.columns, "mean_abs_shap": np.abs(self.values).mean(axis=0)}).sort(
            "mean_abs_shap", descending=True
        )

    def _pandas(self) -> Any:
        return self.features.select(pl.all().to_physical()).to_pandas()

    def plot_summary(self, *, max_display: int = 12) -> Figure:
        """SHAP's beeswarm summary: each visit's contribution of each feature, coloured by the feature's value."""
        import matplotlib.pyplot as plt
        import shap

        plt.figure(figsize=(6.5, 4.5))
        shap.summary_plot(self.values, self._pandas(), max_display=max_display, show=False, plot_size=None)
        fig = plt.gcf()
        fig.axes[0].set_xlabel("SHAP value, log-odds of conversion")
        fig.tight_layout()
        return fig

    def plot_dependence(self, features: Sequence[str] = ("cart_items", "past_orders_90d", "segment")) -> Figure:
        """SHAP dependence plots, one panel per feature, coloured by the strongest interacting feature."""
        import matplotlib.pyplot as plt
        import shap

        bad = [f for f in features if f not in self.features.columns]
        if bad:
            raise ValueError(
                f"features: {', '.join(bad)} not explained (choose from {', '.join(self.features.columns)})"
            )
        fig, axes = plt.subplots(1, len(features), figsize=(5.0 * len(features), 3.8), layout="constrained")
        frame = self._pandas()
        for ax, name in zip(np.atleast_1d(axes), features, strict=True):
            shap.dependence_plot(name, self.values, frame, ax=ax, show=False)
            ax.set_ylabel("SHAP value, log-odds")
            ax.set_title(name, fontsize=10)
        return fig


def explain(model: ConversionModel, frame: pl.DataFrame, *, rows: int = 2000, seed: int = 0) -> ShapExplanation:
    """SHAP values of ``model`` for a seeded sample of ``rows`` visits of ``frame`` (TreeExplainer, exact for trees).

    Returns
    -------
    ShapExplanation
        Contributions in log-odds, the base value, the raw margins and LightGBM's own contributions.
    """
    import shap

    _check_frame(frame, model.columns)
    if rows < 1:
        raise ValueError(f"rows = {rows!r}: must be at least 1")
    take = np.arange(frame.height)
    if frame.height > rows:
        take = np.sort(np.random.default_rng([seed, 17]).choice(take, size=rows, replace=False))
    sample = frame[take].select(model.columns)
    X = design_matrix(sample, features=model.columns)
    explainer = shap.TreeExplainer(model.model_.booster_)
    with warnings.catch_warnings():  # shap notes a past change of its LightGBM output format
        warnings.filterwarnings("ignore", message=".*LightGBM binary classifier.*", category=UserWarning)
        raw = explainer.shap_values(X)
    if isinstance(raw, list):  # older shap: one array per class
        raw = raw[-1]
    values = np.asarray(raw)
    if values.ndim == 3:  # (rows, features, classes)
        values = values[..., -1]
    expected = np.asarray(explainer.expected_value).ravel()[-1]
    margin = np.asarray(model.model_.predict(X, raw_score=True))
    contrib = np.asarray(model.model_.predict(X, pred_contrib=True))
    return ShapExplanation(values, float(expected), margin, contrib, sample)


# ----------------------------------------------------------------------------------------------------------------
# the effect of personalization


def naive_effect(frame: pl.DataFrame, *, alpha: float = 0.05) -> Effect:
    """Conversion of personalized visits minus that of the others, with a cluster-robust (by user) interval.

    It compares different visitors as well as different pages, so it is the effect only if personalization was
    served at random.
    """
    _check_frame(frame, ("user_id", TREATMENT, OUTCOME))
    import statsmodels.api as sm

    t = frame[TREATMENT].to_numpy().astype(float)
    y = frame[OUTCOME].to_numpy().astype(float)
    if t.min() == t.max():
        raise ValueError("frame: every visit has the same personalization; there is nothing to compare")
    fit = sm.OLS(y, np.column_stack([np.ones_like(t), t])).fit(
        cov_type="cluster", cov_kwds={"groups": frame["user_id"].to_numpy()}
    )
    low, high = fit.conf_int(alpha=alpha)[1]
    return Effect(
        float(fit.params[1]),
        float(fit.bse[1]),
        float(low),
        float(high),
        int(t.size),
        "naive difference",
        "difference in conversion rates; cluster-robust interval",
    )


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
    seed: int = 0,
) -> UpliftAnalysis:
    """Effect of personalization on conversion: naive gap, and cross-fitted T-/X-learners with AIPW averages.

    Parameters
    ----------
    frame : a :func:`visit_frame`.
    folds : cross-fitting folds (users are split, never their visits).
    clip : estimated propensities are clipped to [clip, 1 - clip] in the AIPW scores.
    alpha : 1 - confidence level.
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM's, for every nuisance model.
    max_train_rows : each model trains on a seeded subsample of at most this many rows (None: all).
    num_threads : LightGBM threads.
    seed : seed of the folds, subsamples and LightGBM.

    Returns
    -------
    UpliftAnalysis
        Effects as differences in conversion probability; ATE and ATT with cluster-robust influence-function
        intervals; per-visit individual uplifts.
    """
    _check_frame(frame, ("visit_id", "user_id", *FEATURES, TREATMENT, OUTCOME))
    X = design_matrix(frame)
    t = frame[TREATMENT].to_numpy().astype(np.int8)
    y = frame[OUTCOME].to_numpy().astype(np.int8)
    users = frame["user_id"].to_numpy()
    fit = learners.cross_fit(
        X,
        t,
        y,
        groups=users,
        folds=folds,
        n_estimators=n_estimators,
        learning_rate=learning_rate,
        num_leaves=num_leaves,
        min_child_samples=min_child_samples,
        max_train_rows=max_train_rows,
        num_threads=num_threads,
        random_state=seed,
    )
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


# ----------------------------------------------------------------------------------------------------------------
# the two readings of "20% conversion"


@dataclass(frozen=True)
class Readings:
    """What each reading of the report's conversion figure implies, from the calibrated scenario variants.

    ``table`` has one row per (reading, targeting strength): conversion of personalized and other visits, the naive
    difference and lift, the true ATE and ATT (differences in conversion probability), the true relative lift on the
    personalized visits, the calibrated effect at average intent (log-odds) and the implied visits and orders.
    """

    table: pl.DataFrame
    target: float

    def plot(self) -> Figure:
        """Naive difference against the true effect on personalized visits, per variant (percentage points)."""
        import matplotlib.pyplot as plt

        t = self.table
        labels = [f"{r['reading']}\ntargeting {r['targeting_strength']:g}" for r in t.iter_rows(named=True)]
        x = np.arange(t.height)
        fig, ax = plt.subplots(figsize=(6.8, 3.4), layout="constrained")
        ax.bar(x - 0.2, 100 * t["naive_difference"], width=0.4, color="0.6", label="naive difference (observed)")
        ax.bar(x + 0.2, 100 * t["true_att"], width=0.4, color="C3", label="true effect on personalized visits")
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_xticks(x, labels)
        ax.set_ylabel("conversion, percentage points")
        ax.legend(frameon=False, fontsize=8)
        return fig


def conversion_readings(scenario: Scenario, *, targeting_strengths: Sequence[float] | None = None) -> Readings:
    """Calibrate the scenario under both readings of ``personalized_page_conversion`` ("rate": that share of
    personalized visits convert; "lift": they convert that much more often, relatively, than the others) and for
    each targeting strength (default: the scenario's and 0, random personalization).

    Returns
    -------
    Readings
        One row per variant; probabilities and differences as shares, lifts relative.
    """
    from newretail.generate.expected import expected_values

    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario: expected a Scenario, got {type(scenario).__name__}")
    pz = scenario.behaviour.personalization
    strengths = list(targeting_strengths) if targeting_strengths is not None else [pz.targeting_strength, 0.0]
    rows = []
    for reading in ("rate", "lift"):
        for strength in strengths:
            variant = scenario.with_changes(
                {
                    "behaviour.personalization.conversion_reading": reading,
                    "behaviour.personalization.targeting_strength": float(strength),
                }
            )
            e = expected_values(variant)
            cp, co, att = e["conversion_personalized"], e["conversion_other"], e["true_uplift_att"]
            rows.append(
                {
                    "reading": reading,
                    "targeting_strength": float(strength),
                    "conversion_personalized": cp,
                    "conversion_other": co,
                    "naive_difference": cp - co,
                    "naive_lift": cp / co - 1,
                    "true_ate": e["true_uplift_ate"],
                    "true_att": att,
                    "true_lift_personalized": att / (cp - att),
                    "effect_logodds_at_mean_intent": e["effect_logodds_at_mean_intent"],
                    "visits": e["visits"],
                    "online_orders": e["online_orders"],
                }
            )
    return Readings(pl.DataFrame(rows), float(scenario.targets.personalized_page_conversion))


# ----------------------------------------------------------------------------------------------------------------
# validation against the ground truth (tests and validation sections only)


def true_visits(ds: Dataset) -> pl.DataFrame:
    """Ground truth, for validation only: ``truth_visits`` (visit_id, propensity, p_convert, ..., true_uplift)."""
    return ds.read("truth_visits")
