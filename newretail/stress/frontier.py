"""Break-even frontiers: the value of an assumption at which a claim's reading stops holding.

A grid share ("the reading holds on 10% of the grid") depends on the grid's ranges, which are our choice. A
frontier does not: it is the value of one assumption, in that assumption's units, where the generator's *expected*
value of a reading leaves the range of values that round to the published figure (or, for an ``at-least`` reading,
falls below it). "The causal CTR ratio reaches 2.0 only if placement_allocation_skew is below 0.14" is one frontier.

Each frontier is found on the generator's expected values, free of sampling noise: a scan of the searched range
brackets every change of verdict, and Brent's method on the reading's margin (its distance to the nearest end of the
stated range, signed) pins it down to ``xtol``. Other assumptions stay at their base values. Two modes, as in a
sweep (:mod:`newretail.stress`): ``fixed`` moves the assumption under the parameters solved for the base scenario,
so the observed figure itself moves; ``recalibrated`` solves the generator again at each value, so the reported
figure holds by construction and what moves is what it means. Estimator checks (``covers-truth``, the pilot's
difference-in-differences) have no expected value to bisect; :func:`data_frontiers` reads their frontier off a
sweep's rows instead, as the bracket of grid values between which the data's verdict flips.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from newretail import cache
from newretail.claims.verdicts import stated_range
from newretail.generate.calibrate import Calibration, calibrate, find_root
from newretail.scenario import Scenario
from newretail.stress.checks import CHECKS
from newretail.stress.frontier_values import _EXPECTED, _setup
from newretail.stress.frontier_values import SUPPORTED as SUPPORTED
from newretail.stress.frontier_values import expected_readings as expected_readings
from newretail.stress.grid import Grid, base_value, load_grid

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "ASSUMPTION_UNITS",
    "Frontier",
    "data_frontiers",
    "expected_readings",
    "find_frontiers",
    "frontier_plot",
    "frontier_table",
    "grid_ranges",
    "reading_range",
    "scenario_frontiers",
]

SCAN = 17  # points of the first scan of a searched range
ASSUMPTION_UNITS: dict[str, str] = {
    "behaviour.banners.novelty_decay": "log-odds lost per repeat exposure",
    "behaviour.banners.placement_allocation_skew": "log-odds of an AI creative per unit of slot quality",
    "behaviour.banners.repeat_exposure_prob": "probability",
    "behaviour.personalization.targeting_strength": "log-odds per sd of intent",
    "behaviour.personalization.true_effect_logodds": "log-odds",
    "behaviour.personalization.effect_heterogeneity": "log-odds per sd of intent",
    "behaviour.personalization.intent_weight": "log-odds per sd of intent",
    "behaviour.chatbot.repeat_contact_if_unresolved": "probability",
    "behaviour.chatbot.bot_resolution_rate": "share of bot-handled inquiries",
    "behaviour.chatbot.anger_escalation_threshold": "true anger (0-1)",
    "behaviour.chatbot.bot_handle_s": "s",
    "behaviour.chatbot.human_handle_s": "s",
    "behaviour.chatbot.human_occupancy": "share of a paid hour",
    "behaviour.traffic.fx_rmb_per_usd": "RMB per USD",
    "behaviour.traffic.fx_rmb_per_usd_2016": "RMB per USD",
    "calibration.baseline.visits": "x the solved 2016 visits",
}


@dataclass(frozen=True)
class Frontier:
    """Where one reading of a claim stops holding along one assumption.

    ``value`` is the break-even (None when the verdict does not change over ``searched``); ``direction`` says on
    which side it holds: ``"holds below"``, ``"holds above"``, ``"holds throughout"`` or ``"fails throughout"``.
    ``bracket`` is the interval known to contain it (``xtol`` wide from bisection; two grid values for a data-based
    frontier). ``judged_on`` is ``"truth"`` (expected values) or ``"data"`` (a sweep's intervals).
    """

    claim: str
    reading: str
    assumption: str
    unit: str
    value: float | None
    direction: str
    bracket: tuple[float, float]
    searched: tuple[float, float]
    base: float
    mode: str
    judged_on: str
    target: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: assumption, value, unit, direction first (the claims ledger's ``break_even`` keys)."""
        out = {k: getattr(self, k) for k in ("assumption", "value", "unit", "direction", "claim", "reading")}
        out.update(
            bracket=list(self.bracket),
            searched=list(self.searched),
            base=self.base,
            mode=self.mode,
            judged_on=self.judged_on,
            target=self.target,
            sentence=self.sentence,
        )
        return out


def reading_range(claim: str, reading: str, target: float) -> tuple[float, float]:
    """Values of a reading that support the figure: rounding to it (``two-sided``) or reaching it (``at-least``)."""
    check = CHECKS[claim]
    low, high = stated_range(target, check.unit)
    return (low, math.inf) if check.reading(reading).direction == "at-least" else (low, high)


# ------------------------------------------------------------------------------------------------------- bisection
def _margin(value: float, low: float, high: float) -> float:
    """Signed distance to the nearest end of [low, high]: >= 0 inside (the reading holds), < 0 outside."""
    if not math.isfinite(value):
        return -math.inf
    return min(value - low, high - value)


def _sentence(
    claim: str, reading: str, field: str, unit: str, value: float | None, direction: str, target: float
) -> str:
    name = field.rsplit(".", 1)[-1]
    what = f"{claim} ({reading}) supports {target:g}"
    if value is None:
        where = "over the whole searched range" if direction == "holds throughout" else "nowhere in the searched range"
        return f"{what} {where} of {name}"
    side = "below" if direction == "holds below" else "above"
    return f"{what} only if {name} is {side} {value:.3g} {unit}"


def find_frontiers(
    claim: str,
    field: str,
    searched: tuple[float, float],
    *,
    base: Scenario,
    calibration: Calibration,
    mode: str = "fixed",
    readings: Sequence[str] | None = None,
    xtol: float | None = None,
) -> list[Frontier]:
    """Break-evens of each reading of ``claim`` along ``field`` over ``searched`` (low, high), others at base.

    A scan of :data:`SCAN` values brackets each change of verdict; Brent's method on the reading's margin finds it
    to ``xtol`` (default 1e-6 of the range). A two-sided reading may have two break-evens (one per end of the
    stated range); a reading whose verdict does not change gets one row with ``value`` None.
    """
    low, high = (float(v) for v in searched)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"searched = {searched!r}: must be two finite numbers, low < high")
    check = CHECKS.get(claim)
    if check is None or claim not in _EXPECTED:
        raise ValueError(f"claim = {claim!r}: frontiers on expected values are available for {', '.join(SUPPORTED)}")
    target = check.target(base)
    assert target is not None
    names = list(readings) if readings is not None else [r.name for r in check.readings]
    for n in names:
        check.reading(n)
    tol = xtol if xtol is not None else 1e-6 * (high - low)
    cache: dict[float, dict[str, float]] = {}

    def at(x: float) -> dict[str, float]:
        if x not in cache:
            cache[x] = expected_readings(claim, base, calibration, field, x, mode=mode)
        return cache[x]

    unit = ASSUMPTION_UNITS.get(field, "")
    b = float(base_value(field, base)) if not field.startswith("calibration.") else 1.0
    # the base value joins the scan: a reading that holds there in a window narrower than the scan's step is found
    xs = np.unique(np.append(np.linspace(low, high, SCAN), [b] if low < b < high else []))
    out = []
    for name in names:
        lo_r, hi_r = reading_range(claim, name, target)

        def margin(x: float, name: str = name, lo_r: float = lo_r, hi_r: float = hi_r) -> float:
            return _margin(at(float(x))[name], lo_r, hi_r)

        m = [margin(x) for x in xs]
        found: list[tuple[float | None, str]] = []
        for x0, x1, m0, m1 in zip(xs[:-1], xs[1:], m[:-1], m[1:], strict=True):
            if (m0 >= 0) == (m1 >= 0):
                continue
            if math.isfinite(m0) and math.isfinite(m1):
                root = find_root(margin, x0, x1, xtol=tol)
            else:  # a verdict change without a finite margin: plain bisection on the verdict
                a, c = float(x0), float(x1)
                while c - a > tol:
                    mid = 0.5 * (a + c)
                    a, c = (mid, c) if (margin(mid) >= 0) == (m0 >= 0) else (a, mid)
                root = 0.5 * (a + c)
            found.append((root, "holds below" if m0 >= 0 else "holds above"))
        if not found:
            direction = "holds throughout" if m[0] >= 0 else "fails throughout"
            found = [(None, direction)]
        for at_value, direction in found:
            bracket = (at_value - tol, at_value + tol) if at_value is not None else (low, high)
            out.append(
                Frontier(
                    claim,
                    name,
                    field,
                    unit,
                    at_value,
                    direction,
                    bracket,
                    (low, high),
                    float(b),
                    mode,
                    "truth",
                    float(target),
                    _sentence(claim, name, field, unit, at_value, direction, float(target)),
                )
            )
    return out


