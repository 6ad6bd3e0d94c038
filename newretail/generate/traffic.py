"""The shape of the day: how visits, orders, payments and inquiries spread over the 24 hours.

Time is measured in seconds (or microseconds, ``ts_us``) since the event's midnight, local time.
"""

from __future__ import annotations

import numpy as np

from newretail.scenario import Traffic

SECONDS_PER_DAY = 86_400
_SECOND_MID = np.arange(SECONDS_PER_DAY, dtype=np.float64) + 0.5


class CalibrationError(ValueError):
    """A target that the behaviour assumptions cannot reach; the message says which and why."""


def diurnal_shape(hours: np.ndarray, *, peak_hour: float, trough_hour: float, amplitude: float) -> np.ndarray:
    """Relative activity by hour of day (mean near 1): a cosine warped to peak and trough at the given hours."""
    rise = (peak_hour - trough_hour) % 24.0 or 12.0
    fall = 24.0 - rise
    since_trough = (hours - trough_hour) % 24.0
    phase = np.where(
        since_trough < rise,
        -np.pi + np.pi * since_trough / rise,
        np.pi * (since_trough - rise) / fall,
    )
    return 1.0 + amplitude * np.cos(phase)


def _base_and_spike(traffic: Traffic) -> tuple[np.ndarray, np.ndarray]:
    base = diurnal_shape(
        _SECOND_MID / 3600.0,
        peak_hour=traffic.evening_peak_hour,
        trough_hour=traffic.night_trough_hour,
        amplitude=traffic.diurnal_amplitude,
    )
    spike = np.exp(-_SECOND_MID / (60.0 * traffic.midnight_spike_decay_min))
    return base, spike


def spike_height(traffic: Traffic, peak_share_per_second: float) -> float:
    """Height of the midnight spike (relative to the diurnal curve) that puts ``peak_share_per_second``
    of the day's events into its first second."""
    base, spike = _base_and_spike(traffic)
    f0 = peak_share_per_second
    denominator = spike[0] - f0 * spike.sum()
    numerator = f0 * base.sum() - base[0]
    if numerator < 0:
        raise CalibrationError(
            f"peak share per second {f0:.3g} is below what the diurnal curve alone gives at midnight "
            f"({base[0] / base.sum():.3g}): lower diurnal_amplitude or raise the peak target"
        )
    if denominator <= 0:
        raise CalibrationError(
            f"peak share per second {f0:.3g} cannot be reached with a midnight spike decaying in "
            f"{traffic.midnight_spike_decay_min} min: shorten midnight_spike_decay_min"
        )
    return float(numerator / denominator)


def event_density(traffic: Traffic, height: float) -> np.ndarray:
    """Share of the day's events in each second (86,400 values summing to 1)."""
    base, spike = _base_and_spike(traffic)
    density = base + height * spike
    return density / density.sum()


def daytime_density(traffic: Traffic) -> np.ndarray:
    """Share of events per second for activity without a midnight rush (store deliveries, store sales)."""
    base, _ = _base_and_spike(traffic)
    return base / base.sum()


_GUIDE_BITS = 18  # a guide table of 2**18 cells: finer than the smallest share of a second in a day's density


def _seconds_from_uniform(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cdf, u, side="right")`` for uniforms ``u`` in [0, 1), through a guide table.

    The unit interval is cut into 2**18 equal cells (exact in binary floating point) and the search index of each
    cell's edges is found once; a uniform whose cell holds no cdf edge has its answer at once, one whose cell
    holds a single edge needs one comparison, and the rare cell with several edges falls back to the binary search.
    The result equals the plain search for every ``u``, and is several times faster than it for large ``u``.
    """
    cells = 1 << _GUIDE_BITS
    if u.size < cells // 4:  # building the table costs more than it saves
        return np.searchsorted(cdf, u, side="right")
    edges = np.searchsorted(cdf, np.arange(cells + 1, dtype=np.float64) / cells, side="right").astype(np.int32)
    cell = (u * cells).astype(np.int32)
    lo = edges[cell]
    span = edges[cell + 1] - lo
    out = lo.astype(np.int64)
    out += span.astype(bool) & (cdf[np.minimum(lo, cdf.size - 1)] <= u)
    wide = np.flatnonzero(span > 1)
    if wide.size:
        out[wide] = np.searchsorted(cdf, u[wide], side="right")
    return out


def sample_ts_us(rng: np.random.Generator, density: np.ndarray, n: int) -> np.ndarray:
    """Draw ``n`` timestamps (microseconds since midnight, int64) from a per-second density."""
    cdf = np.cumsum(density)
    cdf /= cdf[-1]
    seconds = _seconds_from_uniform(cdf, rng.random(n)).clip(0, SECONDS_PER_DAY - 1)
    within = rng.random(n)
    return (seconds * 1_000_000 + np.floor(within * 1_000_000)).astype(np.int64)


def payment_peak_ratio(density: np.ndarray, delay_s: float) -> float:
    """Peak payments per second over peak orders per second when payment follows the order after an
    exponential delay of mean ``delay_s`` seconds."""
    from scipy import signal  # here, not at the top: the partition workers never need it

    rho = np.exp(-1.0 / delay_s)
    payments = signal.lfilter([1.0 - rho], [1.0, -rho], density)
    return float(payments.max() / density.max())


def payment_delay_for_ratio(density: np.ndarray, ratio: float) -> float:
    """Mean payment delay in seconds that gives ``ratio`` = peak payments/s over peak orders/s."""
    if not 0.0 < ratio <= 1.0:
        raise CalibrationError(f"peak payments per second must not exceed peak orders per second (ratio {ratio:.3g})")
    from scipy import optimize

    low, high = 1e-3, 6 * 3600.0
    if payment_peak_ratio(density, high) > ratio:
        raise CalibrationError(f"a payment/order peak ratio of {ratio:.3g} needs delays beyond {high:.0f} s")
    if payment_peak_ratio(density, low) < ratio:
        return low
    return float(optimize.brentq(lambda d: payment_peak_ratio(density, d) - ratio, low, high, xtol=1e-6))
