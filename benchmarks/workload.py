"""The measured workloads, each run in its own one-thread process by the benchmarks (``python workload.py NAME ...``).

Each prints one JSON line: rows and cells (rows x columns) written, and the CPU and wall seconds of the timed part
(the generating and writing, not the interpreter start-up and imports, which are a fixed cost per process).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from collections import OrderedDict
from pathlib import Path

PAGE_TYPES = ("home", "search", "product", "campaign", "cart")
PAGE_TYPE_P = (0.15, 0.20, 0.45, 0.12, 0.08)
DAY_US = 86_400_000_000
WRITE = {"compression": "zstd", "compression_level": 3, "statistics": True}  # newretail's own settings


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Timer:
    def __enter__(self) -> Timer:
        self.cpu, self.wall = _cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu, self.wall = _cpu() - self.cpu, time.perf_counter() - self.wall


def ours_shards(out: Path, scale: float, tasks: int, seed: int) -> dict[str, float]:
    """newretail's own code path (``run_task``) for the first user shards of a plan: users, visits, page views,
    orders and the visits' truth, written, fsynced and hashed."""
    import pyarrow.parquet as pq

    from newretail.generate.run import plan, run_task

    p = plan("singles_day_2017", scale=scale, seed=seed)
    shards = [t for t in p.tasks if t.group == "shoppers"][:tasks]
    with Timer() as t:
        records = [rec for task in shards for rec in run_task(p, task, str(out))]
    cells = pv_rows = 0
    for rec in records:
        cells += rec["rows"] * pq.ParquetFile(out / rec["path"]).metadata.num_columns
        if rec["path"].startswith("page_views/"):
            pv_rows += rec["rows"]
    rows = sum(rec["rows"] for rec in records)
    return {"rows": rows, "cells": cells, "page_view_rows": pv_rows, "cpu_s": t.cpu, "wall_s": t.wall}


def ours_dataset(out: Path, scale: float, seed: int) -> dict[str, float]:
    """A whole dataset (every table, plan and calibration included) with ``newretail.generate`` and one worker."""
    import json as _json

    from newretail.generate import generate

    with Timer() as t:
        manifest = generate("singles_day_2017", scale=scale, seed=seed, out=out, workers=1)
    tables = _json.loads(manifest.read_text())["tables"]
    from newretail.tables import polars_schema

    rows = sum(v["rows"] for v in tables.values())
    cells = sum(v["rows"] * len(polars_schema(k)) for k, v in tables.items())
    return {
        "rows": rows,
        "cells": cells,
        "page_view_rows": tables["page_views"]["rows"],
        "cpu_s": t.cpu,
        "wall_s": t.wall,
    }


def plain(out: Path, rows: int, chunks: int, seed: int) -> dict[str, float]:
    """The practical limit of this design: numpy draws columns of the page-view shape (sorted keys, random
    timestamps, small codes and flags), polars writes them with newretail's parquet settings. No model at all."""
    import numpy as np
    import polars as pl

    enum = pl.Enum(list(PAGE_TYPES))
    out.mkdir(parents=True, exist_ok=True)
    with Timer() as t:
        for c in range(chunks):
            rng = np.random.default_rng([seed, c])
            visit = np.sort(rng.integers(0, rows // 9, size=rows))
            frame = pl.DataFrame(
                {
                    "page_view_id": np.arange(c * rows, (c + 1) * rows, dtype=np.int64),
                    "visit_id": visit,
                    "user_id": visit // 17,
                    "ts_us": rng.integers(0, DAY_US, size=rows),
                    "page_index": rng.integers(0, 20, size=rows, dtype=np.int32),
                    "page_type": pl.Series(rng.integers(0, len(PAGE_TYPES), size=rows, dtype=np.uint8)).cat.to(enum),
                    "personalized": rng.random(rows) < 0.8,
                    "converted": rng.random(rows) < 0.02,
                }
            )
            frame.write_parquet(out / f"part-{c:05d}.parquet", **WRITE)  # type: ignore[arg-type]
    return {"rows": rows * chunks, "cells": rows * chunks * 8, "cpu_s": t.cpu, "wall_s": t.wall}


def _write_rows(records: list[tuple], out: Path) -> None:
    import polars as pl

    frame = pl.DataFrame(
        records,
        schema=[
            ("page_view_id", pl.Int64),
            ("visit_id", pl.Int64),
            ("user_id", pl.Int64),
            ("ts_us", pl.Int64),
            ("page_index", pl.Int32),
            ("page_type", pl.Enum(list(PAGE_TYPES))),
            ("personalized", pl.Boolean),
            ("converted", pl.Boolean),
        ],
        orient="row",
    )
    out.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(out / "part-00000.parquet", **WRITE)  # type: ignore[arg-type]


def faker_rows(out: Path, rows: int, seed: int) -> dict[str, float]:
    """Faker, row by row: the same eight page-view columns, then one polars write."""
    from faker import Faker

    fake = Faker()
    fake.seed_instance(seed)
    weights = OrderedDict(zip(PAGE_TYPES, PAGE_TYPE_P, strict=True))
    with Timer() as t:
        records = [
            (
                i,
                fake.random_int(0, 10**9),
                fake.random_int(0, 10**8),
                fake.random_int(0, DAY_US),
                fake.random_int(0, 19),
                fake.random_element(weights),
                fake.pybool(80),
                fake.pybool(2),
            )
            for i in range(rows)
        ]
        _write_rows(records, out)
    return {"rows": rows, "cells": rows * 8, "cpu_s": t.cpu, "wall_s": t.wall}


def mimesis_rows(out: Path, rows: int, seed: int) -> dict[str, float]:
    """mimesis, row by row: the same eight page-view columns, then one polars write."""
    from mimesis import Development, Numeric
    from mimesis.random import Random

    numeric, dev, rnd = Numeric(seed=seed), Development(seed=seed), Random(seed)
    weights = dict(zip(PAGE_TYPES, PAGE_TYPE_P, strict=True))
    with Timer() as t:
        records = [
            (
                i,
                numeric.integer_number(0, 10**9),
                numeric.integer_number(0, 10**8),
                numeric.integer_number(0, DAY_US),
                numeric.integer_number(0, 19),
                rnd.weighted_choice(weights),
                dev.boolean(),
                rnd.random() < 0.02,
            )
            for i in range(rows)
        ]
        _write_rows(records, out)
    return {"rows": rows, "cells": rows * 8, "cpu_s": t.cpu, "wall_s": t.wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=["ours-shards", "ours-dataset", "plain", "faker", "mimesis"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=0.0133)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    if args.name == "ours-shards":
        result = ours_shards(args.out, args.scale, args.tasks, args.seed)
    elif args.name == "ours-dataset":
        result = ours_dataset(args.out, args.scale, args.seed)
    elif args.name == "plain":
        result = plain(args.out, args.rows, args.chunks, args.seed)
    elif args.name == "faker":
        result = faker_rows(args.out, args.rows, args.seed)
    else:
        result = mimesis_rows(args.out, args.rows, args.seed)
    result["bytes"] = sum(f.stat().st_size for f in args.out.rglob("*.parquet"))
    shutil.rmtree(args.out, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
