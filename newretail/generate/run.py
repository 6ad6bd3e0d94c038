"""Generation engine: plan partitions, draw each from its own random stream, write them atomically, then the
manifest.

Each partition's random stream is ``SeedSequence(seed, spawn_key=(group, index))``, so the bytes of a dataset
depend on the scenario, scale and seed only, never on the number of workers or the order partitions finish in.
A partition is written under a temporary name and renamed when complete; the manifest is written last, so an
interrupted run, run again, skips finished partitions and ends with the same bytes.

Every option is checked before the scenario is calibrated, and the output folder before anything is written: the
package writes only into a folder that is empty or holds only what it wrote itself (see
:mod:`newretail.generate.output`); a dataset it replaces stays whole until its replacement is complete.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from newretail import __version__
from newretail.generate import baseline, city, impressions, inquiries, output, shoppers, traffic
from newretail.generate.calibrate import Calibration, calibrate
from newretail.generate.errors import GenerateError, RunFailed
from newretail.generate.options import GROUP_TABLES, check_options
from newretail.generate.output import LOCK, RUN_SPEC
from newretail.generate.pool import ProcessPool, WorkerDied
from newretail.scenario import Scenario, load_scenario
from newretail.tables import MANIFEST, DatasetError, file_record, open_dataset, save_manifest
from newretail.tables.manifest import part_path as manifest_part_path
from newretail.tables.manifest import scenario_sha256

__all__ = [
    "GROUP_TABLES",
    "LOCK",
    "RUN_SPEC",
    "GenerateError",
    "Plan",
    "Task",
    "check_options",
    "generate",
    "plan",
    "run_task",
    "write_manifest",
]

ROWS_PER_PARTITION = 1_000_000  # for tables not tied to user shards
# inquiries carry text: a partition of 1e6 of them peaks near 800 MiB, so they are cut smaller, keeping every
# task's peak memory under that of a user shard (about 460 MiB), whatever the scale
ROWS_PER_PARTITION_BY_GROUP = {"inquiries": 250_000}
GROUP_CODES = {"shoppers": 1, "banners": 2, "inquiries": 3, "city": 4, "baseline": 5}
# compressed bytes per row, measured on the default scenario at scale 1e-3 (seed 3) and rounded up, for the
# free-disk check
BYTES_PER_ROW = {
    "users": 2,
    "visits": 7,
    "page_views": 6,
    "orders": 18,
    "truth_visits": 10,
    "banner_impressions": 12,
    "truth_banner_impressions": 28,
    "inquiries": 25,
    "truth_inquiries": 4,
    "baseline_visits": 6,
    "baseline_orders": 12,
    "stores": 31,
    "store_days": 13,
    "truth_store_days": 11,
    "households": 10,
}
BYTES_PER_FILE = 8_000  # parquet footer and column metadata of one partition file
DISK_MARGIN = 1.2  # the estimate's safety factor


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
    groups: tuple[str, ...] | None = None  # only these generator groups (None: all)

    def expected_rows(self) -> dict[str, float]:
        """Expected rows per table (for the disk check and progress)."""
        e, sc = self.calibration.expected, self.scenario
        f = self.fractions
        visits = e["visits"] * f["shoppers"]
        stores = sc.behaviour.stores
        n_stores = stores.hema_stores + stores.sanjiang_stores + stores.other_supermarkets
        store_days = n_stores * (stores.panel_days_before + stores.panel_days_after)
        rows = {
            "users": sc.behaviour.traffic.active_users * f["shoppers"],
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
            "stores": float(n_stores),
            "store_days": float(store_days),
            "truth_store_days": float(store_days),
            "households": float(stores.household_blocks),
        }
        planned = {table for task in self.tasks for table, _ in task.parts}
        return {table: n for table, n in rows.items() if table in planned}

    def disk_bytes(self) -> float:
        """Bytes the dataset is expected to take on disk: rows times the compressed bytes per row measured on the
        default scenario, plus each file's metadata, times a margin of 20%."""
        rows = sum(BYTES_PER_ROW[t] * n for t, n in self.expected_rows().items())
        files = sum(len(task.parts) for task in self.tasks)
        return (rows + files * BYTES_PER_FILE) * DISK_MARGIN

    def spec(self) -> dict[str, Any]:
        """What determines the bytes: two runs with equal specs write equal files."""
        return run_spec(
            self.scenario, self.scale, self.seed, self.calibration if self.calibration_given else None, self.groups
        )


def run_spec(
    scenario: Scenario, scale: float, seed: int, calibration: Calibration | None, groups: Sequence[str] | None
) -> dict[str, Any]:
    """The spec of a run (see :meth:`Plan.spec`), known before calibrating: scenario, scale, seed, package version,
    and the given calibration and the groups when there are."""
    spec: dict[str, Any] = {
        "scenario": scenario.model_dump(mode="json"),
        "scale": float(scale),
        "seed": int(seed),
        "package_version": __version__,
    }
    if calibration is not None:  # the bytes then depend on the given parameters too
        spec["calibration"] = calibration.to_dict()
    if groups is not None:
        spec["groups"] = sorted(groups)
    return spec


