"""The within transformation of two-way fixed effects, exact and sparse: no dense n x k matrix is ever decomposed.

Rows carry two codes: ``a`` (the side absorbed row by row: unit means, and unit trends when asked) and ``b`` (the
other side, solved for). Absorbing ``a`` is a weighted group mean (``numpy.bincount``); the ``b`` effects then solve
the small normal equations ``G gamma = D' W M_a v`` with ``G = D' W M_a D`` built from the sparse ``a`` x ``b``
incidence matrix (``scipy.sparse``), so that ``M v = M_a (v - gamma[b])`` is the exact residual of ``v`` on both sets
of effects (Frisch-Waugh-Lovell). ``G`` has one row per level of the smaller side; above :data:`DENSE_LIMIT` levels it
is solved by conjugate gradients without being formed. Its rank (the number of identified ``b`` effects) comes from
its eigenvalues, or from the connected components of the ``a``-``b`` graph on the iterative path, never from the rows.

Used by :func:`newretail.methods._panel_data.twfe_fit`; the cluster-robust OLS on the residuals is
:func:`cluster_ols`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = ["DENSE_LIMIT", "Absorber", "ClusterOls", "absorber", "cluster_ols"]

DENSE_LIMIT = 4000  # levels of the solved side above which G is not formed (conjugate gradients instead)
_RANK_TOL = 1e-10  # eigenvalues of G below this share of the largest are structural zeros (G is W-weighted Z'Z)


def _sums(codes: np.ndarray, w: np.ndarray, v: np.ndarray, size: int) -> np.ndarray:
    """Per-code weighted sums of each column of ``v`` (rows x columns) -> (size x columns)."""
    return np.stack([np.bincount(codes, weights=w * col, minlength=size) for col in v.T], axis=1)


@dataclass(frozen=True)
class Absorber:
    """Residualises columns on two sets of fixed effects (and trends on the ``a`` side); see the module text."""

    a: np.ndarray
    b: np.ndarray
    n_a: int
    n_b: int
    w: np.ndarray
    w_a: np.ndarray  # weight per a level
    tc: np.ndarray | None  # time centred within each a level (trends), else None
    inv_sxx: np.ndarray | None  # 1 / sum w tc^2 per a level (0 where a level has no time variation)
    pinv: np.ndarray | None  # pseudo-inverse of G on the dense path
    operator: sparse.csr_matrix | None  # pieces of G on the iterative path
    b_rank: int  # identified b effects (rank of G)
    a_rank: int  # parameters absorbed on the a side (levels, times two with trends)

    def _exact(self, v: np.ndarray) -> np.ndarray:
        """Residuals of each column on the ``a`` effects (and their trends), exactly."""
        out = v - (_sums(self.a, self.w, v, self.n_a) / self.w_a[:, None])[self.a]
        if self.tc is not None and self.inv_sxx is not None:
            slope = _sums(self.a, self.w * self.tc, out, self.n_a) * self.inv_sxx[:, None]
            out = out - slope[self.a] * self.tc[:, None]
        return out

    def residualise(self, v: np.ndarray) -> np.ndarray:
        """Residuals of each column of ``v`` (rows x columns) on both sets of effects."""
        v = np.asarray(v, dtype=np.float64).reshape(self.a.size, -1)
        rhs = _sums(self.b, self.w, self._exact(v), self.n_b)
        gamma = self.pinv @ rhs if self.pinv is not None else self._iterate(rhs)
        return self._exact(v - gamma[self.b])

    def _g_times(self, x: np.ndarray) -> np.ndarray:
        """G @ x without forming G (iterative path)."""
        assert self.operator is not None
        wb = np.bincount(self.b, weights=self.w, minlength=self.n_b)
        inner = self.operator @ x
        return wb * x - self.operator.T @ (inner / self.w_a)

    def _iterate(self, rhs: np.ndarray) -> np.ndarray:
        from scipy.sparse.linalg import LinearOperator, cg

        op = LinearOperator((self.n_b, self.n_b), matvec=self._g_times, dtype=np.float64)
        out = np.empty_like(rhs)
        for j in range(rhs.shape[1]):
            scale = float(np.abs(rhs[:, j]).max()) or 1.0
            sol, _ = cg(op, rhs[:, j] / scale, rtol=1e-13, atol=0.0, maxiter=20 * self.n_b)
            out[:, j] = sol * scale
        return out


def _gram(a: np.ndarray, b: np.ndarray, n_a: int, n_b: int, values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``C' diag(scale) C`` for the ``a`` x ``b`` matrix ``C`` of per-cell sums of ``values`` (n_b x n_b, dense):
    from a dense cell table when it is small (BLAS), else through scipy.sparse."""
    if n_a * n_b <= 2**24:
        cells = np.bincount(a * n_b + b, weights=values, minlength=n_a * n_b).reshape(n_a, n_b)
        return (cells * scale[:, None]).T @ cells
    c = sparse.csr_matrix((values, (a, b)), shape=(n_a, n_b))
    return np.asarray((c.T @ sparse.diags(scale) @ c).toarray())


