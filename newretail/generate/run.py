"""Generation engine: plan partitions, draw each from its own random stream, write them atomically, then the
manifest.

Each partition's random stream is ``SeedSequence(seed, spawn_key=(group, index))``, so the bytes of a dataset
depend on the scenario, scale and seed only, never on the number of workers or the order partitions finish in.
A partition is written under a temporary name and renamed when complete; the manifest is written last, so an
interrupted run, run again, skips finished partitions and ends with the same bytes.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from newretail import __version__
from newretail.generate import baseline, city, impressions, inquiries, shoppers, traffic
from newretail.generate.calibrate import Calibration, calibrate
from newretail.generate.errors import GenerateError
from newretail.scenario import Scenario, load_scenario
from newretail.tables import MANIFEST, file_record, save_manifest

RUN_SPEC = ".run-spec.json"
LOCK = ".lock"
ROWS_PER_PARTITION = 1_000_000  # for tables not tied to user shards
# inquiries carry text: a partition of 1e6 of them peaks near 800 MiB, so they are cut smaller, keeping every
# task's peak memory under that of a user shard (about 460 MiB), whatever the scale
ROWS_PER_PARTITION_BY_GROUP = {"inquiries": 250_000}
GROUP_CODES = {"shoppers": 1, "banners": 2, "inquiries": 3, "city": 4, "baseline": 5}
GROUP_TABLES = {
    "shoppers": ("users", "visits", "page_views", "orders", "truth_visits"),
    "banners": ("banner_impressions", "truth_banner_impressions"),
    "inquiries": ("inquiries", "truth_inquiries"),
    "city": ("stores", "store_days", "truth_store_days", "orders", "households"),
    "baseline": ("baseline_visits", "baseline_orders"),
}
# compressed bytes per row, measured on the default scenario, for the free-disk check
BYTES_PER_ROW = {
    "users": 6,
    "visits": 14,
    "page_views": 12,
    "orders": 30,
    "truth_visits": 40,
    "banner_impressions": 20,
    "truth_banner_impressions": 32,
    "inquiries": 60,
    "truth_inquiries": 14,
    "baseline_visits": 8,
    "baseline_orders": 22,
}


@dataclass(frozen=True)
class Task:
    """One partition: a group of tables drawn from one random stream."""

    group: str
    index: int
    size: float  # users in the shard, or the expected rows of the partition
    parts: tuple[tuple[str, int], ...]  # (table, part number) written by this task
    fraction: float  # share of the full event this partition's rows stand for


@dataclass(frozen=True)
class Plan:
    """Every partition of a dataset, in a fixed order."""

    scenario: Scenario
    scale: float
    seed: int
    calibration: Calibration
    tasks: tuple[Task, ...]
    fractions: dict[str, float] = field(default_factory=dict)
    calibration_given: bool = False  # drawn from a given calibration, not the scenario's own (see ``plan``)

    def expected_rows(self) -> dict[str, float]:
        """Expected rows per table (for the disk check and progress)."""
        e, _t = self.calibration.expected, self.scenario.targets
        f = self.fractions
        visits = e["visits"] * f["shoppers"]
        return {
            "users": self.scenario.behaviour.traffic.active_users * f["shoppers"],
            "visits": visits,
            "truth_visits": visits,
            "page_views": visits * self.calibration.shoppers.pages_per_visit,
            "orders": e["online_orders"] * f["shoppers"] + e["store_orders"],
            "banner_impressions": e["banner_impressions"] * f["banners"],
            "truth_banner_impressions": e["banner_impressions"] * f["banners"],
            "inquiries": e["inquiries_total"] * f["inquiries"],
            "truth_inquiries": e["inquiries_total"] * f["inquiries"],
            "baseline_visits": self.calibration.baseline.visits * f["baseline"],
            "baseline_orders": self.calibration.baseline.visits * self.calibration.baseline.conversion * f["baseline"],
        }

    def spec(self) -> dict[str, Any]:
        """What determines the bytes: two runs with equal specs write equal files."""
        spec = {
            "scenario": self.scenario.model_dump(mode="json"),
            "scale": self.scale,
            "seed": self.seed,
            "package_version": __version__,
        }
        if self.calibration_given:  # the bytes then depend on the given parameters too
            spec["calibration"] = self.calibration.to_dict()
        return spec


def plan(scenario: Scenario | str | Path, *, scale: float, seed: int, calibration: Calibration | None = None) -> Plan:
    """Lay out the partitions of a dataset at ``scale`` (share of the full event, 0 < scale <= 1).

    With ``calibration`` the tables are drawn from those solved parameters instead of calibrating ``scenario``
    (the stress tests' "fixed" mode: calibrate once on a base scenario, then change some behaviour and watch the
    observed figures move). Behaviour that the generators read from the scenario at draw time still follows
    ``scenario``.
    """
    sc = load_scenario(scenario)
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and 0 < scale <= 1):
        raise GenerateError(f"scale = {scale!r}: must be a number in (0, 1], the share of the full event")
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise GenerateError(f"seed = {seed!r}: must be a whole number from 0 to 2**63 - 1")
    cal = calibrate(sc) if calibration is None else calibration
    samp = sc.sampling
    fractions = {
        "shoppers": scale,
        "banners": min(1.0, scale * samp.banner_oversample),
        "inquiries": min(1.0, scale * samp.inquiry_oversample),
        "city": 1.0,
        "baseline": scale,
    }
    tasks: list[Task] = []
    counters: dict[str, int] = {}

    def add(group: str, index: int, size: float) -> None:
        parts = []
        for table in GROUP_TABLES[group]:
            parts.append((table, counters.get(table, 0)))
            counters[table] = counters.get(table, 0) + 1
        tasks.append(Task(group, index, size, tuple(parts), fractions[group]))

    n_users = max(1, round(sc.behaviour.traffic.active_users * scale))
    per = samp.users_per_partition
    for i in range(math.ceil(n_users / per)):
        add("shoppers", i, min(per, n_users - i * per))
    add("city", 0, 1.0)
    for group, expected in (
        ("banners", cal.expected["banner_impressions"] * fractions["banners"]),
        ("inquiries", cal.expected["inquiries_total"] * fractions["inquiries"]),
        ("baseline", cal.baseline.visits * fractions["baseline"]),
    ):
        n_parts = max(1, math.ceil(expected / ROWS_PER_PARTITION_BY_GROUP.get(group, ROWS_PER_PARTITION)))
        for i in range(n_parts):
            add(group, i, expected / n_parts)
    return Plan(sc, float(scale), int(seed), cal, tuple(tasks), fractions, calibration is not None)


def _rng(seed: int, task: Task) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(GROUP_CODES[task.group], task.index)))


def draw_task(p: Plan, task: Task) -> dict[str, pl.DataFrame]:
    """Draw the tables of one partition (pure: same plan and task, same frames)."""
    rng = _rng(p.seed, task)
    cal, sc = p.calibration, p.scenario
    density = traffic.event_density(sc.behaviour.traffic, cal.shoppers.spike_height)
    n_users = max(1, round(sc.behaviour.traffic.active_users * p.scale))
    if task.group == "shoppers":
        first = task.index * sc.sampling.users_per_partition
        return shoppers.shopper_tables(
            rng,
            cal.shoppers,
            density,
            partition=task.index,
            first_user_id=first,
            n_users=int(task.size),
            seed=p.seed,
        )
    if task.group == "banners":
        appeal = impressions.brand_appeal(p.seed, cal.banners.brands)
        return impressions.banner_tables(
            rng, cal.banners, density, appeal, partition=task.index, expected=task.size, n_users=n_users, seed=p.seed
        )
    if task.group == "inquiries":
        return inquiries.inquiry_tables(
            rng, cal.inquiries, density, partition=task.index, expected=task.size, n_users=n_users, seed=p.seed
        )
    if task.group == "city":
        return city.city_tables(
            rng,
            cal.city,
            sc.behaviour.stores,
            traffic.daytime_density(sc.behaviour.traffic),
            event_date=sc.event_date,
            fx_rmb_per_usd=sc.behaviour.traffic.fx_rmb_per_usd,
            prep_min=sc.behaviour.stores.prep_min,
            partition=task.index,
        )
    if task.group == "baseline":
        n = int(rng.poisson(task.size))
        return baseline.baseline_tables(rng, cal.baseline, density, partition=task.index, n=n)
    raise ValueError(f"unknown task group {task.group!r}")


def part_path(table: str, number: int) -> str:
    """Relative path of a partition file inside a dataset folder."""
    return f"{table}/part-{number:05d}.parquet"


def run_task(p: Plan, task: Task, out: str) -> list[dict[str, Any]]:
    """Draw one partition and write its files atomically; skip files already complete. Returns file records."""
    root = Path(out)
    rels = [part_path(table, number) for table, number in task.parts]
    if not all((root / rel).is_file() for rel in rels):
        frames = draw_task(p, task)
        for (table, _), rel in zip(task.parts, rels, strict=True):
            final = root / rel
            if final.is_file():
                continue
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
            try:
                frames[table].write_parquet(tmp, compression="zstd", compression_level=3, statistics=True)
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, final)
            except Exception as exc:
                tmp.unlink(missing_ok=True)
                if _disk_full(exc):
                    raise OSError(errno.ENOSPC, f"no space left on device while writing {rel}") from None
                raise
    return [file_record(root, rel, task.fraction) for rel in rels]


def _disk_full(exc: BaseException) -> bool:
    """Whether a write failed for lack of space (polars reports it as a ComputeError with os error 28)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "os error 28" in str(exc) or "No space left on device" in str(exc)


