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
from typing import Any

PAGE_TYPES = ("home", "search", "product", "campaign", "cart")
PAGE_TYPE_P = (0.15, 0.20, 0.45, 0.12, 0.08)
DAY_US = 86_400_000_000


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

    from newretail.generate.run import draw_task, plan, run_task

    p = plan("singles_day_2017", scale=scale, seed=seed)
    shards = [t for t in p.tasks if t.group == "shoppers"][:tasks]
    with Timer() as t:
        records = [rec for task in shards for rec in run_task(p, task, str(out))]
    with Timer() as drawing:  # the same frames again, not written: what drawing them costs
        for task in shards:
            draw_task(p, task)
    cells = pv_rows = 0
    for rec in records:
        cells += rec["rows"] * pq.ParquetFile(out / rec["path"]).metadata.num_columns
        if rec["path"].startswith("page_views/"):
            pv_rows += rec["rows"]
    rows = sum(rec["rows"] for rec in records)
    return {
        "rows": rows,
        "cells": cells,
        "page_view_rows": pv_rows,
        "cpu_s": t.cpu,
        "wall_s": t.wall,
        "draw_cpu_s": drawing.cpu,
    }


def ours_dataset(out: Path, scale: float, seed: int) -> dict[str, float]:
    """A whole dataset (every table, plan and calibration included) with ``newretail.generate`` and one worker; the
    calibration (solved once per scenario and process) is also timed on its own."""
    import json as _json

    from newretail.generate import generate, plan

    with Timer() as t:
        with Timer() as calibrating:
            plan("singles_day_2017", scale=scale, seed=seed)  # generate() below reuses the solved calibration
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
        "calibration_cpu_s": calibrating.cpu,
    }


def _like(ref: Path) -> list[tuple[str, str, int, dict[str, int]]]:
    """(relative path, table, rows, null count per column) of every parquet file under ``ref``, from the footers."""
    import pyarrow.parquet as pq

    files = []
    for path in sorted(ref.rglob("*.parquet")):
        meta = pq.ParquetFile(path).metadata
        nulls: dict[str, int] = {}
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                col = group.column(c)
                stats = col.statistics
                name = col.path_in_schema
                nulls[name] = nulls.get(name, 0) + (
                    stats.null_count if stats is not None and stats.has_null_count else 0
                )
        files.append((str(path.relative_to(ref)), path.parent.name, meta.num_rows, nulls))
    return files


def _plain_column(rng: Any, name: str, dtype: Any, rows: int, first: bool) -> Any:
    """One column of ``rows`` plain random values of ``dtype``: one draw per cell (keys: a range or sorted draws)."""
    import numpy as np
    import polars as pl

    if dtype == pl.Boolean:
        return pl.Series(name, rng.random(rows) < 0.5)
    if isinstance(dtype, pl.Enum):
        codes = rng.integers(0, len(dtype.categories), size=rows, dtype=np.uint8)
        return pl.Series(name, codes).cat.to(dtype)
    if dtype == pl.String:
        words = pl.Series([f"inquiry text number {i}, with some words to compress" for i in range(64)])
        return words.gather(rng.integers(0, 64, size=rows)).alias(name)
    if dtype == pl.Date:
        return pl.Series(name, rng.integers(17_000, 17_500, size=rows, dtype=np.int32)).cast(pl.Date)
    if dtype.is_float():
        return pl.Series(name, rng.random(rows)).cast(dtype)
    if first:  # the table's own key: consecutive ids
        return pl.Series(name, np.arange(rows, dtype=np.int64)).cast(dtype)
    if name.endswith("_id"):  # a key of another table, sorted as in a partition
        return pl.Series(name, np.sort(rng.integers(0, max(rows // 8, 1), size=rows))).cast(dtype)
    if name.endswith("ts_us"):
        return pl.Series(name, rng.integers(0, DAY_US, size=rows))
    return pl.Series(name, rng.integers(0, 20, size=rows)).cast(dtype)


def limit(out: Path, like: Path, seed: int) -> dict[str, Any]:
    """The practical limit of this design for the same rows: every file under ``like`` made again with the same
    table schema, rows and null columns, each cell one plain random draw (no model at all), written, fsynced and
    hashed as newretail's ``run_task`` does (its writer, ``write_partition``: zstd, an encoding per column; sha256
    of the file)."""
    import os

    import numpy as np
    import polars as pl

    from newretail.generate.output import write_partition
    from newretail.tables import file_record, polars_schema

    files = _like(like)
    cells = pv_rows = 0
    drawing = 0.0
    with Timer() as t:
        rng = np.random.default_rng(seed)
        for rel, table, rows, nulls in files:
            start = _cpu()
            schema = polars_schema(table)
            columns = []
            for i, (name, dtype) in enumerate(schema.items()):
                if rows and nulls.get(name, 0) == rows:
                    columns.append(pl.Series(name, [None] * rows, dtype=dtype))
                else:
                    columns.append(_plain_column(rng, name, dtype, rows, i == 0))
            frame = pl.DataFrame(columns)
            drawing += _cpu() - start
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            write_partition(frame, table, path)
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
            file_record(out, rel, 1.0)
            cells += rows * len(schema)
            pv_rows += rows if table == "page_views" else 0
    rows_all = sum(f[2] for f in files)
    return {
        "rows": rows_all,
        "cells": cells,
        "page_view_rows": pv_rows,
        "cpu_s": t.cpu,
        "wall_s": t.wall,
        "draw_cpu_s": drawing,
    }


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
    from newretail.generate.output import write_partition

    write_partition(frame, "page_views", out / "part-00000.parquet")  # as newretail writes page views


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
    parser.add_argument("name", choices=["ours-shards", "ours-dataset", "limit", "faker", "mimesis"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=0.0133)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--rows", type=int, default=20_000, help="faker, mimesis: rows to make")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--like", type=Path, help="limit: the folder of newretail files to make again")
    parser.add_argument("--keep", action="store_true", help="keep the files written (for a later limit run)")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    if args.name == "ours-shards":
        result = ours_shards(args.out, args.scale, args.tasks, args.seed)
    elif args.name == "ours-dataset":
        result = ours_dataset(args.out, args.scale, args.seed)
    elif args.name == "limit":
        result = limit(args.out, args.like, args.seed)
    elif args.name == "faker":
        result = faker_rows(args.out, args.rows, args.seed)
    else:
        result = mimesis_rows(args.out, args.rows, args.seed)
    result["bytes"] = sum(f.stat().st_size for f in args.out.rglob("*.parquet"))
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
