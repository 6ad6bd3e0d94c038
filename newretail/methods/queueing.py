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

from newretail.methods._frames import MethodInputError, shown

__all__ = ["MAX_OCCUPANCY", "ErlangC"]

MAX_OCCUPANCY = 0.85  # default ceiling on the share of time agents spend handling customers (a planning convention)


def _array(value: Any, name: str, *, allow_zero: bool) -> np.ndarray:
    if isinstance(value, (str, bool)) or value is None:
        raise MethodInputError(f"{name}: must be a number, got {shown(value)}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise MethodInputError(f"{name}: must be a number, got {shown(value)}") from None
    if arr.size == 0:
        raise MethodInputError(f"{name}: no values")
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        allowed = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise MethodInputError(f"{name}: must be {allowed}, got {shown(arr[bad].flat[0])}")
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
            raise MethodInputError(f"agents: must be whole numbers, got {shown(n[n != np.round(n)].flat[0])}")
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

    def agents(
        self,
        service_level: float,
        answer_s: float,
        *,
        shrinkage: float = 0.0,
        max_occupancy: float | None = MAX_OCCUPANCY,
    ) -> Any:
        """Fewest agents answering ``service_level`` of customers within ``answer_s`` seconds, and busy at most
        ``max_occupancy`` of their time.

        Parameters
        ----------
        service_level : target share answered in time, in (0, 1).
        answer_s : answer time, seconds (>= 0).
        shrinkage : share of paid time agents are unavailable (breaks, training), in [0, 1); the rostered agents
            are ``ceil(agents / (1 - shrinkage))``.
        max_occupancy : the highest share of their time agents may spend handling customers, in (0, 1]; None (or 1)
            for no cap. A large queue meets its service level with agents busy almost all the time (Erlang C's
            economies of scale: 3.5 million inquiries a day need only about A + 2 sqrt(A) agents), which no team
            sustains; the cap adds agents until ``A / N <= max_occupancy``, i.e. ``N >= ceil(A / max_occupancy)``.
            Default 0.85, a common planning ceiling (and the scenario's ``human_occupancy``).

        Returns
        -------
        int or numpy.ndarray
            Agents (int64 for arrays); 0 where nobody arrives.
        """
        for name, value in (("service_level", service_level), ("shrinkage", shrinkage)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise MethodInputError(f"{name}: must be a number, got {shown(value)}")
        if not 0.0 < service_level < 1.0:
            raise MethodInputError(f"service_level: must be a share in (0, 1), e.g. 0.8, got {shown(service_level)}")
        if not 0.0 <= shrinkage < 1.0:
            raise MethodInputError(f"shrinkage: must be a share in [0, 1), got {shown(shrinkage)}")
        if max_occupancy is not None and (
            isinstance(max_occupancy, bool)
            or not isinstance(max_occupancy, (int, float))
            or not 0.0 < max_occupancy <= 1.0
        ):
            raise MethodInputError(f"max_occupancy: must be a share in (0, 1] or None, got {shown(max_occupancy)}")
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
        if max_occupancy is not None and max_occupancy < 1.0:
            # rounded to 9 decimals first, as below: 8.5 Erlangs at 0.85 is 10 agents, not 10.000000000000002 -> 11
            needed = np.maximum(needed, np.ceil(np.round(load / max_occupancy, 9)))
        if shrinkage:
            # rounded to 9 decimals first so that 14 / (1 - 0.3) is 20, not 20.000000000000004 -> 21
            needed = np.ceil(np.round(needed / (1.0 - shrinkage), 9))
        return _out(needed.astype(np.int64), self._scalar())
