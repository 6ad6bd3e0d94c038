"""DiD at scale: newretail's ``DiD`` against pyfixest's ``feols`` and linearmodels' ``PanelOLS`` on the same panel.

A balanced panel of units x 50 periods (half the units treated from period 25, effect 0.5, unit and time effects,
normal noise) is written once to parquet; each contender then runs in its own process, on one thread (numba,
BLAS, polars), reads the file, fits once to warm up (pyfixest's numba kernels compile on the first call), and times
``--repeats`` further fits: two-way fixed effects, errors clustered by unit. The table shows the median seconds per
fit (wall and CPU) and each peer's median relative to newretail's, measured in the same run, so the ratios hold on a
shared machine where absolute times are noisy. Every contender's effect and standard error is printed beside its
time: pyfixest's CRV1 SE equals newretail's (same small-sample factor); linearmodels' differs slightly (it counts
the absorbed effects differently).

    python benchmarks/did.py [--rows 1e5 1e6 1e7] [--repeats 5 3 1] [--contenders newretail pyfixest linearmodels]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

from common import ONE_THREAD, PYTHON, checked, measure, table, write_result

PERIODS = 50
COMMAND = "python benchmarks/did.py"

PANEL = """
import sys
import numpy as np, polars as pl
rows, seed, path = int(float(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
units = rows // 50
rng = np.random.default_rng(seed)
unit, time = np.repeat(np.arange(units), 50), np.tile(np.arange(50), units)
d = (unit % 2 == 1) & (time >= 25)
y = rng.normal(size=units)[unit] + rng.normal(size=50)[time] + 0.5 * d + rng.normal(size=rows)
pl.DataFrame({"unit": unit, "time": time, "y": y, "d": d.astype(np.float64)}).write_parquet(path)
"""

FIT = """
import json, resource, statistics, sys, time
import polars as pl
path, repeats, who = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

frame = pl.read_parquet(path)
if who == "newretail":
    from newretail.methods import DiD
    def fit():
        m = DiD("unit", "time", "y", "d").fit(frame)
        return m.effect_, m.se_
elif who == "pyfixest":
    import pyfixest as pf
    pdf = frame.to_pandas()
    def fit():
        m = pf.feols("y ~ d | unit + time", data=pdf, vcov={"CRV1": "unit"})
        return float(m.coef()["d"]), float(m.se()["d"])
else:
    from linearmodels import PanelOLS
    pdf = frame.to_pandas().set_index(["unit", "time"])
    def fit():
        m = PanelOLS(pdf["y"], pdf[["d"]], entity_effects=True, time_effects=True).fit(
            cov_type="clustered", cluster_entity=True)
        return float(m.params["d"]), float(m.std_errors["d"])
effect, se = fit()  # warm-up (numba compilation, imports inside the libraries)
walls, cpus = [], []
for _ in range(repeats):
    c, w = cpu(), time.perf_counter()
    effect, se = fit()
    walls.append(time.perf_counter() - w)
    cpus.append(cpu() - c)
print(json.dumps({"wall_s": walls, "cpu_s": cpus, "effect": effect, "se": se,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

ENV = {**ONE_THREAD, "NUMBA_NUM_THREADS": "1"}


def run_sizes(
    sizes: list[float], repeats: list[int], contenders: list[str], seed: int = 0
) -> tuple[list[list[object]], dict[str, list[dict[str, object]]]]:
    """Measure every contender on a panel of each size (``repeats`` timed fits each, after one warm-up fit).

    Returns the table's rows (rows, contender, fits, median wall s, median CPU s, time / first contender's, peak
    MiB, effect, SE) and the raw results per size. ``benchmarks/loop.py`` calls it too.
    """
    repeats = (repeats + [repeats[-1]] * len(sizes))[: len(sizes)]
    folder = Path(tempfile.mkdtemp(prefix="did-bench-"))
    rows_out: list[list[object]] = []
    data: dict[str, list[dict[str, object]]] = {"sizes": []}
    try:
        for rows, reps in zip(sizes, repeats, strict=True):
            path = folder / f"panel-{int(rows)}.parquet"
            checked(measure([PYTHON, "-c", PANEL, str(rows), str(seed), str(path)], env=ENV), "panel")
            results = {}
            for who in contenders:
                run = checked(measure([PYTHON, "-c", FIT, str(path), str(reps), who], env=ENV), who)
                out = json.loads(run.stdout.strip().splitlines()[-1])
                out["median_wall_s"] = statistics.median(out["wall_s"])
                out["median_cpu_s"] = statistics.median(out["cpu_s"])
                results[who] = out
                print(f"{int(rows):,} rows, {who}: {out['median_wall_s']:.3g} s", flush=True)
            base = results.get("newretail") or next(iter(results.values()))
            for who, out in results.items():
                rows_out.append(
                    [
                        f"{int(rows):,}",
                        who,
                        reps,
                        out["median_wall_s"],
                        out["median_cpu_s"],
                        out["median_wall_s"] / base["median_wall_s"],
                        out["peak_rss_mib"],
                        f"{out['effect']:.6f}",
                        f"{out['se']:.6f}",
                    ]
                )
            data["sizes"].append({"rows": int(rows), "repeats": reps, "results": results})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows_out, data


HEADERS = ["rows", "contender", "fits", "median wall s", "median CPU s", "time / newretail", "peak MiB", "effect",
           "SE (clustered by unit)"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--repeats", nargs="+", type=int, default=[5, 3, 1], help="timed fits per size (median)")
    parser.add_argument("--contenders", nargs="+", default=["newretail", "pyfixest", "linearmodels"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="did", help="result file name under benchmarks/results/")
    args = parser.parse_args()
    rows_out, data = run_sizes(args.rows, args.repeats, args.contenders, args.seed)
    text = (
        f"Command: `{COMMAND} {' '.join(_args(args))}`.\n\n"
        + table(HEADERS, rows_out)
        + f"\n\nA balanced panel of {PERIODS} periods (units = rows / {PERIODS}), half the units treated from period "
        "25, true effect 0.5; two-way fixed effects, errors clustered by unit; every contender on one thread, one "
        "warm-up fit then the timed fits (median). `time / newretail` below 1 means the peer is faster."
    )
    write_result(args.name, title="DiD at scale against pyfixest and linearmodels", text=text, data=data)


def _args(args: argparse.Namespace) -> list[str]:
    out = ["--rows", *(f"{r:g}" for r in args.rows), "--repeats", *map(str, args.repeats)]
    if args.contenders != ["newretail", "pyfixest", "linearmodels"]:
        out += ["--contenders", *args.contenders]
    if args.name != "did":
        out += ["--name", args.name]
    return out


if __name__ == "__main__":
    main()