def plan(
    scenario: Scenario | str | Path,
    *,
    scale: float,
    seed: int,
    calibration: Calibration | None = None,
    groups: Sequence[str] | None = None,
) -> Plan:
    """Lay out the partitions of a dataset at ``scale`` (share of the full event, 0 < scale <= 1).

    With ``calibration`` the tables are drawn from those solved parameters instead of calibrating ``scenario``
    (the stress tests' "fixed" mode: calibrate once on a base scenario, then change some behaviour and watch the
    observed figures move). Behaviour that the generators read from the scenario at draw time still follows
    ``scenario``. With ``groups`` only those generator groups are laid out (e.g. ``("city",)``); their partitions
    keep the numbers they have in the whole plan.
    """
    sc = load_scenario(scenario)
    check_options(scale=scale, seed=seed, groups=groups, calibration=calibration)
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
    chosen = None if groups is None else tuple(sorted([groups] if isinstance(groups, str) else groups))
    if chosen is not None:
        tasks = [t for t in tasks if t.group in chosen]
    return Plan(sc, float(scale), int(seed), cal, tuple(tasks), fractions, calibration is not None, chosen)


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
    """Relative path of a partition file inside a dataset folder (see :func:`newretail.tables.manifest.part_path`)."""
    return manifest_part_path(table, number)


def run_task(p: Plan, task: Task, out: str) -> list[dict[str, Any]]:
    """Draw one partition and write its files atomically; skip files already complete. Returns file records, each
    with the file's state while it was hashed (``state``, ``taken``; see :mod:`newretail.tables.stamps`) and whether
    this call wrote it (``written``), which :func:`generate` turns into verification stamps and leaves out of the
    manifest."""
    root = Path(out)
    rels = [part_path(table, number) for table, number in task.parts]
    written: set[str] = set()
    if not all((root / rel).is_file() for rel in rels):
        frames = draw_task(p, task)
        for (table, _), rel in zip(task.parts, rels, strict=True):
            final = root / rel
            if final.is_file():
                continue
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
            try:
                output.write_partition(frames.pop(table), table, tmp)
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, final)
            except Exception as exc:
                tmp.unlink(missing_ok=True)
                if _disk_full(exc):
                    raise OSError(errno.ENOSPC, f"no space left on device while writing {rel}") from None
                raise
            written.add(rel)
    return [{**file_record(root, rel, task.fraction, state=True), "written": rel in written} for rel in rels]


