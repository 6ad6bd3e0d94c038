"""A billion page views end to end on this machine: generate, then every claim by both paths; wall time, CPU time,
memory, disk, and a line of history per run.

Steps, each a separate measured process:

1. ``newretail generate`` at the scale whose expected page views are ``--page-views`` (default 1e9), local engine;
2. ``newretail claims --json``: every report and press claim, the single-pass streaming path;
3. the same claims from per-partition partial aggregates on a 2-worker Dask LocalCluster
   (``newretail.claims.partials``), and the largest relative difference from step 2 (``--no-dask`` skips it).

Each run appends a row to ``benchmarks/results/end_to_end_history.csv`` (date, commit, page views, the figures of
every step, the load average before and after, and ``--note``), so a regression shows as a line; the Markdown
result repeats the history. The dataset is deleted afterwards (``--keep`` to keep it).

    python benchmarks/end_to_end.py [--page-views 1e9] [--workers 2] [--out DIR] [--keep] [--note TEXT]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import PYTHON, RESULTS, ROOT, Run, checked, dir_bytes, measure, table, write_result

BUDGET_S = 4 * 60  # the target at 1e9 page views: generated and every claim computed in under 4 minutes
GENERATE_CPU_PER_MPV = 0.35  # target: CPU seconds of generation per million page views
CLAIMS_WALL_S = 30.0  # target: every claim in under 30 s
CLAIMS_RSS_MIB = 600.0  # target: peak resident memory of the claims
HISTORY = RESULTS / "end_to_end_history.csv"
HISTORY_FIELDS = (
    "when_utc", "commit", "page_views", "workers", "gen_wall_s", "gen_cpu_s", "gen_cpu_s_per_mpv", "gen_rss_mib",
    "claims_wall_s", "claims_cpu_s", "claims_rss_mib", "partial_wall_s", "partial_cpu_s", "partial_rss_mib",
    "partial_max_rel_diff", "total_wall_s", "claims_hold", "claims_total", "disk_gib", "load_before", "load_after",
    "note",
)  # fmt: skip
PARTIALS = """
import json, sys
from newretail.claims.partials import evaluate_partials
if __name__ == "__main__":
    out = evaluate_partials(sys.argv[1], engine="dask", workers=int(sys.argv[2]))
    print(json.dumps({k: [e.value, e.ci_low, e.ci_high] for k, e in out.items()}))
