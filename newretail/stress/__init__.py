"""Stress tests: for each figure of the report, the assumptions under which it stops holding.

Recreating a figure shows that it *can* be true. A sweep asks when it is not: it takes a base scenario and a grid
of assumptions (a full grid, one assumption at a time around the base, or a Latin hypercube), generates a small
dataset at every point and seed, and evaluates each claim's *readings* there (see :mod:`newretail.stress.checks`).
Results are one tidy polars frame, one row per point x seed x reading, cached on disk per point so that a re-run
computes only what changed, a change to the code behind the rows recomputes them, and a killed sweep resumes
(:mod:`newretail.stress.engine`).

Two modes, because the generator is calibrated:

``recalibrated``
    The assumption changes and calibration solves the generator again, so the observed figure is reproduced at
    every point by construction. What moves is what the figure *means*: the causal CTR ratio behind the observed
    one, the true uplift behind the conversion, the share the bot resolved rather than handled.
``fixed``
    Calibrate once on the base scenario, then draw every point from those solved parameters with only the named
    assumptions changed (:data:`FIXED_LEVERS`): the world the figure was measured in changes under it, the observed
    figure itself moves, and whether it holds flips.

Typical use::

    from newretail import stress
    result = stress.sweep("singles_day_2017", "paper", cache="data/synthetic/stress-cache", workers=2)
    result.robustness().table          # share of the swept region where each reading holds
    result.heatmap("ctr_fixed")        # holds / does not hold over two assumptions
    result.tornado()                   # each claim's sensitivity, one assumption at a time

From the command line: ``newretail stress --scenario singles_day_2017 --grid paper --out DIR``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from newretail.scenario import Scenario, load_scenario
from newretail.stress.checks import CHECKS, Check, Reading, rounding_halfwidth
from newretail.stress.engine import CODE_MODULES, StressError, evaluate_point, prepare, run_jobs
from newretail.stress.grid import (
    DESIGNS,
    FIXED_LEVERS,
    MODES,
    Axis,
    Grid,
    GridError,
    Point,
    Study,
    available_grids,
    load_grid,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CHECKS",
    "CODE_MODULES",
    "DESIGNS",
    "FIXED_LEVERS",
    "MODES",
    "Axis",
    "Check",
    "Grid",
    "GridError",
    "Point",
    "PointResult",
    "Reading",
    "Robustness",
    "StressError",
    "Study",
    "SweepResult",
    "available_grids",
    "load_grid",
    "point",
    "rounding_halfwidth",
    "sweep",
]

Judge = str  # "truth" or "data"


def _check_judge(judge: str) -> str:
    if judge not in ("truth", "data"):
        raise ValueError(f"judge = {judge!r}: must be 'truth' (the generator's expected value) or 'data'")
    return judge


@dataclass(frozen=True)
class Robustness:
    """Where each reading of a claim stops holding (``frontiers``, first), and, secondary, the share of each
    study's swept region where it holds (``table``), which depends on the grid's ranges and always carries them.

    ``frontiers`` columns: ``assumption``, ``value`` (the break-even, in the assumption's units; null when the
    verdict does not change over the searched range), ``unit``, ``direction`` (``holds below``/``holds above``/
    ``holds throughout``/``fails throughout``), ``claim``, ``reading``, ``bracket``, ``searched`` (the grid's range),
    ``base``, ``mode``, ``judged_on`` (``truth``: bisected on expected values; ``data``: read off the sweep's rows
    for estimator checks), ``target``, ``sentence`` (see :mod:`newretail.stress.frontier`).

    ``table`` columns: ``claim``, ``reading``, ``label``, ``reported`` (the reading the claims table uses at the
    base scenario), ``study``, ``mode``, ``assumptions`` (the swept fields), ``ranges`` (the grid's range of
    each), ``points``, ``share_truth`` (share of points where the generator's expected value supports the figure;
    null for estimator checks), ``share_data`` (share of points x seeds where the small sample's interval supports
    it; for an estimator, its interval's coverage of the truth),
    ``share`` (``share_truth`` where there is one, else ``share_data``), ``judged_on``, ``holds_at_base``
    (at the base scenario, from a one-at-a-time study of the claim; null when the grid has none).
    """

    table: pl.DataFrame
    frontiers: pl.DataFrame = dataclasses.field(default_factory=pl.DataFrame)

    def rows(self) -> list[dict[str, object]]:
        """The table as a list of dicts (for ``Outputs.table``)."""
        return self.table.to_dicts()

    def plot(self) -> Figure:
        """Horizontal bars: share of the swept region where each reading holds, reported readings in bold."""
        from newretail.stress.plots import robustness_plot

        return robustness_plot(self.table)


@dataclass(frozen=True)
class SweepResult:
    """A sweep's rows and how they were obtained.

    Attributes
    ----------
    table : one row per point x seed x reading: ``study``, ``point``, ``seed``, ``mode``, ``varied`` (the axis an
        ``oat`` point moves, "" otherwise), ``claim``, ``reading``, ``reported``, ``direction``, ``unit``,
        ``target``, ``value``, ``ci_low``, ``ci_high``, ``truth``, ``holds``, ``holds_truth``, ``note``, then one
        column per swept field (dotted name) holding the point's value.
    grid, base : the grid and the base scenario.
    points : distinct points (x seeds) in the grid; ``computed``: how many this run computed (the rest came from
        the cache); ``seconds``: wall time of the run.
    """

    table: pl.DataFrame
    grid: Grid
    base: Scenario
    points: int
    computed: int
    seconds: float

    def study(self, name: str) -> pl.DataFrame:
        """The rows of one study."""
        self.grid.study(name)
        return self.table.filter(pl.col("study") == name)

    def at(self, study: str, values: Mapping[str, float | str] | None = None) -> pl.DataFrame:
        """One point of a study, averaged over its seeds: one row per reading with ``value``, ``ci_low``,
        ``ci_high``, ``truth`` (means) and ``holds``, ``holds_truth`` (shares of seeds).

        Parameters
        ----------
        study : a study of the grid.
        values : axis values that pick the point, e.g. ``{"behaviour.banners.novelty_decay": 0.15}`` (fields not
            given may take any value, so give enough to pick one point); None picks point 0, the base scenario of a
            one-at-a-time study.
        """
        rows = self.study(study)
        if values is None:
            rows = rows.filter(pl.col("point") == 0)
        else:
            for field, value in values.items():
                if field not in rows.columns:
                    raise ValueError(f"values: {field!r} is not an axis of study {study!r}")
                rows = rows.filter(pl.col(field) == value)
        if rows.select(pl.col("point").n_unique()).item() != 1:
            raise ValueError(f"values = {values!r}: must pick exactly one point of study {study!r}")
        return rows.group_by("reading", maintain_order=True).agg(
            pl.col("target").first(),
            pl.col("value", "ci_low", "ci_high", "truth").mean(),
            pl.col("holds", "holds_truth").cast(pl.Float64).mean(),
        )

    def robustness(self, *, frontier_modes: Sequence[str] = ("fixed", "recalibrated")) -> Robustness:
        """Frontiers first, then the share of each ``grid``/``lhs`` study's region where each reading holds (see
        :class:`Robustness`). ``frontier_modes``: studies whose frontiers are bisected (``recalibrated`` solves the
        generator again at each evaluated value: about a minute for the paper grid); () for shares only."""
        from newretail.stress.plots import robustness_table

        return Robustness(robustness_table(self.table, self.grid, self.base), self.frontiers(modes=frontier_modes))

    def frontiers(self, *, modes: Sequence[str] = ("fixed", "recalibrated")) -> pl.DataFrame:
        """Every frontier of the grid's numeric axes: bisected on the generator's expected values for the claims
        that have them, read off the sweep's rows for estimator checks (see :mod:`newretail.stress.frontier`)."""
        from newretail.stress.frontier import SUPPORTED, data_frontiers, frontier_table

        parts = [frontier_table(self.base, self.grid, modes=modes)] if modes else []
        data_rows = [
            f.to_dict()
            for st in self.grid.studies
            if st.claim not in SUPPORTED and st.design == "grid" and st.mode in modes
            for f in data_frontiers(self.table, self.grid, self.base, study=st.name)
        ]
        if data_rows:
            parts.append(pl.DataFrame(data_rows, infer_schema_length=None))
        parts = [p for p in parts if p.height]
        return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()

    def heatmap(self, study: str, *, judge: Judge = "truth", readings: Sequence[str] | None = None) -> Figure:
        """Holds / does not hold over a study's two assumptions, one panel per reading.

        Parameters
        ----------
        study : a ``grid`` study with one or two axes.
        judge : ``"truth"`` colours by the generator's expected value (free of sampling noise), ``"data"`` by the
            small sample's interval; cells are the share of seeds where the reading holds. For an estimator's
            check (``covers-truth``) both colour by the interval's coverage of the truth.
        readings : readings to show (default: all the claim's readings).
        """
        from newretail.stress.plots import heatmap

        st = self.grid.study(study)
        return heatmap(self.study(study), st, self.base, judge=_check_judge(judge), readings=readings)

    def tornado(self, studies: Sequence[str] | None = None, *, judge: Judge = "truth") -> Figure:
        """Each claim's sensitivity, one assumption at a time: a panel per ``oat`` study, a bar per assumption
        from the base value to the value at each end, coloured by whether the reported reading holds there.

        Parameters
        ----------
        studies : ``oat`` studies to show (default: all of the grid's).
        judge : as for :meth:`heatmap`.
        """
        from newretail.stress.plots import tornado

        names = list(studies) if studies is not None else [s.name for s in self.grid.studies if s.design == "oat"]
        chosen = [self.grid.study(n) for n in names]
        bad = [s.name for s in chosen if s.design != "oat"]
        if bad or not chosen:
            raise ValueError(f"studies = {bad or names!r}: a tornado needs one or more studies with design 'oat'")
        return tornado(self.table, chosen, judge=_check_judge(judge))


def _default_workers(workers: int | None) -> int:
    return workers if workers is not None else (os.cpu_count() or 1)


def sweep(
    scenario: Scenario | str | Path,
    grid: Grid | str | Path,
    *,
    cache: str | Path,
    seed: int = 0,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run (or resume) a sweep and return its rows.

    Parameters
    ----------
    scenario : base scenario: shipped name, TOML path or a :class:`~newretail.scenario.Scenario`.
    grid : shipped grid name (see :func:`available_grids`), TOML path or a :class:`Grid`.
    cache : folder of the per-point cache; several sweeps may share it (points are keyed by what determines them).
    seed : first seed; a grid with ``seeds = n`` draws each point with ``seed`` to ``seed + n - 1``.
    workers : processes (default: the machine's cores); 1 runs in this process.
    engine : ``"local"`` (processes on this machine) or ``"dask"`` (a Dask cluster).
    scheduler : Dask scheduler address; without one a ``LocalCluster`` of ``workers`` processes is started.
    on_progress : called with (points done, points in all), cached points counting as done from the start.

    Raises
    ------
    GridError
        For a bad grid or a value the scenario does not accept (one line naming the study and the field).
    StressError
        For a bad engine or number of workers.
    """
    start = time.perf_counter()
    base, g, jobs = prepare(scenario, grid, seed=seed, cache=cache)
    frames, computed = run_jobs(
        jobs, workers=_default_workers(workers), engine=engine, scheduler=scheduler, on_progress=on_progress
    )
    parts = []
    for job in jobs:
        p = job.point
        meta = [
            pl.lit(p.study).alias("study"),
            pl.lit(p.index, dtype=pl.Int32).alias("point"),
            pl.lit(p.seed, dtype=pl.Int64).alias("seed"),
            pl.lit(p.mode).alias("mode"),
            pl.lit(p.varied).alias("varied"),
        ]
        axes = [pl.lit(v, dtype=pl.String if isinstance(v, str) else pl.Float64).alias(f) for f, v in p.values]
        frame = frames[job.key]
        parts.append(frame.select(*meta, *frame.columns, *axes))
    table = pl.concat(parts, how="diagonal") if parts else pl.DataFrame()
    return SweepResult(table, g, base, len({j.key for j in jobs}), computed, time.perf_counter() - start)


# ------------------------------------------------------------------------------------------------ a single point
@dataclass(frozen=True)
class PointResult:
    """One claim's readings at one point: ``table`` has the columns of a sweep's rows (without the study's)."""

    table: pl.DataFrame
    claim: str
    changes: dict[str, float | str]
    mode: str

    def plot(self) -> Figure:
        """Each reading's estimate and interval (or its truth) against the figure, green where it holds."""
        from newretail.stress.plots import point_plot

        return point_plot(self.table, CHECKS[self.claim], self.changes)


def point(
    scenario: Scenario | str | Path,
    *,
    claim: str,
    changes: Mapping[str, float | str],
    mode: str = "fixed",
    scale: float = 2e-5,
    seed: int = 0,
) -> PointResult:
    """Evaluate one claim at one point, without a cache (for sliders in a notebook).

    Parameters
    ----------
    scenario : base scenario.
    claim : a key of :data:`CHECKS`.
    changes : dotted field to value, e.g. ``{"behaviour.banners.novelty_decay": 0.3}``; in ``fixed`` mode also
        ``calibration.<group>.<parameter>`` factors.
    mode : ``"fixed"`` or ``"recalibrated"``.
    scale : share of the full event to generate.
    seed : random seed.
    """
    from newretail.stress.grid import check_point

    base = load_scenario(scenario)
    p = check_point(base, claim=claim, changes=dict(changes), mode=mode, scale=scale, seed=seed)
    with tempfile.TemporaryDirectory(prefix="newretail-stress-") as tmp:
        frame = evaluate_point(p, base=base, workdir=Path(tmp) / "data")
    return PointResult(frame, claim, dict(changes), mode)
