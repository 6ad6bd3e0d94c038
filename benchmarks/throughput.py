"""Generation throughput on one core: CPU seconds per million page views against the numpy + polars limit for the
same rows, and cells (rows x columns) per CPU-second against tpchgen-cli and row-wise fakers.

Measured in the same run, in rounds that alternate the contenders, each in its own one-thread process:

- newretail's user shards (users, visits, page views, orders and truth: the page-view path), through the same
  ``run_task`` the engines call, files written, fsynced and hashed; then the same frames drawn again without
  writing, which splits the CPU time into drawing and writing;
- the numpy + polars limit for the same rows: every file of that run made again with the same schema, rows and
  null columns, each cell one plain random draw (no model), written, fsynced and hashed the same way;
- ``tpchgen-cli`` (the Rust TPC-H generator) writing lineitem as zstd parquet with one thread;
- a whole newretail dataset (every table, calibration included) with one worker, once, and its limit;
- Faker and mimesis making the same eight page-view columns row by row (measured on ``--faker-rows`` rows, their
  rates extrapolated: row-wise generators run at a constant rate per row).

CPU-seconds, not wall seconds, are the denominator: on a machine shared with other work a process waits for a core
without using it, and each contender is single-threaded, so CPU time is its time on one core.

    python benchmarks/throughput.py [--rounds 3] [--tasks 4] [--tpch-scale 1]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from common import ONE_THREAD, PYTHON, ROOT, checked, ensure_peers, measure, table, write_result

from newretail.generate.output import COMPRESSION_LEVEL
from newretail.generate.pool import WORKER_MALLOC

WORKLOAD = ROOT / "benchmarks" / "workload.py"
LINEITEM_COLUMNS = 16


def _workload(name: str, out: Path, *args: str) -> dict[str, Any]:
    env = {**ONE_THREAD, **WORKER_MALLOC, "PYTHONPATH": str(ensure_peers())}
    run = checked(measure([PYTHON, str(WORKLOAD), name, "--out", str(out), *args], env=env), name)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["process"] = run
    return result


def _tpch(out: Path, scale: float) -> dict[str, Any]:
    import pyarrow.parquet as pq

    shutil.rmtree(out, ignore_errors=True)
    binary = ensure_peers() / "bin" / "tpchgen-cli"
    level = f"ZSTD({COMPRESSION_LEVEL})"  # the level newretail's writer uses
    cmd = [str(binary), "parquet", "-s", str(scale), "--tables", "lineitem", "-c", level, "-n", "1"]
    run = checked(measure([*cmd, "-o", str(out), "-q"], env={**ONE_THREAD, **WORKER_MALLOC}), "tpchgen-cli")
    file = out / "lineitem.parquet"
    rows = pq.ParquetFile(file).metadata.num_rows
    result = {"rows": rows, "cells": rows * LINEITEM_COLUMNS, "cpu_s": run.cpu_s, "wall_s": run.wall_s}
    result["bytes"] = file.stat().st_size
    result["process"] = run
    shutil.rmtree(out, ignore_errors=True)
    return result


def _per_mpv(result: dict[str, Any], key: str = "cpu_s") -> float:
    """CPU seconds per million page views."""
    return result[key] / result["page_view_rows"] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    parser.add_argument("--tasks", type=int, default=4, help="newretail user shards per round (~3e6 page views each)")
    parser.add_argument("--tpch-scale", type=float, default=1.0, help="TPC-H scale factor (6e6 lineitem rows at 1)")
    parser.add_argument("--dataset-scale", type=float, default=2e-4, help="scale of the whole-dataset run")
    parser.add_argument("--faker-rows", type=int, default=20_000)
    args = parser.parse_args()
    ensure_peers()
    work = Path(tempfile.mkdtemp(prefix="newretail-bench-"))
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "limit": [], "tpch": []}
    try:
        for r in range(args.rounds):
            seed = str(r + 1)
            ours = _workload("ours-shards", work / "ours", "--tasks", str(args.tasks), "--seed", seed, "--keep")
            runs["ours"].append(ours)
            runs["limit"].append(_workload("limit", work / "limit", "--like", str(work / "ours"), "--seed", seed))
            shutil.rmtree(work / "ours", ignore_errors=True)
            runs["tpch"].append(_tpch(work / "tpch", args.tpch_scale))
        dataset = _workload("ours-dataset", work / "dataset", "--scale", str(args.dataset_scale), "--keep")
        dataset_limit = _workload("limit", work / "dataset-limit", "--like", str(work / "dataset"))
        shutil.rmtree(work / "dataset", ignore_errors=True)
        faker = _workload("faker", work / "faker", "--rows", str(args.faker_rows))
        mimesis = _workload("mimesis", work / "mimesis", "--rows", str(args.faker_rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def rate(result: dict[str, Any], key: str = "cells") -> float:
        return result[key] / result["cpu_s"]

    def med(name: str, fn: Any) -> float:
        return statistics.median(fn(x) for x in runs[name])

    # CPU seconds per million page views, split into drawing and the rest (writing, fsync, hashing)
    cost = {
        name: {
            "total": med(name, _per_mpv),
            "draw": med(name, lambda x: _per_mpv(x, "draw_cpu_s")),
            "write": med(name, lambda x: _per_mpv(x) - _per_mpv(x, "draw_cpu_s")),
        }
        for name in ("ours", "limit")
    }
    for name, res in (("dataset", dataset), ("dataset_limit", dataset_limit)):
        cost[name] = {"total": _per_mpv(res), "draw": math.nan, "write": math.nan}
        if "draw_cpu_s" in res:
            cost[name] |= {"draw": _per_mpv(res, "draw_cpu_s"), "write": _per_mpv(res) - _per_mpv(res, "draw_cpu_s")}
    calibration = _per_mpv(dataset, "calibration_cpu_s")
    cost["dataset_without_calibration"] = {"total": cost["dataset"]["total"] - calibration, "draw": math.nan,
                                           "write": math.nan}  # fmt: skip
    pv = runs["ours"][0]["page_view_rows"]
    pv, dpv = runs["ours"][0]["page_view_rows"], dataset["page_view_rows"]
    shards_ratio = cost["ours"]["total"] / cost["limit"]["total"]
    dataset_ratio = cost["dataset"]["total"] / cost["dataset_limit"]["total"]
    solved_ratio = cost["dataset_without_calibration"]["total"] / cost["dataset_limit"]["total"]
    cost_rows = [
        ["newretail user shards (all 5 tables)", pv, *cost["ours"].values(), shards_ratio],
        ["numpy + polars limit, the same files", pv, *cost["limit"].values(), 1.0],
        ["newretail whole dataset, 1 worker (calibration included)", dpv, *cost["dataset"].values(), dataset_ratio],
        ["newretail whole dataset, 1 worker, without the calibration", dpv,
         *cost["dataset_without_calibration"].values(), solved_ratio],
        ["numpy + polars limit, the whole dataset's files", dpv, *cost["dataset_limit"].values(), 1.0],
    ]  # fmt: skip
    text = table(
        ["generator", "page views per run", "CPU s per million page views", "drawing", "writing and hashing",
         "relative to its limit"],
        cost_rows,
    )  # fmt: skip

    cells = {k: med(k, rate) for k in runs}
    med_pv = med("ours", lambda x: x["page_view_rows"] * 8 / x["cpu_s"])
    med_wall = {k: med(k, lambda x: x["cells"] / x["wall_s"]) for k in runs}
    ours_rate = cells["ours"]
    rows = [
        ["newretail user shards (all 5 tables)", runs["ours"][0]["cells"], ours_rate, med_wall["ours"], 1.0],
        ["newretail user shards, page_views cells only", "", med_pv, "", med_pv / ours_rate],
        ["newretail whole dataset, 1 worker", dataset["cells"], rate(dataset), dataset["cells"] / dataset["wall_s"],
         rate(dataset) / ours_rate],
        ["numpy + polars limit, the user shards' files", runs["limit"][0]["cells"], cells["limit"], med_wall["limit"],
         cells["limit"] / ours_rate],
        [f"tpchgen-cli lineitem, zstd({COMPRESSION_LEVEL}), 1 thread", runs["tpch"][0]["cells"], cells["tpch"],
         med_wall["tpch"], cells["tpch"] / ours_rate],
        ["Faker, row by row", faker["cells"], rate(faker), faker["cells"] / faker["wall_s"], rate(faker) / ours_rate],
        ["mimesis, row by row", mimesis["cells"], rate(mimesis), mimesis["cells"] / mimesis["wall_s"],
         rate(mimesis) / ours_rate],
    ]  # fmt: skip
    text += "\n\n" + table(
        ["generator", "cells per run", "cells per CPU-second", "cells per wall-second", "relative to newretail"], rows
    )
    vs_tpch = ours_rate / cells["tpch"]
    vs_limit = shards_ratio
    draw_vs_limit = cost["ours"]["draw"] / cost["limit"]["draw"]
    text += (
        f"\n\nMedian of {args.rounds} alternating rounds, one thread each. A user shard costs "
        f"{cost['ours']['total']:.3f} CPU s per million page views ({cost['ours']['draw']:.3f} drawing, "
        f"{cost['ours']['write']:.3f} writing, fsyncing and hashing): {vs_limit:.2f}x the numpy + polars limit for "
        f"the same files, whose drawing alone the model's drawing takes {draw_vs_limit:.2f}x of (the limit's plain "
        f"random values compress worse, so its writing costs more). The whole dataset's calibration, solved once per "
        f"scenario ({dataset['calibration_cpu_s']:.1f} CPU s), is {calibration:.3f} CPU s per million page views at "
        f"its scale ({dpv:,} page views) and a tenth of that at ten times the scale. newretail makes {vs_tpch:.2f}x "
        f"tpchgen-cli's "
        f"cells per CPU-second (target: at least 2.5x). "
        f"Faker is {ours_rate / rate(faker):,.0f}x and mimesis "
        f"{ours_rate / rate(mimesis):,.0f}x slower than newretail per cell: a billion page views would take one core "
        f"{8e9 / rate(faker) / 3600:,.0f} h with Faker and {8e9 / rate(mimesis) / 3600:,.0f} h with mimesis "
        f"(page-view cells only, extrapolated)."
    )
    write_result(
        "throughput",
        title="Generation throughput per core",
        text=text,
        data={
            "args": vars(args),
            "cpu_s_per_million_page_views": cost,
            "median_cells_per_cpu_s": cells,
            "page_view_cells_per_cpu_s": med_pv,
            "ratio_newretail_over_tpchgen": vs_tpch,
            "ratio_newretail_over_limit_cpu_per_page_view": vs_limit,
            "ratio_newretail_over_limit_drawing": draw_vs_limit,
            "runs": runs,
            "dataset": dataset,
            "dataset_limit": dataset_limit,
            "faker": faker,
            "mimesis": mimesis,
        },
    )


if __name__ == "__main__":
    main()
