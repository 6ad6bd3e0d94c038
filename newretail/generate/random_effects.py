"""Random effects shared by the generators: per-entity normal draws that do not depend on partitioning, the exact
expectation of a logistic probability over a normal random effect, and bursts of rows from one shopper.

A shopper's (or a design's) effect is a pure function of the dataset seed, a stream tag and the entity's id: a
counter-based hash (splitmix64) turned into a standard normal. Any partition that meets the entity draws the same
effect, whatever the number of partitions or workers, without a table of every entity in memory.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import expit, ndtri

__all__ = ["GH_NODES", "burst_shoppers", "bursts", "entity_normal", "expit_mean", "gauss_hermite"]

GH_NODES = 40  # Gauss-Hermite nodes: logistic integrals to ~1e-10 relative at sd 1, ~1e-7 at sd 2
_BLOCK = 2048  # rows of logits per block in expit_mean (2048 x 40 float64: 640 KiB)
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)

# stream tags of the per-entity effects (any distinct constants)
SHOPPER_CONVERSION = 11
SHOPPER_CLICK = 12
SHOPPER_TRANSFER = 13
SHOPPER_ALLOCATION = 16
DESIGN_CLICK = 14
HOUR_CLICK = 15


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def entity_normal(seed: int, stream: int, ids: np.ndarray) -> np.ndarray:
    """A standard normal per entity id, fixed by (``seed``, ``stream``, id): the same in every partition.

    Parameters
    ----------
    seed : the dataset seed (0 to 2**63 - 1).
    stream : a tag separating the effects of one kind from another's.
    ids : integer entity ids (int64), any shape.
    """
    if not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed = {seed!r}: must be a whole number from 0 to 2**63 - 1")
    key = _splitmix64(np.array([int(seed) ^ (int(stream) << 56)], dtype=np.uint64))[0]
    h = _splitmix64(np.asarray(ids).astype(np.int64).view(np.uint64) ^ key)
    h = _splitmix64(h ^ np.uint64(int(stream)))
    u = ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53  # in (0, 1)
    return np.asarray(ndtri(u), dtype=np.float64)


@lru_cache(maxsize=4)
def gauss_hermite(n: int = GH_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(Z)], Z standard normal: sum(w * f(x)) (probabilists' Hermite, weights sum to 1)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


def expit_mean(logit: np.ndarray | float, sd: float) -> np.ndarray:
    """E[expit(logit + sd Z)] for Z standard normal, elementwise, by Gauss-Hermite quadrature (exact for sd 0)."""
    logit = np.asarray(logit, dtype=np.float64)
    if sd < 0 or not np.isfinite(sd):
        raise ValueError(f"sd = {sd!r}: must be a finite number >= 0")
    if sd == 0:
        return np.asarray(expit(logit))
    x, w = gauss_hermite()
    # In blocks of rows that stay in the cache, with one scratch buffer, each term as w / (1 + exp(-logit - sd x))
    # with numpy's vectorised exp: four times as fast as scipy's expit on the whole (rows x nodes) array, and equal
    # to it within 1e-15 relative (the last bit of exp). A plain sum, not a BLAS product: the result must not depend
    # on the number of BLAS threads.
    flat = logit.reshape(-1)
    out = np.empty(flat.size)
    minus_shifts = -sd * x
    scratch = np.empty((min(_BLOCK, flat.size), x.size))
    with np.errstate(over="ignore"):  # exp(800) is inf, and w / inf the 0 it should be
        for start in range(0, flat.size, _BLOCK):
            stop = min(start + _BLOCK, flat.size)
            block = scratch[: stop - start]
            np.subtract(minus_shifts, flat[start:stop, None], out=block)
            np.exp(block, out=block)
            block += 1.0
            np.divide(w, block, out=block)
            block.sum(axis=-1, out=out[start:stop])
    return out.reshape(logit.shape)


def bursts(
    rng: np.random.Generator,
    n_users: int,
    mean_size: float,
    shape: float,
    *,
    n: int | None = None,
    expected: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows in bursts from one shopper each: sizes 1 + negative binomial (mean ``mean_size``, shape ``shape``:
    gamma-Poisson), the shopper of a burst uniform among ``n_users``. Returns (user id, burst index) per row.

    With ``expected`` the number of bursts is Poisson (mean ``expected / mean_size``), so the number of rows is
    compound Poisson: over-dispersed arrivals, as many rows as expected on average. With ``n`` exactly ``n`` rows
    (the last burst is cut). ``mean_size`` 1 gives one row per burst (independent rows).
    """
    shopper, burst = burst_shoppers(rng, n_users, mean_size, shape, n=n, expected=expected)
    return shopper[burst], burst


def burst_shoppers(
    rng: np.random.Generator,
    n_users: int,
    mean_size: float,
    shape: float,
    *,
    n: int | None = None,
    expected: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The bursts of :func:`bursts` (the same draws) as (user id per burst, burst index per row): a shopper's
    effects can then be drawn once per burst and gathered to its rows with ``effect[burst]``."""
    if (n is None) == (expected is None):
        raise ValueError("bursts: give exactly one of n and expected")
    extra = mean_size - 1.0

    def sizes_of(k: int) -> np.ndarray:
        if extra > 0:
            return np.asarray(1 + rng.negative_binomial(shape, shape / (shape + extra), size=k), dtype=np.int64)
        return np.ones(k, dtype=np.int64)

    if expected is not None:
        sizes = sizes_of(int(rng.poisson(expected / mean_size)))
        total = int(sizes.sum())
    else:
        total = int(n or 0)
        parts: list[np.ndarray] = []
        drawn = 0
        while drawn < total:
            s = sizes_of(max(16, int((total - drawn) / mean_size * 1.1) + 16))
            parts.append(s)
            drawn += int(s.sum())
        sizes = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    burst = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)[:total]
    users = rng.integers(0, max(n_users, 1), size=int(burst[-1]) + 1, dtype=np.int64)
    return users, burst
