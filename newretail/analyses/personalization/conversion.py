"""The conversion model (LightGBM) and its AUC compared with a reference score (DeLong)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.personalization.visits import (
    FEATURES,
    OUTCOME,
    TREATMENT,
    _check_frame,
    _split_users,
    design_matrix,
)
from newretail.methods.comparisons import AucComparison, compare_auc
from newretail.methods.learners import LightGBMSettings, ProbabilityModel

# ----------------------------------------------------------------------------------------------------------------
# conversion model


def _random_state(random_state: int, seed: int | None, where: str) -> int:
    """The seed of a personalization step: ``random_state``, or the deprecated ``seed=`` of earlier versions (with
    a DeprecationWarning; both at once are refused unless equal)."""
    if seed is None:
        return random_state
    warnings.warn(f"{where}: seed= is deprecated, pass random_state= instead", DeprecationWarning, stacklevel=3)
    if random_state not in (0, seed):
        raise ValueError(f"{where}: seed={seed} and random_state={random_state} disagree; pass random_state only")
    return seed


CONVERSION_SETTINGS = LightGBMSettings(n_estimators=300, learning_rate=0.05, max_train_rows=200_000)


class ConversionModel(ProbabilityModel):
    """LightGBM classifier of conversion from the :data:`FEATURES` and whether the visit was personalized: the
    package's :class:`~newretail.methods.learners.ProbabilityModel` fitted on a :func:`visit_frame`.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, max_train_rows, num_threads, random_state :
        :class:`~newretail.methods.learners.LightGBMSettings` (defaults :data:`CONVERSION_SETTINGS`: more, slower
        trees and a larger training subsample than the uplift learners').
    """

    def __init__(
        self,
        *,
        n_estimators: int = CONVERSION_SETTINGS.n_estimators,
        learning_rate: float = CONVERSION_SETTINGS.learning_rate,
        num_leaves: int = CONVERSION_SETTINGS.num_leaves,
        min_child_samples: int = CONVERSION_SETTINGS.min_child_samples,
        max_train_rows: int | None = CONVERSION_SETTINGS.max_train_rows,
        num_threads: int = CONVERSION_SETTINGS.num_threads,
        random_state: int = CONVERSION_SETTINGS.random_state,
    ) -> None:
        super().__init__(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            max_train_rows=max_train_rows,
            num_threads=num_threads,
            random_state=random_state,
        )

    @property
    def columns(self) -> tuple[str, ...]:
        """Model inputs, in order."""
        return (*FEATURES, TREATMENT)

    def fit(self, frame: pl.DataFrame) -> ConversionModel:  # type: ignore[override]
        """Fit on a :func:`visit_frame` (or a subset of its rows); returns self."""
        _check_frame(frame, (*self.columns, OUTCOME))
        super().fit(design_matrix(frame, features=self.columns), frame[OUTCOME].to_numpy())
        self.n_train_ = int(self.settings.rows(np.arange(frame.height), self._SALT).size)
        return self

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        """Conversion probability of each visit."""
        return self.predict(design_matrix(frame, features=self.columns))

    def predict_margin(self, frame: pl.DataFrame) -> np.ndarray:  # type: ignore[override]
        """Raw model output of each visit, log-odds of conversion."""
        return super().predict_margin(design_matrix(frame, features=self.columns))


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
    random_state: int = 0,
    alpha: float = 0.05,
    seed: int | None = None,
) -> ConversionFit:
    """Fit a :class:`ConversionModel` on the visits of a random ``1 - test_share`` of users, score the rest.

    ``random_state`` seeds the split of users and (when ``model`` is None) the model; ``seed`` is its deprecated
    former name.

    Returns
    -------
    ConversionFit
        The fitted model, held-out predictions (probabilities) and the held-out AUC with its DeLong interval.
    """
    _check_frame(frame, ("visit_id", "user_id", *FEATURES, TREATMENT, OUTCOME))
    if not 0 < test_share < 1:
        raise ValueError(f"test_share: must be in (0, 1), got {test_share}")
    random_state = _random_state(random_state, seed, "fit_conversion")
    model = model if model is not None else ConversionModel(random_state=random_state)
    held = _split_users(frame["user_id"].to_numpy(), test_share, random_state)
    train, test = frame.filter(pl.Series(~held)), frame.filter(pl.Series(held))
    model.fit(train)
    scored = test.select("visit_id", OUTCOME).with_columns(p_model=pl.Series(model.predict_proba(test)))
    y, p = scored[OUTCOME].to_numpy(), scored["p_model"].to_numpy()
    cmp = compare_auc(y, p, p, alpha=alpha)
    return ConversionFit(model, scored, cmp.auc, cmp.auc_ci_low, cmp.auc_ci_high, model.n_train_)