def _disk_full(exc: BaseException) -> bool:
    """Whether a write failed for lack of space (polars reports it as a ComputeError with os error 28)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "os error 28" in str(exc) or "No space left on device" in str(exc)


def _check_disk(p: Plan, out: Path) -> None:
    need = p.disk_bytes()
    probe = out if out.exists() else next((q for q in out.parents if q.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    if need > free:
        raise GenerateError(
            f"scale = {p.scale}: the dataset needs about {need / 1e9:.3g} GB but {probe} has {free / 1e9:.3g} GB free"
        )


def _execute(p: Plan, out: Path, workers: int, engine: str, scheduler: str | None) -> Iterator[list[dict[str, Any]]]:
    """Run every task, yielding file records as tasks finish (in any order)."""
    if engine == "dask":
        from newretail.generate.distributed import run_on_dask

        yield from run_on_dask(run_task, p, str(out), workers=workers, scheduler=scheduler)
        return
    if workers <= 1 or len(p.tasks) <= 1:
        for task in p.tasks:
            yield run_task(p, task, str(out))
        return
    with ProcessPool(min(workers, len(p.tasks))) as pool:
        pending: set[Future[list[dict[str, Any]]]] = set()
        queue = iter(p.tasks)
        for task in queue:  # keep at most two tasks per worker in flight: memory stays bounded
            pending.add(pool.submit(run_task, p, task, str(out)))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
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
    groups: Sequence[str] | None = None,
) -> Path:
    """Generate a synthetic sales day into ``out`` and return the path of its manifest.

    Every option and the output folder are checked before the scenario is calibrated. The folder must be empty,
    missing, or hold only what the package wrote there: a run of the same spec resumes (finished partitions are
    kept); another dataset is replaced only with ``overwrite``, drawn beside it first and swapped in when complete;
    anything else in the folder is the user's, and the run refuses, naming it.

    Parameters
    ----------
    scenario : shipped scenario name, TOML path, or a :class:`Scenario`.
    scale : share of the full event to generate, in (0, 1]; 1 is the whole day (about 75 billion page views).
    seed : random seed; the same scenario, scale and seed give the same bytes for any ``workers``.
    out : dataset folder, written as ``<table>/part-NNNNN.parquet`` plus ``manifest.json``.
    workers : processes (default: the machine's cores); they exit when this process ends, however it ends.
    engine : ``"local"`` (processes on this machine) or ``"dask"`` (a Dask cluster; the ``dask`` extra).
    scheduler : Dask scheduler address; without one a ``LocalCluster`` is started.
    overwrite : replace another dataset of the package's found in ``out``.
    on_progress : called with (partitions done, partitions in all) after each partition; None draws quietly.
    calibration : solved parameters to draw from instead of calibrating ``scenario`` (see :func:`plan`).
    groups : only these generator groups (see ``GROUP_TABLES``), e.g. ``("city",)``; default all.

    Raises
    ------
    GenerateError
        For a bad option or output folder (before anything is written), or a run that failed on the way
        (:class:`~newretail.generate.errors.RunFailed`: disk full, a worker killed), which the same call resumes.
    """
    sc = load_scenario(scenario)
    workers = check_options(
        scale=scale, seed=seed, workers=workers, engine=engine, scheduler=scheduler, groups=groups,
        calibration=calibration,
    )  # fmt: skip
    out = Path(out)
    output.check_writable(out)
    output.restore_interrupted_swap(out)
    foreign = output.foreign_entry(out)
    if foreign is not None:
        raise GenerateError(
            f"out = {str(out)!r}: holds {foreign!r}, which newretail did not write; choose another --out "
            "(nothing was changed)"
        )
    spec = run_spec(sc, scale, seed, calibration, groups)
    state, found = output.existing(out)
    if state != "empty" and found != spec and not overwrite:
        raise GenerateError(
            f"out = {str(out)!r}: holds another dataset (different scenario, scale or seed); choose another --out or "
            "pass --overwrite"
        )
    if state == "complete" and found == spec and not overwrite and _intact(out):
        return out / MANIFEST  # already there, every file as its manifest says: nothing to do
    p = plan(sc, scale=scale, seed=seed, calibration=calibration, groups=groups)
    _check_disk(p, out)
    out.mkdir(parents=True, exist_ok=True)
    with output.Lock(out) as lock:
        target = out
        if state == "complete" and overwrite:  # the dataset there stays whole until its replacement is
            target = output.staging(out)
            other = output.foreign_entry(target)
            if other is not None:
                raise GenerateError(f"{target}: holds {other!r}, which newretail did not write; remove it first")
            target.mkdir(exist_ok=True)
        output.prepare(target, spec, [part_path(t, n) for task in p.tasks for t, n in task.parts])
        manifest, states = _run(p, target, workers, engine, scheduler, on_progress)
        if target != out:
            output.swap_into_place(target, out, lock)
            manifest = out / MANIFEST
        output.record_stamps(out, states)
        return manifest


def _intact(out: Path) -> bool:
    """Whether ``out`` holds a finished dataset in this version's format whose files all match its manifest."""
    try:
        open_dataset(out)
    except DatasetError:
        return False
    return True


def _run(
    p: Plan, out: Path, workers: int, engine: str, scheduler: str | None, on_progress: Callable[[int, int], None] | None
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Run every task of ``p`` into ``out`` and write the manifest; a failure on the way becomes a
    :class:`RunFailed` that says how to resume. Returns the manifest's path and each file's record with the state
    it was hashed in (for :func:`newretail.generate.output.record_stamps`)."""
    records: dict[str, dict[str, Any]] = {}
    states: dict[str, dict[str, Any]] = {}
    total = len(p.tasks)
    if on_progress:
        on_progress(0, total)
    try:
        for done, batch in enumerate(_execute(p, out, workers, engine, scheduler), start=1):
            for rec in batch:
                extra = {key: rec.pop(key) for key in output.STATE_KEYS if key in rec}
                records[rec["path"]] = rec
                states[rec["path"]] = {**rec, **extra}
            if on_progress:
                on_progress(done, total)
    except WorkerDied as exc:
        raise RunFailed(
            f"{out}: {exc} (killed, or out of memory: try fewer --workers); run the same command again to resume"
        ) from None
    except Exception as exc:
        if _disk_full(exc):
            raise RunFailed(
                f"{out}: the disk filled up ({exc}); free some space and run the same command again: "
                "finished partitions are kept and the run resumes"
            ) from None
        raise
    return write_manifest(p, out, records), states


def write_manifest(p: Plan, out: Path, records: dict[str, dict[str, Any]]) -> Path:
    """Write ``manifest.json`` (atomically, last): the spec, the scenario's content hash, where the calibration
    came from, the sampling fractions, the calibration and every file's rows and sha256."""
    files: dict[str, list[dict[str, Any]]] = {}
    for task in p.tasks:
        for table, number in task.parts:
            files.setdefault(table, []).append(records[part_path(table, number)])
    spec = p.spec()
    fields = {
        "name": p.scenario.name,
        **spec,
        "scenario_sha256": scenario_sha256(spec["scenario"]),
        "calibration_source": "given" if p.calibration_given else "scenario",
        "sampling": p.fractions,
        "calibration": p.calibration.to_dict(),
    }
    return save_manifest(out, fields, files)