def _check_disk(p: Plan, out: Path) -> None:
    rows = p.expected_rows()
    need = sum(BYTES_PER_ROW.get(t, 30) * n for t, n in rows.items()) * 1.2 + 50e6
    probe = out if out.exists() else next((q for q in out.parents if q.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    if need > free:
        raise GenerateError(
            f"scale = {p.scale}: the dataset needs about {need / 1e9:.1f} GB but {probe} has {free / 1e9:.1f} GB free"
        )


class _Lock:
    """An exclusive lock file in the output folder: a second concurrent run refuses instead of interleaving."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK

    def __enter__(self) -> _Lock:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(self.path.read_text().strip() or 0)
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError, PermissionError):
                self.path.unlink(missing_ok=True)  # stale lock of a killed run
                return self.__enter__()
            raise GenerateError(f"{self.path.parent} is being written by another run (pid {pid})") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        return self

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


def _prepare(p: Plan, out: Path, overwrite: bool) -> None:
    spec = json.dumps(p.spec(), sort_keys=True)
    spec_file = out / RUN_SPEC
    if spec_file.exists() and spec_file.read_text() != spec:
        if not overwrite:
            raise GenerateError(
                f"{out} holds another dataset (different scenario, scale or seed): choose another --out or "
                "pass --overwrite"
            )
        for child in out.iterdir():
            if child.name != LOCK:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    elif not spec_file.exists() and any(c.name != LOCK for c in out.iterdir()):
        if not overwrite:
            raise GenerateError(f"{out} is not empty and holds no dataset of ours: choose another --out")
    (out / MANIFEST).unlink(missing_ok=True)  # the manifest is rewritten last
    for stale in out.glob("*/.part-*.tmp-*"):
        stale.unlink()
    tmp = spec_file.with_suffix(".tmp")
    tmp.write_text(spec)
    os.replace(tmp, spec_file)


def _execute(p: Plan, out: Path, workers: int, engine: str, scheduler: str | None) -> Iterator[list[dict[str, Any]]]:
    """Run every task, yielding file records as tasks finish (in any order)."""
    if engine == "dask":
        from newretail.generate.distributed import run_on_dask

        yield from run_on_dask(run_task, p, str(out), workers=workers, scheduler=scheduler)
        return
    if workers <= 1:
        for task in p.tasks:
            yield run_task(p, task, str(out))
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        pending: set[Future[list[dict[str, Any]]]] = set()
        queue = iter(p.tasks)
        for task in queue:  # keep at most two tasks per worker in flight: memory stays bounded
            pending.add(pool.submit(run_task, p, task, str(out)))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        for fut in pending:
            yield fut.result()


def generate(
    scenario: Scenario | str | Path,
    *,
    scale: float,
    seed: int,
    out: str | Path,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    calibration: Calibration | None = None,
) -> Path:
    """Generate a synthetic sales day into ``out`` and return the path of its manifest.

    Parameters
    ----------
    scenario : shipped scenario name, TOML path, or a :class:`Scenario`.
    scale : share of the full event to generate, in (0, 1]; 1 is the whole day (about 75 billion page views).
    seed : random seed; the same scenario, scale and seed give the same bytes for any ``workers``.
    out : dataset folder, written as ``<table>/part-NNNNN.parquet`` plus ``manifest.json``.
    workers : processes (default: the machine's cores).
    engine : ``"local"`` (processes on this machine) or ``"dask"`` (a Dask cluster).
    scheduler : Dask scheduler address; without one a ``LocalCluster`` is started.
    overwrite : replace another dataset found in ``out``.
    on_progress : called with (partitions done, partitions in all) after each partition.
    calibration : solved parameters to draw from instead of calibrating ``scenario`` (see :func:`plan`).
    """
    p = plan(scenario, scale=scale, seed=seed, calibration=calibration)
    if engine not in ("local", "dask"):
        raise GenerateError(f"engine = {engine!r}: must be 'local' or 'dask'")
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise GenerateError(f"workers = {workers}: must be at least 1")
    out = Path(out)
    _check_disk(p, out)
    out.mkdir(parents=True, exist_ok=True)
    with _Lock(out):
        _prepare(p, out, overwrite)
        records: dict[str, dict[str, Any]] = {}
        total = len(p.tasks)
        if on_progress:
            on_progress(0, total)
        try:
            for done, batch in enumerate(_execute(p, out, workers, engine, scheduler), start=1):
                for rec in batch:
                    records[rec["path"]] = rec
                if on_progress:
                    on_progress(done, total)
            return write_manifest(p, out, records)
        except Exception as exc:
            if _disk_full(exc):
                raise GenerateError(
                    f"{out}: the disk filled up ({exc}); free some space and run the same command again: "
                    "finished partitions are kept and the run resumes"
                ) from None
            raise


def write_manifest(p: Plan, out: Path, records: dict[str, dict[str, Any]]) -> Path:
    """Write ``manifest.json`` (atomically, last): the spec, calibration and every file's rows and sha256."""
    files: dict[str, list[dict[str, Any]]] = {}
    for task in p.tasks:
        for table, number in task.parts:
            files.setdefault(table, []).append(records[part_path(table, number)])
    fields = {
        "name": p.scenario.name,
        **p.spec(),
        "sampling": p.fractions,
        "calibration": p.calibration.to_dict(),
    }
    return save_manifest(out, fields, files)