"""


def scale_for(page_views: float) -> float:
    """The scale whose expected page views are ``page_views`` (default scenario)."""
    from newretail.generate import plan

    per_unit = plan("singles_day_2017", scale=1.0, seed=0).expected_rows()["page_views"]
    return page_views / per_unit


def _rel(a: float | None, b: float | None) -> float:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return 0.0 if a == b or (a is None) == (b is None) else math.inf
    return abs(a - b) / max(abs(a), 1e-300)


def _commit() -> str:
    """The checked-out commit (short), with ``+dirty`` when tracked files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "newretail"], cwd=ROOT).returncode != 0
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty else "") if head.returncode == 0 else "unknown"


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def append_history(row: dict[str, Any]) -> list[dict[str, str]]:
    """Append ``row`` to the history file (created with its header) and return every row in it."""
    HISTORY.parent.mkdir(parents=True, exist_ok=True)
    new = not HISTORY.is_file()
    with HISTORY.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in HISTORY_FIELDS})
    with HISTORY.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _history_table(rows: list[dict[str, str]]) -> str:
    def num(value: str, fmt: str) -> str:
        try:
            return format(float(value), fmt)
        except ValueError:
            return value

    lines = [
        [r["when_utc"][:16].replace("T", " "), r["commit"], num(r["page_views"], ".3g"), num(r["gen_wall_s"], ".0f"),
         num(r["gen_cpu_s_per_mpv"], ".3f"), num(r["claims_wall_s"], ".1f"), num(r["claims_cpu_s"], ".1f"),
         num(r["claims_rss_mib"], ".0f"), num(r["partial_wall_s"], ".1f"), num(r["partial_rss_mib"], ".0f"),
         num(r["total_wall_s"], ".0f"), r["load_before"], r["note"]]
        for r in rows
    ]  # fmt: skip
    return table(
        ["when (UTC)", "commit", "page views", "generate wall s", "generate CPU s per M page views", "claims wall s",
         "claims CPU s", "claims peak RSS MiB", "Dask partials wall s", "Dask partials peak RSS MiB",
         "end to end wall s", "load before", "note"],
        lines,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page-views", type=float, default=1e9)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="dataset folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the dataset")
    parser.add_argument("--no-dask", action="store_true", help="skip the partial-aggregate claims on Dask")
    parser.add_argument("--note", default="", help="a note for the history row (e.g. what else ran)")
    args = parser.parse_args()
    scale = scale_for(args.page_views)
    work = Path(tempfile.mkdtemp(prefix="newretail-e2e-", dir=args.out.parent if args.out else None))
    out = args.out or work / "ds"
    cli = str(Path(PYTHON).with_name("newretail"))
    # a cache folder of the run's own: the calibration and frontiers come from the package's shipped entries, and
    # the verification stamps generate leaves for claims are deleted with the dataset
    env = {"OMP_WAIT_POLICY": "PASSIVE", "NEWRETAIL_CACHE": str(work / "cache")}
    load_before, commit = _load(), _commit()
    try:
        gen = checked(
            measure(
                [cli, "generate", "--scale", f"{scale:.6g}", "--seed", "20171111", "--out", str(out),
                 "--workers", str(args.workers), "--quiet", "--overwrite"],
                env=env,
            ),
            "generate",
        )  # fmt: skip
        manifest = json.loads((out / "manifest.json").read_text())
        disk = dir_bytes(out)
        rows = sum(t["rows"] for t in manifest["tables"].values())
        page_views = manifest["tables"]["page_views"]["rows"]
        claims = checked(measure([cli, "claims", str(out), "--json"], env=env, cwd=ROOT), "claims")
        single = {row["id"]: row for row in json.loads(claims.stdout)}
        partial_run: Run | None = None
        partial: dict[str, list[float]] = {}
        differences: dict[str, float] = {}
        worst = math.nan
        if not args.no_dask:
            partial_run = checked(
                measure([PYTHON, "-c", PARTIALS, str(out), str(args.workers)], env=env, cwd=ROOT), "partial claims"
            )
            partial = json.loads(partial_run.stdout.strip().splitlines()[-1])
            differences = {
                k: max(_rel(single[k][key], v[i]) for i, key in enumerate(("reproduced", "ci_low", "ci_high")))
                for k, v in partial.items()
            }
            worst = max(differences.values())
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    total = gen.wall_s + claims.wall_s
    per_mpv = gen.cpu_s / page_views * 1e6
    held = sum(1 for r in single.values() if r["holds"])
    from newretail.claims import REPORT_IDS

    data_rows = [r for r in single.values() if r.get("evidence") == "data" and r["id"] in REPORT_IDS]
    data_held = sum(1 for r in data_rows if r["holds"])
    exact_held = sum(1 for r in data_rows if r.get("holds_exact"))
    missed = [
        f"{r['id']} ({r['reproduced']:.4g}, interval {r['ci_low']:.4g} to {r['ci_high']:.4g}, target {r['target']:.4g})"
        for r in single.values()
        if not r["holds"]
    ]
    rows_table = [
        ["generate (local engine)", gen.wall_s, gen.cpu_s, per_mpv, gen.tree_rss_mib, gen.max_rss_mib],
        ["claims, single pass (every claim)", claims.wall_s, claims.cpu_s, "", claims.tree_rss_mib,
         claims.max_rss_mib],
    ]  # fmt: skip
    if partial_run is not None:
        rows_table.append(
            ["claims from partial aggregates, Dask LocalCluster", partial_run.wall_s, partial_run.cpu_s, "",
             partial_run.tree_rss_mib, partial_run.max_rss_mib]
        )  # fmt: skip
    text = table(
        ["step", "wall s", "CPU s", "CPU s per million page views", "peak RSS, tree (MiB)",
         "peak RSS, largest process (MiB)"],
        rows_table,
    )  # fmt: skip
    text += (
        f"\n\n{page_views:,} page views ({rows:,} rows in all tables, scale {scale:.4g}) generated with "
        f"{args.workers} workers and every claim computed in {total / 60:.1f} min of wall time "
        f"(target at 1e9 page views: {BUDGET_S / 60:.0f} min). Generation took {per_mpv:.3f} CPU s per million page "
        f"views (target: at most {GENERATE_CPU_PER_MPV}); the claims {claims.wall_s:.0f} s of wall time and "
        f"{claims.cpu_s:.0f} s of CPU with a peak of {claims.max_rss_mib:,.0f} MiB (targets: {CLAIMS_WALL_S:.0f} s, "
        f"{CLAIMS_RSS_MIB:.0f} MiB). Disk used: {disk / 2**30:.1f} GiB ({disk / page_views:.1f} bytes per page "
        f"view, all tables). {held} of {len(single)} claims hold"
        + (f"; these do not: {'; '.join(missed)}." if missed else ".")
        + f' Of the {len(data_rows)} report figures the data recreate (evidence "data"), {data_held} hold at the '
        f"precision their source states and {exact_held} contain the exact target. Load average before the run: "
        f"{load_before}; after: {_load()}."
    )
    if partial_run is not None:
        text += (
            f" The partial-aggregate claims (everything but the two midnight-peak fits) took "
            f"{partial_run.wall_s / claims.wall_s:.2f}x the single pass's wall time; largest relative difference from "
            f"it: {worst:.1e} ({max(differences, key=differences.__getitem__)})."
        )
    history = append_history(
        {
            "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": commit,
            "page_views": page_views,
            "workers": args.workers,
            "gen_wall_s": f"{gen.wall_s:.1f}",
            "gen_cpu_s": f"{gen.cpu_s:.1f}",
            "gen_cpu_s_per_mpv": f"{per_mpv:.4f}",
            "gen_rss_mib": f"{gen.tree_rss_mib:.0f}",
            "claims_wall_s": f"{claims.wall_s:.1f}",
            "claims_cpu_s": f"{claims.cpu_s:.1f}",
            "claims_rss_mib": f"{claims.max_rss_mib:.0f}",
            "partial_wall_s": f"{partial_run.wall_s:.1f}" if partial_run else "",
            "partial_cpu_s": f"{partial_run.cpu_s:.1f}" if partial_run else "",
            "partial_rss_mib": f"{partial_run.tree_rss_mib:.0f}" if partial_run else "",
            "partial_max_rel_diff": f"{worst:.2e}" if partial_run else "",
            "total_wall_s": f"{total:.1f}",
            "claims_hold": held,
            "claims_total": len(single),
            "disk_gib": f"{disk / 2**30:.2f}",
            "load_before": load_before,
            "load_after": _load(),
            "note": args.note,
        }
    )
    text += f"\n\n## History (`{HISTORY.relative_to(ROOT)}`)\n\n" + _history_table(history)
    write_result(
        "end_to_end",
        title=f"{page_views:.3g} page views end to end",
        text=text,
        data={
            "args": {k: str(v) for k, v in vars(args).items()},
            "commit": commit,
            "scale": scale,
            "page_views": page_views,
            "rows": rows,
            "disk_bytes": disk,
            "generate": gen,
            "generate_cpu_s_per_million_page_views": per_mpv,
            "claims": claims,
            "partial_claims": partial_run,
            "max_relative_difference_partial_vs_single": worst,
            "relative_difference_by_claim": differences,
            "single_pass": list(single.values()),
            "partial": partial,
            "claims_hold": held,
            "claims_total": len(single),
            "total_wall_s": total,
            "load_before": load_before,
        },
    )


if __name__ == "__main__":
    main()