def absorber(
    u: np.ndarray,
    t: np.ndarray,
    n_units: int,
    n_times: int,
    *,
    weights: np.ndarray | None = None,
    time_value: np.ndarray | None = None,
) -> Absorber:
    """The :class:`Absorber` of unit and time effects (plus a linear trend per unit when ``time_value`` is given).

    Without trends the side with fewer levels is the one solved for, so ``G`` stays small (50 periods: 50 x 50).
    """
    w = np.ones(u.size) if weights is None else np.asarray(weights, dtype=np.float64)
    trends = time_value is not None
    swap = not trends and n_units < n_times
    a, n_a, b, n_b = (t, n_times, u, n_units) if swap else (u, n_units, t, n_times)
    w_a = np.bincount(a, weights=w, minlength=n_a)
    tc = inv_sxx = None
    if trends:
        assert time_value is not None
        mean = np.bincount(a, weights=w * time_value, minlength=n_a) / w_a
        tc = time_value - mean[a]
        sxx = np.bincount(a, weights=w * tc * tc, minlength=n_a)
        scale = np.bincount(a, weights=w * time_value * time_value, minlength=n_a)
        inv_sxx = np.divide(1.0, sxx, out=np.zeros_like(sxx), where=sxx > 1e-12 * np.maximum(scale, 1e-300))
    a_rank = n_a * (2 if trends else 1)
    if n_b > DENSE_LIMIT:
        if trends:
            raise ValueError(f"unit trends with more than {DENSE_LIMIT} periods")
        incidence = sparse.csr_matrix((w, (a, b)), shape=(n_a, n_b))  # duplicates (rows of one cell) add up
        components = sparse.csgraph.connected_components(
            sparse.bmat([[None, incidence], [incidence.T, None]]), directed=False
        )[0]
        return Absorber(a, b, n_a, n_b, w, w_a, None, None, None, incidence, n_b - components, a_rank)
    wb = np.bincount(b, weights=w, minlength=n_b)
    g = np.diag(wb) - _gram(a, b, n_a, n_b, w, 1.0 / w_a)
    if trends:
        assert tc is not None and inv_sxx is not None
        g -= _gram(a, b, n_a, n_b, w * tc, inv_sxx)
    values, vectors = np.linalg.eigh((g + g.T) / 2)
    top = float(values.max()) if values.size else 0.0
    keep = values > _RANK_TOL * top
    pinv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    return Absorber(a, b, n_a, n_b, w, w_a, tc, inv_sxx, pinv, None, int(keep.sum()), a_rank)


@dataclass(frozen=True)
class ClusterOls:
    """Weighted least squares on residualised columns: coefficients, the cluster-robust covariance without its
    small-sample factor (``bread meat bread``), and the weighted residual sum of squares."""

    coef: np.ndarray
    sandwich: np.ndarray
    collinear: np.ndarray  # indices of regressors with (almost) nothing left after absorbing the effects


def cluster_ols(
    y: np.ndarray, x: np.ndarray, w: np.ndarray, cluster: np.ndarray, n_clusters: int, *, scale: np.ndarray
) -> ClusterOls:
    """OLS of ``y`` on ``x`` (both residualised) with weights ``w``; scores summed per cluster (``numpy.bincount``).

    ``scale`` holds each regressor's weighted sum of squares before absorbing: a regressor keeping less than 1e-10 of
    it, or one in a (near-)collinear set, is reported in ``collinear`` and the fit is not trusted by the caller.
    """
    xw = x * w[:, None]
    xtx = xw.T @ x
    kept = np.diag(xtx) / np.where(scale > 0, scale, 1.0)
    absorbed = np.flatnonzero(kept < 1e-10)
    if absorbed.size:
        return ClusterOls(np.full(x.shape[1], np.nan), np.full((x.shape[1],) * 2, np.nan), absorbed)
    d = 1.0 / np.sqrt(np.diag(xtx))
    corr_values = np.linalg.eigvalsh(xtx * d[:, None] * d[None, :])
    if corr_values.min() < 1e-10 * corr_values.max():
        return ClusterOls(np.full(x.shape[1], np.nan), np.full((x.shape[1],) * 2, np.nan), np.arange(x.shape[1]))
    bread = np.linalg.inv(xtx)
    coef = bread @ (xw.T @ y)
    resid = y - x @ coef
    scores = _sums(cluster, w * resid, x, n_clusters)
    meat = scores.T @ scores
    return ClusterOls(coef, bread @ meat @ bread, np.array([], dtype=np.int64))
