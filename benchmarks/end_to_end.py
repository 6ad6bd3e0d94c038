"""A billion page views end to end on this machine: generate, then every claim; wall time, memory, disk.

Steps, each a separate measured process:

1. ``newretail generate`` at the scale whose expected page views are ``--page-views`` (default 1e9), local engine;
2. ``newretail claims --json``: every report and press claim, the single-pass streaming path;
3. the same claims from per-partition partial aggregates on a 2-worker Dask LocalCluster
   (``newretail.claims.partials``), and the largest relative difference from step 2.

The dataset is deleted afterwards (``--keep`` to keep it).

    python benchmarks/end_to_end.py [--page-views 1e9] [--workers 2] [--out DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
from pathlib import Path

from common import PYTHON, ROOT, checked, dir_bytes, measure, table, write_result

BUDGET_S = 15 * 60  # the target: generated and every claim computed in under 15 minutes
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page-views", type=float, default=1e9)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="dataset folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the dataset")
    parser.add_argument("--no-dask", action="store_true", help="skip the partial-aggregate claims on Dask")
    args = parser.parse_args()
    scale = scale_for(args.page_views)
    work = Path(tempfile.mkdtemp(prefix="newretail-e2e-", dir=args.out.parent if args.out else None))
    out = args.out or work / "ds"
    cli = str(Path(PYTHON).with_name("newretail"))
    env = {"OMP_WAIT_POLICY": "PASSIVE"}
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
        partial_run = None
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
        ["generate (local engine)", gen.wall_s, gen.cpu_s, gen.tree_rss_mib, gen.max_rss_mib],
        ["claims, single pass (every claim)", claims.wall_s, claims.cpu_s, claims.tree_rss_mib, claims.max_rss_mib],
    ]
    if partial_run is not None:
        rows_table.append(
            ["claims from partial aggregates, Dask LocalCluster", partial_run.wall_s, partial_run.cpu_s,
             partial_run.tree_rss_mib, partial_run.max_rss_mib]
        )  # fmt: skip
    text = table(["step", "wall s", "CPU s", "peak RSS, tree (MiB)", "peak RSS, largest process (MiB)"], rows_table)
    text += (
        f"\n\n{page_views:,} page views ({rows:,} rows in all tables, scale {scale:.4g}) generated with "
        f"{args.workers} workers and every claim computed in {total / 60:.1f} min of wall time: "
        f"{total / BUDGET_S:.2f}x the 15-minute budget. Disk used: {disk / 2**30:.1f} GiB "
        f"({disk / page_views:.1f} bytes per page view, all tables). Generation ran at "
        f"{page_views / gen.wall_s / 1e6:.2f} million page views per wall-second and "
        f"{page_views / gen.cpu_s / 1e6:.2f} million per CPU-second. {held} of {len(single)} claims hold"
        + (f"; these do not: {'; '.join(missed)}." if missed else ".")
        + f' Of the {len(data_rows)} report figures the data recreate (evidence "data"), {data_held} hold at the '
        f"precision their source states and {exact_held} contain the exact target."
    )
    if partial_run is not None:
        text += (
            f" The partial-aggregate claims (everything but the two midnight-peak fits) took "
            f"{partial_run.wall_s / claims.wall_s:.2f}x the single pass's wall time; largest relative difference from "
            f"it: {worst:.1e} ({max(differences, key=differences.__getitem__)})."
        )
    write_result(
        "end_to_end",
        title="A billion page views end to end",
        text=text,
        data={
            "args": {k: str(v) for k, v in vars(args).items()},
            "scale": scale,
            "page_views": page_views,
            "rows": rows,
            "disk_bytes": disk,
            "generate": gen,
            "claims": claims,
            "partial_claims": partial_run,
            "max_relative_difference_partial_vs_single": worst,
            "relative_difference_by_claim": differences,
            "single_pass": list(single.values()),
            "partial": partial,
            "claims_hold": held,
            "claims_total": len(single),
            "total_wall_s": total,
        },
    )


if __name__ == "__main__":
    main()
