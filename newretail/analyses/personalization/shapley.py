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

        plt.figure(figsize=(6.5, 4.5))
        shap.summary_plot(self.values, self._pandas(), max_display=max_display, show=False, plot_size=None)
        fig = plt.gcf()
        fig.axes[0].set_xlabel("SHAP value, log-odds of conversion")
        fig.tight_layout()
        return fig

    def plot_dependence(self, features: Sequence[str] = ("cart_items", "past_orders_90d", "segment")) -> Figure:
        """SHAP dependence plots, one panel per feature, coloured by the strongest interacting feature."""
        import matplotlib.pyplot as plt

        shap = require("shap", "explain", purpose="SHAP plots")

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