def grid_ranges(grid: Grid, claim: str | None = None) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(claim, mode, field) -> the widest range the grid's studies give that field."""
    out: dict[tuple[str, str, str], tuple[float, float]] = {}
    for st in grid.studies:
        if st.claim not in _EXPECTED or (claim is not None and st.claim != claim):
            continue
        for axis in st.axes:
            values = [float(v) for v in axis.values if not isinstance(v, str)]
            if len(values) < 1 or any(isinstance(v, str) for v in axis.values):
                continue
            key = (st.claim, st.mode, axis.field)
            lo, hi = out.get(key, (min(values), max(values)))
            out[key] = (min(lo, *values), max(hi, *values))
    return out


def frontier_table(
    base: Scenario,
    grid: Grid,
    *,
    calibration: Calibration | None = None,
    claim: str | None = None,
    modes: Sequence[str] = ("fixed", "recalibrated"),
) -> pl.DataFrame:
    """Every frontier of a grid's numeric axes, searched over the grid's range of that axis (one row each).

    Parameters
    ----------
    base : the base scenario; ``calibration``: its solved parameters (solved when None).
    grid : the grid whose studies name the claims, modes and assumption ranges.
    claim : only this claim's studies; ``modes``: only studies of these modes (``recalibrated`` solves the
        generator again at every evaluated value: seconds per frontier).
    """
    cal = calibration if calibration is not None else calibrate(base)
    rows: list[dict[str, Any]] = []
    for (c, mode, field), rng in grid_ranges(grid, claim).items():
        if mode not in modes or rng[0] == rng[1]:
            continue
        rows.extend(f.to_dict() for f in find_frontiers(c, field, rng, base=base, calibration=cal, mode=mode))
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def _searches(grid: Grid) -> list[tuple[str, str, tuple[float, float]]]:
    """(claim, field, range) of every fixed-mode frontier a scenario's ledger carries: each claim with expected values
    along each numeric assumption the grid sweeps for it, over the widest range the grid gives it."""
    out: list[tuple[str, str, tuple[float, float]]] = []
    seen: set[tuple[str, str]] = set()
    for (claim, _mode, field), rng in grid_ranges(grid).items():
        if claim not in SUPPORTED or (claim, field) in seen or rng[0] == rng[1]:
            continue
        seen.add((claim, field))
        out.append((claim, field, rng))
    return out


