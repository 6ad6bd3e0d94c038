"""Generation throughput in cells (rows x columns) per CPU-second on one core: newretail against its peers.

Measured in the same run, in rounds that alternate the contenders, each in its own one-thread process:

- newretail's user shards (users, visits, page views, orders and truth: the page-view path), through the same
  ``run_task`` the engines call, files written, fsynced and hashed;
- a plain numpy + polars script that only draws columns of the page-view shape and writes them with the same
  parquet settings: the practical limit of this design;
- ``tpchgen-cli`` (the Rust TPC-H generator) writing lineitem as zstd parquet with one thread;
- a whole newretail dataset (every table, calibration included) with one worker, once;
- Faker and mimesis making the same eight page-view columns row by row (measured on ``--faker-rows`` rows, their
  rates extrapolated: row-wise generators run at a constant rate per row).

CPU-seconds, not wall seconds, are the denominator: on a machine shared with other work a process waits for a core
without using it, and each contender is single-threaded, so CPU time is its time on one core.

    python benchmarks/throughput.py [--rounds 3] [--tasks 4] [--tpch-scale 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from common import ONE_THREAD, PYTHON, ROOT, checked, ensure_peers, measure, table, write_result

WORKLOAD = ROOT / "benchmarks" / "workload.py"
LINEITEM_COLUMNS = 16


def _workload(name: str, out: Path, *args: str) -> dict[str, Any]:
    env = {**ONE_THREAD, "PYTHONPATH": str(ensure_peers())}
    run = checked(measure([PYTHON, str(WORKLOAD), name, "--out", str(out), *args], env=env), name)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["process"] = run
    return result


def _tpch(out: Path, scale: float) -> dict[str, Any]:
    import pyarrow.parquet as pq

    shutil.rmtree(out, ignore_errors=True)
    binary = ensure_peers() / "bin" / "tpchgen-cli"
    cmd = [str(binary), "parquet", "-s", str(scale), "--tables", "lineitem", "-c", "ZSTD(3)", "-n", "1"]
    run = checked(measure([*cmd, "-o", str(out), "-q"], env=ONE_THREAD), "tpchgen-cli")
    file = out / "lineitem.parquet"
    rows = pq.ParquetFile(file).metadata.num_rows
    result = {"rows": rows, "cells": rows * LINEITEM_COLUMNS, "cpu_s": run.cpu_s, "wall_s": run.wall_s}
    result["bytes"] = file.stat().st_size
    result["process"] = run
    shutil.rmtree(out, ignore_errors=True)
    return result


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
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "plain": [], "tpch": []}
    try:
        for r in range(args.rounds):
            ours = _workload("ours-shards", work / "ours", "--tasks", str(args.tasks), "--seed", str(r + 1))
            runs["ours"].append(ours)
            per_chunk = str(round(ours["page_view_rows"] / args.tasks))
            runs["plain"].append(
                _workload("plain", work / "plain", "--rows", per_chunk, "--chunks", str(args.tasks), "--seed", str(r))
            )
            runs["tpch"].append(_tpch(work / "tpch", args.tpch_scale))
        dataset = _workload("ours-dataset", work / "dataset", "--scale", str(args.dataset_scale))
        faker = _workload("faker", work / "faker", "--rows", str(args.faker_rows))
        mimesis = _workload("mimesis", work / "mimesis", "--rows", str(args.faker_rows))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def rate(result: dict[str, Any], key: str = "cells") -> float:
        return result[key] / result["cpu_s"]

    med = {k: statistics.median(rate(x) for x in v) for k, v in runs.items()}
    med_pv = statistics.median(x["page_view_rows"] * 8 / x["cpu_s"] for x in runs["ours"])
    med_wall = {k: statistics.median(x["cells"] / x["wall_s"] for x in v) for k, v in runs.items()}
    ours_rate = med["ours"]
    rows = [
        ["newretail user shards (all 5 tables)", runs["ours"][0]["cells"], ours_rate, med_wall["ours"], 1.0],
        ["newretail user shards, page_views cells only", "", med_pv, "", med_pv / ours_rate],
        ["newretail whole dataset, 1 worker", dataset["cells"], rate(dataset), dataset["cells"] / dataset["wall_s"],
         rate(dataset) / ours_rate],
        ["plain numpy + polars, page-view shape", runs["plain"][0]["cells"], med["plain"], med_wall["plain"],
         med["plain"] / ours_rate],
        ["tpchgen-cli lineitem, zstd(3), 1 thread", runs["tpch"][0]["cells"], med["tpch"], med_wall["tpch"],
         med["tpch"] / ours_rate],
        ["Faker, row by row", faker["cells"], rate(faker), faker["cells"] / faker["wall_s"], rate(faker) / ours_rate],
        ["mimesis, row by row", mimesis["cells"], rate(mimesis), mimesis["cells"] / mimesis["wall_s"],
         rate(mimesis) / ours_rate],
    ]  # fmt: skip
    text = table(
        ["generator", "cells per run", "cells per CPU-second", "cells per wall-second", "relative to newretail"], rows
    )
    vs_tpch = ours_rate / med["tpch"]
    vs_plain = med["plain"] / ours_rate
    text += (
        f"\n\nMedian of {args.rounds} alternating rounds, one thread each. newretail page-view generation makes "
        f"{vs_tpch:.2f}x tpchgen-cli's cells per CPU-second (target: at least 2x) and the plain numpy + polars "
        f"limit makes {vs_plain:.2f}x newretail's (target: at most 1.5x). Faker is {ours_rate / rate(faker):,.0f}x "
        f"and mimesis {ours_rate / rate(mimesis):,.0f}x slower than newretail per cell: a billion page views would "
        f"take one core {8e9 / rate(faker) / 3600:,.0f} h with Faker, {8e9 / rate(mimesis) / 3600:,.0f} h with "
        f"mimesis and {8e9 / med['plain'] / 60:,.1f} min with the plain script (page-view cells only, extrapolated)."
    )
    write_result(
        "throughput",
        title="Generation throughput per core",
        text=text,
        data={
            "args": vars(args),
            "median_cells_per_cpu_s": med,
            "page_view_cells_per_cpu_s": med_pv,
            "ratio_newretail_over_tpchgen": vs_tpch,
            "ratio_plain_over_newretail": vs_plain,
            "runs": runs,
            "dataset": dataset,
            "faker": faker,
            "mimesis": mimesis,
        },
    )


if __name__ == "__main__":
    main()
