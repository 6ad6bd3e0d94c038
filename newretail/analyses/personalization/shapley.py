"""SHAP values of the conversion model."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.personalization.conversion import ConversionModel, _random_state
from newretail.analyses.personalization.visits import _check_frame, design_matrix
from newretail.extras import require

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

        shap = require("shap", "explain", purpose="SHAP plots")

        plt.figure(figsize=(7.5, 5.0))
        frame = self._pandas().rename(columns=lambda c: FEATURE_NAMES.get(c, c))
        with plt.rc_context({"font.size": 11}), warnings.catch_warnings():
            # the paper's runner seeds numpy's global RNG (SHAP jitters the dots with it); SHAP warns about that
            warnings.filterwarnings("ignore", message=".*NumPy global RNG.*", category=FutureWarning)
            shap.summary_plot(self.values, frame, max_display=max_display, show=False, plot_size=None)
        fig = plt.gcf()
        fig.axes[0].set_xlabel("SHAP value: change in log-odds of converting", fontsize=11)
        fig.axes[0].tick_params(labelsize=11)
        first, second = (FEATURE_NAMES.get(f, f) for f in self.importance()["feature"].head(2))
        fig.suptitle(f"{first.capitalize()} and {second} move the prediction most", fontsize=12)
        fig.tight_layout()
        return fig

    def plot_dependence(self, features: Sequence[str] = ("cart_items", "past_orders_90d", "segment")) -> Figure:
        """SHAP dependence plots, one panel per feature: each visit's contribution of the feature against its value,
        coloured by the feature SHAP finds most interacting with it (a categorical colour feature on a categorical
        palette with a legend, a numeric one on a colour bar). Categorical features (booleans, enums, few values)
        are drawn as jittered strips with their categories named."""
        import matplotlib.pyplot as plt

        shap = require("shap", "explain", purpose="SHAP plots")

        bad = [f for f in features if f not in self.features.columns]
        if bad:
            raise ValueError(
                f"features: {', '.join(bad)} not explained (choose from {', '.join(self.features.columns)})"
            )
        columns = list(self.features.columns)
        matrix = self._pandas().to_numpy(dtype=float)
        rng = np.random.default_rng(0)  # jitter only: the points' positions within a category
        fig, axes = plt.subplots(1, len(features), figsize=(4.6 * len(features), 4.4), layout="constrained")
        for ax, name in zip(np.atleast_1d(axes), features, strict=True):
            j = columns.index(name)
            k = int(shap.approximate_interactions(j, self.values, matrix)[0])
            x, x_labels = self._positions(columns[j])
            if x_labels is not None:
                x = x + rng.uniform(-0.25, 0.25, x.size)
                ax.set_xticks(range(len(x_labels)), x_labels)
            colour, colour_labels = self._positions(columns[k])
            if colour_labels is not None:
                palette = plt.get_cmap("tab10")
                for code, label in enumerate(colour_labels):
                    hit = colour == code
                    ax.scatter(x[hit], self.values[hit, j], s=8, color=palette(code % 10), label=label, alpha=0.7)
                ax.legend(
                    title=FEATURE_NAMES.get(columns[k], columns[k]),
                    fontsize=10,
                    title_fontsize=10,
                    frameon=False,
                    markerscale=2,
                    loc="lower center",
                    bbox_to_anchor=(0.5, 1.0),
                    ncols=min(len(colour_labels), 4),
                )
            else:
                points = ax.scatter(x, self.values[:, j], s=8, c=colour, cmap="viridis", alpha=0.7)
                fig.colorbar(points, ax=ax).set_label(FEATURE_NAMES.get(columns[k], columns[k]), fontsize=10)
            ax.axhline(0, color="0.5", lw=0.6)
            ax.set_xlabel(FEATURE_NAMES.get(name, name), fontsize=11)
            ax.set_ylabel("SHAP value, log-odds", fontsize=11)
            ax.tick_params(labelsize=10)
        fig.suptitle("What each feature adds to the predicted log-odds, visit by visit", fontsize=12)
        return fig

    def _positions(self, name: str) -> tuple[np.ndarray, list[str] | None]:
        """A feature's values as numbers, and its category names when it is categorical (else None)."""
        column = self.features[name]
        if column.dtype == pl.Boolean:
            return column.cast(pl.Int8).to_numpy().astype(float), ["no", "yes"]
        if isinstance(column.dtype, pl.Enum):
            return column.to_physical().to_numpy().astype(float), [str(c) for c in column.dtype.categories]
        if isinstance(column.dtype, (pl.Categorical, pl.String)):
            labels = sorted(column.cast(pl.String).unique().drop_nulls().to_list())
            codes = column.cast(pl.String).replace_strict(labels, list(range(len(labels))), return_dtype=pl.Float64)
            return codes.to_numpy(), labels
        values = column.cast(pl.Float64).to_numpy()
        distinct = np.unique(values)
        if distinct.size <= 4 and np.all(distinct == np.round(distinct)):  # a small code (city tier)
            return np.searchsorted(distinct, values).astype(float), [f"{v:g}" for v in distinct]
        return values, None


FEATURE_NAMES = {
    "segment": "customer segment",
    "age_band": "age band",
    "city_tier": "city tier",
    "is_vip": "VIP member",
    "cart_items": "items in the cart at midnight",
    "past_orders_90d": "orders in the past 90 days",
    "device": "device",
    "source": "how the visit started",
    "n_pages": "pages viewed",
    "hour": "hour of the day",
    "personalized": "personalized pages",
}
"""The features in plain words, for the plots."""


def explain(
    model: ConversionModel, frame: pl.DataFrame, *, rows: int = 2000, random_state: int = 0, seed: int | None = None
) -> ShapExplanation:
    """SHAP values of ``model`` for a sample of ``rows`` visits of ``frame`` seeded by ``random_state`` (``seed``: its
    deprecated former name), from shap's TreeExplainer (exact for trees).

    Returns
    -------
    ShapExplanation
        Contributions in log-odds, the base value, the raw margins and LightGBM's own contributions.
    """
    shap = require("shap", "explain", purpose="SHAP values")

    random_state = _random_state(random_state, seed, "explain")
    _check_frame(frame, model.columns)
    if rows < 1:
        raise ValueError(f"rows: must be at least 1, got {rows}")
    take = np.arange(frame.height)
    if frame.height > rows:
        take = np.sort(np.random.default_rng([random_state, 17]).choice(take, size=rows, replace=False))
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
