"""average_effect on the NSW experiment (LaLonde 1986; Dehejia & Wahba 1999), shipped in ``causaldata`` 0.1.5.

The experimental benchmark is the difference in mean 1978 earnings of the treated and control men of the
Dehejia-Wahba sample: $1,794, standard error $633 (Dehejia & Wahba 1999, Table 3; the same $1,794 in Cunningham,
*Causal Inference: The Mixtape*, ch. 5, whose ``nsw_mixtape`` data these are).
"""

from __future__ import annotations

import numpy as np
import pytest

from newretail.methods import average_effect

PUBLISHED = 1_794.0
PUBLISHED_SE = 633.0
COVARIATES = ("age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75")


@pytest.fixture(scope="module")
def nsw():  # type: ignore[no-untyped-def]
    causaldata = pytest.importorskip("causaldata")
    return causaldata.nsw_mixtape.load_pandas().data


def test_difference_in_means_is_the_published_benchmark(nsw) -> None:  # type: ignore[no-untyped-def]
    """Without covariates and with the design's propensity (the treated share), the outcome models are the arms'
    training-fold means and AIPW is the difference in means up to the folds' differing means (asserted within 1%
    of an SE); rounded to dollars it is the published $1,794, and the difference in means itself is exactly it."""
    treated_share = float(nsw["treat"].mean())
    effect = average_effect(nsw, outcome="re78", treatment="treat", propensity=treated_share)
    dim = nsw.loc[nsw.treat == 1, "re78"].mean() - nsw.loc[nsw.treat == 0, "re78"].mean()
    assert round(dim) == PUBLISHED
    assert effect.estimate == pytest.approx(dim, abs=0.01 * effect.se)
    assert round(effect.estimate) == PUBLISHED
    # the influence-function SE of a difference in means is the unpooled two-sample SE (n/(n-1) apart)
    assert effect.se == pytest.approx(PUBLISHED_SE, rel=0.08)


def test_covariate_adjusted_aipw_is_near_the_benchmark_and_ols(nsw) -> None:  # type: ignore[no-untyped-def]
    """With the covariates and the known propensity, cross-fitted AIPW estimates the same experimental effect with
    different noise. In a randomized experiment adjusted and unadjusted estimators differ by much less than one
    standard error; we allow one published SE ($633) from $1,794, and half of it from the peer: statsmodels OLS of
    earnings on treatment and the same covariates (another consistent, linearly adjusted estimator)."""
    import statsmodels.api as sm

    treated_share = float(nsw["treat"].mean())
    effect = average_effect(
        nsw, outcome="re78", treatment="treat", covariates=COVARIATES, propensity=treated_share, random_state=0
    )
    X = sm.add_constant(nsw[["treat", *COVARIATES]].astype(float))
    ols = sm.OLS(nsw["re78"].astype(float), X).fit(cov_type="HC1")
    assert abs(effect.estimate - PUBLISHED) < PUBLISHED_SE
    assert abs(effect.estimate - float(ols.params["treat"])) < 0.5 * PUBLISHED_SE
    assert effect.covers(PUBLISHED)
    assert effect.ci_low > 0  # the programme raised earnings, as the experiment found
    assert np.isfinite(effect.se) and effect.se < 1.3 * PUBLISHED_SE
