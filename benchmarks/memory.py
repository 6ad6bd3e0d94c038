"""Peak memory of ``newretail generate`` and ``newretail claims`` at two scales ten times apart: bounded by the
partition and the random-group tallies, not the scale.

Each run is a separate ``newretail generate`` process with the default local engine, then a ``newretail claims``
process on what it wrote. Reported: the peak resident memory of the whole process tree (the command and its worker
processes, sampled every 50 ms; shared pages are counted once per process, so this is an upper bound) and the
kernel's exact high-water mark of the largest single process.

    python benchmarks/memory.py [--scale 2e-4] [--workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import PYTHON, checked, dir_bytes, measure, table, write_result


def _generate(out: Path, scale: float, workers: int) -> dict[str, float]:
    cli = Path(PYTHON).with_name("newretail")
    cmd = [str(cli), "generate", "--scale", f"{scale:g}", "--seed", "1", "--out", str(out)]
    run = checked(measure([*cmd, "--workers", str(workers), "--quiet"], env={"OMP_WAIT_POLICY": "PASSIVE"}), "generate")
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    claims = checked(measure([str(cli), "claims", str(out), "--json"], env={"OMP_WAIT_POLICY": "PASSIVE"}), "claims")
    result = {
        "scale": scale,
        "page_views": manifest["tables"]["page_views"]["rows"],
        "rows": sum(t["rows"] for t in manifest["tables"].values()),
        "partitions": sum(len(t["files"]) for t in manifest["tables"].values()),
        "disk_bytes": dir_bytes(out),
        "wall_s": run.wall_s,
        "cpu_s": run.cpu_s,
        "tree_rss_mib": run.tree_rss_mib,
        "max_rss_mib": run.max_rss_mib,
        "claims_wall_s": claims.wall_s,
        "claims_cpu_s": claims.cpu_s,
        "claims_rss_mib": claims.max_rss_mib,
    }
    shutil.rmtree(out, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=2e-4, help="the smaller scale; the other is ten times it")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newretail-bench-"))
    try:
        small = _generate(work / "small", args.scale, args.workers)
        large = _generate(work / "large", args.scale * 10, args.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        [f"{r['scale']:g}", r["page_views"], r["partitions"], r["wall_s"], r["tree_rss_mib"], r["max_rss_mib"],
         r["claims_cpu_s"], r["claims_rss_mib"]]
        for r in (small, large)
    ]  # fmt: skip
    tree_ratio = large["tree_rss_mib"] / small["tree_rss_mib"]
    single_ratio = large["max_rss_mib"] / small["max_rss_mib"]
    claims_ratio = large["claims_rss_mib"] / small["claims_rss_mib"]
    rows.append(
        ["ratio 10x / 1x", large["page_views"] / small["page_views"], "", "", tree_ratio, single_ratio,
         large["claims_cpu_s"] / small["claims_cpu_s"], claims_ratio]
    )  # fmt: skip
    text = table(
        ["scale", "page views", "files", "generate wall s", "generate peak RSS, process tree (MiB)",
         "generate peak RSS, largest process (MiB)", "claims CPU s", "claims peak RSS (MiB)"],
        rows,
    )  # fmt: skip
    text += (
        f"\n\n`newretail generate --workers {args.workers}`, then `newretail claims`. At ten times the scale the "
        f"peak memory of the generating process tree is {tree_ratio:.2f}x (target: at most 1.25x), that of its "
        f"largest process {single_ratio:.2f}x, and that of the claims {claims_ratio:.2f}x (target: at most 1.25x)."
    )
    write_result(
        "memory",
        title="Peak memory of generating and of every claim at two scales ten times apart",
        text=text,
        data={
            "args": vars(args),
            "small": small,
            "large": large,
            "tree_ratio": tree_ratio,
            "single_ratio": single_ratio,
            "claims_ratio": claims_ratio,
        },
    )


if __name__ == "__main__":
    main()
