"""The sweep engine: generate a small dataset at each point, evaluate its checks, cache the rows on disk.

Each point's rows are cached in ``<cache>/points/<key>.parquet``, where ``key`` is the sha256 of the base scenario,
the mode, the claim, the point's values, the seed, the scale, the package version and a digest of the code that
makes a point's rows (:data:`CODE_MODULES`: the generator, the claims, the analyses the checks call and the checks
themselves): a re-run reads what it has and computes only what changed, a change to that code invalidates the cache
instead of mixing old rows with new, and a killed sweep resumes where it stopped. Files are written
under a temporary name and renamed, so a cache file is complete or absent. A point only generates the generator
groups its claim reads (e.g. only the banner partitions for the CTR ratio), in a temporary folder removed after
evaluation.

Points run in worker processes (:class:`newretail.generate.pool.ProcessPool`, like generation) or on a Dask
cluster. Every point draws from its own seeded streams, so the results do not depend on the number of workers or the
order points finish in. A point's small dataset is made by :func:`newretail.generate.generate` (its lock, resume and
disk check), with only the groups its claim reads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

import newretail
from newretail import __version__
from newretail.generate.calibrate import Calibration, CalibrationError, calibrate
from newretail.generate.pool import ProcessPool
from newretail.scenario import Scenario, load_scenario
from newretail.stress.checks import CHECKS, PointContext, evaluate_check
from newretail.stress.grid import FIXED_LEVERS, Grid, Point, load_grid

__all__ = ["CODE_MODULES", "Job", "StressError", "code_digest", "evaluate_point", "point_key", "prepare", "run_jobs"]

# the package's source files (globs, relative to the package) that determine a point's rows
CODE_MODULES = (
    "scenario.py",
    "tables/*.py",
    "generate/*.py",
    "claims/*.py",
    "analyses/gmv/*.py",
    "analyses/stores/*.py",
    "methods/*.py",
    "stress/checks*.py",
    "stress/judging.py",
    "stress/engine.py",
)
POINTS = "points"
TMP = "tmp"

ROW_SCHEMA = {
    "claim": pl.String,
    "reading": pl.String,
    "reported": pl.Boolean,
    "direction": pl.String,
    "unit": pl.String,
    "target": pl.Float64,
    "value": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "truth": pl.Float64,
    "holds": pl.Boolean,
    "holds_truth": pl.Boolean,
    "note": pl.String,
}


class StressError(RuntimeError):
    """A sweep that cannot run (bad arguments, an engine that is not available)."""


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to compute one point (picklable)."""

    point: Point
    key: str
    base: Scenario
    base_calibration: Calibration | None  # for mode "fixed"
    cache: str


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 of the source files in :data:`CODE_MODULES` (names and bytes, in a fixed order)."""
    root = Path(newretail.__file__).parent
    digest = hashlib.sha256()
    for pattern in CODE_MODULES:
        for file in sorted(root.glob(pattern)):
            digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def point_key(base: Scenario, point: Point) -> str:
    """Cache key of a point: sha256 of (base scenario, mode, claim, values, seed, scale, package version, code)."""
    spec = {
        "scenario": base.model_dump(mode="json"),
        "mode": point.mode,
        "claim": point.claim,
        "values": sorted([f, v] for f, v in point.values),
        "seed": point.seed,
        "scale": point.scale,
        "package_version": __version__,
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def point_setup(base: Scenario, point: Point, base_calibration: Calibration | None) -> tuple[Scenario, Calibration]:
    """The point's scenario and the parameters its data are drawn from.

    ``recalibrated``: the base scenario with the point's values, calibrated again. ``fixed``: the parameters solved
    for the base scenario, with the fields named by the point set (see ``FIXED_LEVERS``) and ``calibration.*``
    parameters multiplied by the point's factors.
    """
    changes = point.changes()
    behaviour = {f: v for f, v in changes.items() if not f.startswith("calibration.")}
    scenario = base.with_changes(behaviour) if behaviour else base
    if point.mode == "recalibrated":
        return scenario, calibrate(scenario)
    cal = base_calibration if base_calibration is not None else calibrate(base)
    updates: dict[str, dict[str, Any]] = {}
    for field, value in changes.items():
        if field.startswith("calibration."):
            _, group, name = field.split(".")
            updates.setdefault(group, {})[name] = getattr(getattr(cal, group), name) * float(value)
        else:
            target = FIXED_LEVERS[field]
            if target is not None:
                updates.setdefault(target[0], {})[target[1]] = value
    replaced = {group: dataclasses.replace(getattr(cal, group), **fields) for group, fields in updates.items()}
    return scenario, dataclasses.replace(cal, **replaced)


def _failed_rows(point: Point, scenario: Scenario, message: str) -> pl.DataFrame:
    """Rows of a point whose calibration failed: nothing holds there."""
    check = CHECKS[point.claim]
    rows = []
    for r in check.readings:
        target = check.target(scenario)
        rows.append(
            {
                "claim": check.claim,
                "reading": r.name,
                "reported": r.name == check.reported(scenario),
                "direction": r.direction,
                "unit": check.unit,
                "target": math.nan if target is None else float(target),
                "value": math.nan,
                "ci_low": math.nan,
                "ci_high": math.nan,
                "truth": math.nan,
                "holds": False,
                "holds_truth": None if r.direction == "covers-truth" else False,
                "note": message,
            }
        )
    return pl.DataFrame(rows, schema=ROW_SCHEMA)


def evaluate_point(
    point: Point, *, base: Scenario, base_calibration: Calibration | None = None, workdir: str | Path
) -> pl.DataFrame:
    """Generate the point's small dataset (only the groups its claim reads) in ``workdir`` and evaluate its check.

    A behaviour under which calibration cannot reach the targets is a result, not an error: every reading gets
    ``holds = False`` and the calibration's message as its note.

    Returns
    -------
    One row per reading of the claim (columns of ``ROW_SCHEMA``).
    """
    from newretail.generate.run import generate
    from newretail.tables import open_dataset

    check = CHECKS[point.claim]
    try:
        scenario, cal = point_setup(base, point, base_calibration)
    except CalibrationError as exc:
        behaviour = {f: v for f, v in point.values if not f.startswith("calibration.")}
        return _failed_rows(point, base.with_changes(behaviour), f"calibration failed: {exc}")
    folder = Path(workdir)
    try:  # the one generation loop (lock, resume, disk check), only the groups the claim reads
        generate(
            scenario,
            scale=point.scale,
            seed=point.seed,
            out=folder,
            workers=1,
            calibration=cal if point.mode == "fixed" else None,
            groups=check.groups,
            overwrite=True,
        )
        rows = evaluate_check(check, open_dataset(folder), PointContext(scenario, cal))
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the engine's own scratch folder under <cache>/tmp
    return pl.DataFrame(rows, schema=ROW_SCHEMA)


def cache_file(cache: str | Path, key: str) -> Path:
    """Where a point's rows are cached."""
    return Path(cache) / POINTS / f"{key}.parquet"


