"""The weights of a synthetic control: donor weights W on the simplex (an exact quadratic program) and predictor
weights V (ADH's nested optimisation, a user's V, or ADH 2015's cross-validated V).

:func:`simplex_least_squares` solves min ||a w - b||^2 over w >= 0, sum(w) = 1 exactly (a primal active-set method).
:func:`predictor_weights` finds W for standardized predictors X (k x donors) under predictor weights V: W minimises
the V-weighted predictor gap, and among weight vectors that match the predictors equally well (the treated unit's
predictors often lie inside the donors' convex hull, and then many W match them exactly) the one that also matches
the pre-period outcomes best: the outcome gap enters the objective at :data:`TIE_BREAK` of the predictors' scale,
which decides ties and moves a unique answer by about that share. :func:`search_v` chooses V to minimise the
outcome MSPE of the resulting W (ADH 2010; with validation outcomes, ADH 2015), by Nelder-Mead over log-weights from
two starts (equal weights, and pysyncon's regression start), each W from the exact QP warm-started at the last one.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

__all__ = ["TIE_BREAK", "predictor_weights", "search_v", "simplex_least_squares"]

TIE_BREAK = 1e-6  # weight of the pre-period outcome gap (per period, in units of the outcome's variance) in W's fit


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
    return _active_set(a.T @ a, a.T @ b, w, max_iter=max_iter)


def _active_set(gram: np.ndarray, cross: np.ndarray, w: np.ndarray, *, max_iter: int = 500) -> np.ndarray:
    """The active-set iterations of :func:`simplex_least_squares` on ``gram = a'a`` and ``cross = a'b`` (scaled to
    order one), from the feasible weights ``w``."""
    n = w.size
    w = w.copy()
    support = w > 1e-12
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


class _Weights:
    """W as a function of V for one problem: the V-weighted predictor gap plus the tie-breaking outcome gap, the
    pieces of its normal equations kept so that each V costs a few small linear solves (warm-started)."""

    def __init__(self, x0: np.ndarray, x1: np.ndarray, z0: np.ndarray, z1: np.ndarray) -> None:
        self.x0, self.x1 = x0, x1
        spread = float(np.var(np.concatenate([z0.ravel(), z1]))) or 1.0
        c = TIE_BREAK / (z1.size * spread)
        self.z0, self.z1 = z0 * np.sqrt(c), z1 * np.sqrt(c)
        self.outer = x0[:, :, None] * x0[:, None, :]  # k x J x J
        self.cross = x0 * x1[:, None]  # k x J
        self.zgram, self.zcross = self.z0.T @ self.z0, self.z0.T @ self.z1
        self.last: np.ndarray | None = None

    def cold(self, v: np.ndarray) -> np.ndarray:
        root = np.sqrt(v)[:, None]
        a = np.vstack([self.x0 * root, self.z0])
        b = np.concatenate([self.x1 * root[:, 0], self.z1])
        self.last = simplex_least_squares(a, b)
        return self.last

    def __call__(self, v: np.ndarray) -> np.ndarray:
        if self.last is None:
            return self.cold(v)
        gram = np.tensordot(v, self.outer, axes=1) + self.zgram
        cross = v @ self.cross + self.zcross
        scale = max(float(np.abs(np.diag(gram)).max()), float(np.abs(cross).max()), 1e-300)
        self.last = _active_set(gram / scale, cross / scale, self.last)
        return self.last


def predictor_weights(
    x0: np.ndarray, x1: np.ndarray, z0: np.ndarray, z1: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, float]:
    """Donor weights W for standardized predictors ``x0`` (k x donors) and ``x1`` (k) under predictor weights
    ``v`` (k, summing to 1), ties broken by the outcomes ``z0`` (periods x donors) and ``z1``; with the MSPE of
    ``z1 - z0 W``."""
    w = _Weights(x0, x1, z0, z1).cold(np.asarray(v, dtype=np.float64))
    return w, float(np.mean((z1 - z0 @ w) ** 2))


def _regression_start(x0: np.ndarray, x1: np.ndarray, z0: np.ndarray, z1: np.ndarray) -> np.ndarray | None:
    """pysyncon's ``optim_initial="ols"``: V proportional to the squared coefficients of the outcomes regressed on
    the predictors across units (None when that regression is singular)."""
    x = np.column_stack([np.ones(x0.shape[1] + 1), np.hstack([x0, x1[:, None]]).T])
    z = np.hstack([z0, z1[:, None]])
    try:
        beta = np.linalg.solve(x.T @ x, x.T @ z.T)[1:]
    except np.linalg.LinAlgError:
        return None
    v = np.sum(beta**2, axis=1)
    return v / v.sum() if np.all(np.isfinite(v)) and v.sum() > 0 else None


def search_v(
    x0: np.ndarray,
    x1: np.ndarray,
    z0: np.ndarray,
    z1: np.ndarray,
    *,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Predictor weights V (k, summing to 1) whose W (:func:`predictor_weights` with ties broken by ``z0, z1``)
    has the smallest MSPE of ``z1 - z0 W`` (ADH 2010), or of the ``validation`` outcomes (donors', treated's) when
    given (ADH 2015's cross-validation: W fitted on training-period predictors, judged on the validation period)."""
    k = x0.shape[0]
    if k == 1:
        return np.ones(1)
    judge0, judge1 = validation if validation is not None else (z0, z1)
    weights = _Weights(x0, x1, z0, z1)

    def softmax(theta: np.ndarray) -> np.ndarray:
        e = np.exp(theta - theta.max())
        return e / e.sum()

    def loss(theta: np.ndarray) -> float:
        w = weights(softmax(theta))
        return float(np.mean((judge1 - judge0 @ w) ** 2))

    starts = [np.zeros(k)]
    ols = _regression_start(x0, x1, z0, z1)
    if ols is not None:
        starts.append(np.log(np.maximum(ols, 1e-8)))
    best = (np.inf, np.full(k, 1.0 / k))
    for theta0 in starts:
        simplex = np.vstack([theta0, theta0 + 2.0 * np.eye(k)])
        res = optimize.minimize(loss, theta0, method="Nelder-Mead", options=_options(simplex, loss(theta0)))
        v = softmax(res.x)
        w = _Weights(x0, x1, z0, z1).cold(v)  # the answer from a cold start, whatever path the search took
        value = float(np.mean((judge1 - judge0 @ w) ** 2))
        if value < best[0]:
            best = (value, v)
    return best[1]


def _options(simplex: np.ndarray, scale: float) -> dict[str, object]:
    return {
        "initial_simplex": simplex,
        "xatol": 1e-3,
        "fatol": 1e-9 * max(scale, 1e-12),
        "maxfev": 300 * simplex.shape[1],
    }
