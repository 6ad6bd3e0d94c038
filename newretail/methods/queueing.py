"""Erlang C: the M/M/N queue of a call centre, and the agents a service level needs.

With arrivals at ``lambda`` per second and a mean handling time ``h`` seconds, the offered load is ``A = lambda * h``
Erlangs. With ``N`` agents, Erlang C gives the chance that a customer waits at all, ``C(N, A)``, the service level
(share answered within ``T`` seconds) ``1 - C(N, A) exp(-(N - A) T / h)``, the mean wait (average speed of answer)
``C(N, A) h / (N - A)`` and the occupancy ``A / N``. Its assumptions: Poisson arrivals at a steady rate, exponential
handling times, one queue, nobody hangs up. This is the package's only implementation; the chatbot's staffing and
efficiency analyses call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from newretail.methods._frames import MethodInputError

__all__ = ["ErlangC"]


def _array(value: Any, name: str, *, allow_zero: bool) -> np.ndarray:
    if isinstance(value, (str, bool)) or value is None:
        raise MethodInputError(f"{name}: must be a number, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise MethodInputError(f"{name}: must be a number, got {value!r}") from None
    if arr.size == 0:
        raise MethodInputError(f"{name}: no values")
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        allowed = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise MethodInputError(f"{name}: must be {allowed}, got {arr[bad].flat[0]!r}")
    return arr


def _out(value: np.ndarray, scalar: bool) -> Any:
    return value.reshape(-1)[0].item() if scalar else value


@dataclass(frozen=True)
class ErlangC:
    """An M/M/N queue: ``arrivals_per_s`` customers per second, each handled in ``handle_s`` seconds on average.

    Both may be numpy arrays (one queue per element, broadcast); every method then answers element-wise, and
    returns plain numbers for scalar queues.

    Parameters
    ----------
    arrivals_per_s : arrival rate, customers per second (>= 0).
    handle_s : mean handling time, seconds (> 0).
    """

    arrivals_per_s: Any
    handle_s: Any

    def __post_init__(self) -> None:
        lam = _array(self.arrivals_per_s, "arrivals_per_s", allow_zero=True)
        aht = _array(self.handle_s, "handle_s", allow_zero=False)
        try:
            np.broadcast_shapes(lam.shape, aht.shape)
        except ValueError:
            raise MethodInputError("arrivals_per_s, handle_s: arrays of different shapes") from None

    # ------------------------------------------------------------------ helpers
    def _rates(self) -> tuple[np.ndarray, np.ndarray]:
        lam, aht = np.broadcast_arrays(
            np.asarray(self.arrivals_per_s, dtype=np.float64), np.asarray(self.handle_s, dtype=np.float64)
        )
        return lam, aht

    def _scalar(self, *others: Any) -> bool:
        return all(np.ndim(v) == 0 for v in (self.arrivals_per_s, self.handle_s, *others))

    @property
    def load_erlangs(self) -> Any:
        """Offered load ``A = arrivals_per_s * handle_s``, Erlangs (agents kept busy on average)."""
        lam, aht = self._rates()
        return _out(lam * aht, self._scalar())

    def _wait(self, n: np.ndarray, load: np.ndarray) -> np.ndarray:
        """C(N, A), 1 where the queue is unstable (N <= A), 0 where nobody arrives."""
        from scipy import stats

        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            erlang_b = np.exp(stats.poisson.logpmf(n, load) - stats.poisson.logcdf(n, load))  # blocking, Erlang B
            stable = n > load
            wait = np.where(stable, n * erlang_b / (n - load * (1.0 - erlang_b)), 1.0)
        return np.where(load == 0, 0.0, wait)

    def _agents(self, agents: Any) -> np.ndarray:
        n = _array(agents, "agents", allow_zero=True)
        if np.any(n != np.round(n)):
            raise MethodInputError(f"agents: must be whole numbers, got {n[n != np.round(n)].flat[0]!r}")
        return n

    # ------------------------------------------------------------------ results
    def p_wait(self, agents: Any) -> Any:
        """Chance that a customer waits at all, ``C(N, A)`` (1 when ``agents <= load``: the queue grows without end)."""
        n = self._agents(agents)
        lam, aht = self._rates()
        return _out(self._wait(n, lam * aht), self._scalar(agents))

    def service_level(self, agents: Any, answer_s: Any) -> Any:
        """Share of customers answered within ``answer_s`` seconds by ``agents`` agents.

        0 where the load reaches the agents (``A >= N``), 1 where nobody arrives.
        """
        n = self._agents(agents)
        t = _array(answer_s, "answer_s", allow_zero=True)
        lam, aht = self._rates()
        load = lam * aht
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            level = np.where(n > load, 1.0 - self._wait(n, load) * np.exp(-(n - load) * t / aht), 0.0)
        level = np.where(load == 0, 1.0, np.clip(level, 0.0, 1.0))
        return _out(level, self._scalar(agents, answer_s))

    def asa_s(self, agents: Any) -> Any:
        """Average speed of answer (mean wait in the queue, all customers), seconds; infinite when unstable."""
        n = self._agents(agents)
        lam, aht = self._rates()
        load = lam * aht
        with np.errstate(divide="ignore", invalid="ignore"):
            asa = np.where(n > load, self._wait(n, load) * aht / (n - load), np.inf)
        return _out(np.where(load == 0, 0.0, asa), self._scalar(agents))

    def occupancy(self, agents: Any) -> Any:
        """Share of the agents' time spent handling customers, ``A / N`` (capped at 1; 0 agents give NaN)."""
        n = self._agents(agents)
        lam, aht = self._rates()
        with np.errstate(divide="ignore", invalid="ignore"):
            occ = np.where(n > 0, np.minimum(lam * aht / n, 1.0), np.nan)
        return _out(occ, self._scalar(agents))

    def agents(self, service_level: float, answer_s: float, *, shrinkage: float = 0.0) -> Any:
        """Fewest agents answering ``service_level`` of customers within ``answer_s`` seconds.

        Parameters
        ----------
        service_level : target share answered in time, in (0, 1).
        answer_s : answer time, seconds (>= 0).
        shrinkage : share of paid time agents are unavailable (breaks, training), in [0, 1); the rostered agents
            are ``ceil(agents / (1 - shrinkage))``.

        Returns
        -------
        int or numpy.ndarray
            Agents (int64 for arrays); 0 where nobody arrives.
        """
        for name, value in (("service_level", service_level), ("shrinkage", shrinkage)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise MethodInputError(f"{name}: must be a number, got {value!r}")
        if not 0.0 < service_level < 1.0:
            raise MethodInputError(f"service_level: must be a share in (0, 1), e.g. 0.8, got {service_level!r}")
        if not 0.0 <= shrinkage < 1.0:
            raise MethodInputError(f"shrinkage: must be a share in [0, 1), got {shrinkage!r}")
        _array(answer_s, "answer_s", allow_zero=True)
        if np.ndim(answer_s) != 0:
            raise MethodInputError("answer_s: must be one number")
        lam, aht = self._rates()
        load = lam * aht
        low = np.floor(load)  # at most the load: the queue is unstable, the target is missed
        step = np.ceil(np.sqrt(load)) + 1.0
        high = low + step
        for _ in range(64):  # widen until the target is met
            short = np.asarray(self.service_level(high, answer_s)) < service_level
            if not short.any():
                break
            low, high = np.where(short, high, low), np.where(short, high + 2 * step, high)
            step = np.where(short, 2 * step, step)
        while np.any(high - low > 1):  # bisect on whole agents: low misses the target, high meets it
            mid = np.floor((low + high) / 2)
            meets = np.asarray(self.service_level(mid, answer_s)) >= service_level
            low, high = np.where(meets, low, mid), np.where(meets, mid, high)
        needed = np.where(load == 0, 0.0, high)
        if shrinkage:
            # rounded to 9 decimals first so that 14 / (1 - 0.3) is 20, not 20.000000000000004 -> 21
            needed = np.ceil(np.round(needed / (1.0 - shrinkage), 9))
        return _out(needed.astype(np.int64), self._scalar())