def scenario_frontiers(
    scenario: Scenario,
    *,
    grid: str = "paper",
    on_progress: Callable[[int, int], None] | None = None,
    refresh: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """The break-even frontiers the claims ledger carries for ``scenario``: for each claim with expected values,
    along each assumption ``grid`` sweeps for it, over the grid's range, in ``fixed`` mode (each a
    :meth:`Frontier.to_dict`), by claim id.

    They depend on the scenario and the code only, so they are kept by content (:mod:`newretail.cache`; shipped
    with the package for the bundled scenarios): the search (about a minute of CPU, ``on_progress(done, total)``
    after each assumption) runs once per scenario and code; :func:`newretail.claims.ledger.frontiers` reads them.
    ``refresh`` searches again whatever is kept (and keeps the new answer).
    """

    def search() -> dict[str, list[dict[str, Any]]]:
        sc = cache.normalized("frontiers", scenario)  # how rows are cut into files cannot move an expected value
        cal = calibrate(sc)
        todo = _searches(load_grid(grid))
        out: dict[str, list[dict[str, Any]]] = {}
        for done, (claim, field, rng) in enumerate(todo, start=1):
            xtol = 1e-4 * (rng[1] - rng[0])
            found = find_frontiers(claim, field, rng, base=sc, calibration=cal, mode="fixed", xtol=xtol)
            out.setdefault(claim, []).extend(f.to_dict() for f in found)
            if on_progress is not None:
                on_progress(done, len(todo))
        return out

    return cache.cached("frontiers", scenario, search, refresh=refresh, grid=grid)


def data_frontiers(table: pl.DataFrame, grid: Grid, base: Scenario, *, study: str) -> list[Frontier]:
    """Frontiers read off a sweep's rows (``SweepResult.table``) for one study: along each numeric axis, with the
    other axes at their value nearest the base, the share of seeds where the reading holds on the data; where it
    crosses one half between two grid values, the frontier is their linear interpolation and ``bracket`` the two."""
    st = grid.study(study)
    rows = table.filter(pl.col("study") == study)
    check = CHECKS[st.claim]
    out = []
    for axis in st.axes:
        if any(isinstance(v, str) for v in axis.values) or len(axis.values) < 2:
            continue
        part = rows
        for other in st.axes:
            if other.field == axis.field:
                continue
            b = base_value(other.field, base) if not other.is_factor else 1.0
            numeric = [float(v) for v in other.values if not isinstance(v, str)]
            nearest: Any = min(numeric, key=lambda v: abs(v - float(b))) if numeric else other.values[0]
            part = part.filter(pl.col(other.field) == nearest)
        for r in check.readings:
            share = (
                part.filter(pl.col("reading") == r.name)
                .group_by(axis.field)
                .agg(pl.col("holds").cast(pl.Float64).mean())
                .sort(axis.field)
            )
            xs, ys = share[axis.field].to_numpy().astype(float), share["holds"].to_numpy()
            target = check.target(base)
            unit = ASSUMPTION_UNITS.get(axis.field, "")
            found: list[tuple[float | None, tuple[float, float], str]] = []
            for x0, x1, y0, y1 in zip(xs[:-1], xs[1:], ys[:-1], ys[1:], strict=True):
                if (y0 >= 0.5) != (y1 >= 0.5):
                    x = float(x0 + (0.5 - y0) * (x1 - x0) / (y1 - y0))
                    found.append((x, (float(x0), float(x1)), "holds below" if y0 >= 0.5 else "holds above"))
            if not found and len(ys):
                found = [
                    (None, (float(xs[0]), float(xs[-1])), "holds throughout" if ys[0] >= 0.5 else "fails throughout")
                ]
            for x_at, bracket, direction in found:
                out.append(
                    Frontier(
                        st.claim,
                        r.name,
                        axis.field,
                        unit,
                        x_at,
                        direction,
                        bracket,
                        (float(xs[0]), float(xs[-1])),
                        float(base_value(axis.field, base)) if not axis.is_factor else 1.0,
                        st.mode,
                        "data",
                        math.nan if target is None else float(target),
                        _sentence(
                            st.claim,
                            r.name,
                            axis.field,
                            unit,
                            x_at,
                            direction,
                            math.nan if target is None else float(target),
                        ),
                    )
                )
    return out


# ------------------------------------------------------------------------------------------------------------ plot
def frontier_plot(
    claim: str,
    x_field: str,
    y_field: str,
    *,
    base: Scenario,
    calibration: Calibration,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    mode: str = "fixed",
    readings: Sequence[str] | None = None,
    points: int = 9,
    ax: Axes | None = None,
) -> Axes:
    """Frontiers as lines on two assumption axes: for ``points`` values of ``y_field`` over ``y_range``, the
    break-evens of each reading along ``x_field`` over ``x_range``; the base scenario is marked. Each line
    separates where a reading holds from where it does not (the legend says on which side)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    check = CHECKS[claim]
    names = list(readings) if readings is not None else [r.name for r in check.readings]
    ys = np.linspace(float(y_range[0]), float(y_range[1]), points)
    lines: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for y in ys:
        sc, cal = _setup(base, calibration, claim, y_field, float(y), mode)
        for f in find_frontiers(
            claim, x_field, x_range, base=sc, calibration=cal, mode=mode, readings=names, xtol=1e-4
        ):
            if f.value is not None:
                lines.setdefault((f.reading, f.direction), []).append((f.value, float(y)))
    for i, ((reading, direction), pts) in enumerate(sorted(lines.items())):
        xy = np.array(pts)
        ax.plot(
            xy[:, 0], xy[:, 1], marker="o", ms=3, color=f"C{i}", label=f"{check.reading(reading).label} ({direction})"
        )
    bx = base_value(x_field, base) if not x_field.startswith("calibration.") else 1.0
    by = base_value(y_field, base) if not y_field.startswith("calibration.") else 1.0
    ax.plot([bx], [by], marker="*", ms=12, color="0.2", ls="", label="base scenario")
    ax.set(
        xlim=x_range,
        ylim=y_range,
        xlabel=f"{x_field.rsplit('.', 1)[-1]} ({ASSUMPTION_UNITS.get(x_field, '')})",
        ylabel=f"{y_field.rsplit('.', 1)[-1]} ({ASSUMPTION_UNITS.get(y_field, '')})",
        title=f"{claim}: break-even ({mode})",
    )
    ax.legend(fontsize=7)
    return ax