def run_job(job: Job) -> str:
    """Compute one point and write its rows to the cache atomically (skipped when already there); returns its key."""
    final = cache_file(job.cache, job.key)
    if final.is_file():
        return job.key
    workdir = Path(job.cache) / TMP / f"{job.key[:16]}-{os.getpid()}"
    frame = evaluate_point(job.point, base=job.base, base_calibration=job.base_calibration, workdir=workdir)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    frame.write_parquet(tmp, statistics=False)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return job.key


def _clean_stale(cache: Path) -> None:
    """Remove the temporary folders and files of killed runs (those whose process is gone)."""

    def dead(name: str) -> bool:
        try:
            pid = int(name.rsplit("-", 1)[-1])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            return True
        except PermissionError:
            return False
        return False

    for folder in (cache / TMP).glob("*") if (cache / TMP).is_dir() else []:
        if dead(folder.name):
            shutil.rmtree(folder, ignore_errors=True)
    for tmp in (cache / POINTS).glob(".*.tmp-*") if (cache / POINTS).is_dir() else []:
        if dead(tmp.name):
            tmp.unlink(missing_ok=True)


def prepare(
    scenario: Scenario | str | Path, grid: Grid | str | Path, *, seed: int, cache: str | Path
) -> tuple[Scenario, Grid, list[Job]]:
    """Validate the inputs and lay out one job per point (base calibration solved once for ``fixed`` studies)."""
    base = load_scenario(scenario)
    g = load_grid(grid)
    points = g.points(base, seed=seed)
    fixed = any(p.mode == "fixed" for p in points)
    base_cal = calibrate(base) if fixed else None
    cache_dir = Path(cache)
    jobs = [Job(p, point_key(base, p), base, base_cal if p.mode == "fixed" else None, str(cache_dir)) for p in points]
    return base, g, jobs


def _local(jobs: list[Job], workers: int) -> Iterator[str]:
    if workers <= 1:
        for job in jobs:
            yield run_job(job)
        return
    with ProcessPool(workers) as pool:  # workers that never run the caller's __main__ and die with this process
        pending: set[Future[str]] = set()
        for job in jobs:  # at most two jobs per worker in flight
            pending.add(pool.submit(run_job, job))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()


def _dask(jobs: list[Job], workers: int, scheduler: str | None) -> Iterator[str]:
    from contextlib import ExitStack

    from newretail.generate import GenerateError
    from newretail.generate.distributed import dask_client

    with ExitStack() as stack:
        try:
            client = dask_client(stack, workers=workers, scheduler=scheduler)
        except GenerateError as exc:
            raise StressError(str(exc)) from None
        from distributed import as_completed

        futures = as_completed([client.submit(run_job, job, key=f"stress-{job.key}", pure=False) for job in jobs])
        for future in futures:
            key: str = future.result()
            future.release()
            yield key


def run_jobs(
    jobs: list[Job],
    *,
    workers: int,
    engine: str = "local",
    scheduler: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, pl.DataFrame], int]:
    """Run the jobs whose rows are not cached yet; return every job's rows by key and how many were computed."""
    if engine not in ("local", "dask"):
        raise StressError(f"engine = {engine!r}: must be 'local' or 'dask'")
    if not (isinstance(workers, int) and workers >= 1):
        raise StressError(f"workers = {workers!r}: must be at least 1")
    unique = list({job.key: job for job in jobs}.values())  # a point shared by studies is computed once
    if unique:
        cache = Path(unique[0].cache)
        (cache / POINTS).mkdir(parents=True, exist_ok=True)
        _clean_stale(cache)
    todo = [job for job in unique if not cache_file(job.cache, job.key).is_file()]
    total = len(unique)
    done = total - len(todo)
    if on_progress:
        on_progress(done, total)
    runner = _dask(todo, workers, scheduler) if engine == "dask" else _local(todo, workers)
    if todo:
        for _ in runner:
            done += 1
            if on_progress:
                on_progress(done, total)
    frames = {job.key: pl.read_parquet(cache_file(job.cache, job.key)) for job in unique}
    return frames, len(todo)


def elapsed(start: float) -> float:
    """Seconds since ``start`` (``time.perf_counter``)."""
    return time.perf_counter() - start
