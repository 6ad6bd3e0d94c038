"""Peak memory of ``newretail generate`` at two scales ten times apart: bounded by the partition, not the scale.

Each run is a separate ``newretail generate`` process with the default local engine. Reported: the peak resident
memory of the whole process tree (the command and its worker processes, sampled every 50 ms; shared pages are counted
once per process, so this is an upper bound) and the kernel's exact high-water mark of the largest single process.

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
        [f"{r['scale']:g}", r["page_views"], r["partitions"], r["wall_s"], r["tree_rss_mib"], r["max_rss_mib"]]
        for r in (small, large)
    ]
    tree_ratio = large["tree_rss_mib"] / small["tree_rss_mib"]
    single_ratio = large["max_rss_mib"] / small["max_rss_mib"]
    rows.append(["ratio 10x / 1x", large["page_views"] / small["page_views"], "", "", tree_ratio, single_ratio])
    text = table(
        ["scale", "page views", "files", "wall s", "peak RSS, process tree (MiB)", "peak RSS, largest process (MiB)"],
        rows,
    )
    text += (
        f"\n\n`newretail generate --workers {args.workers}`. At ten times the scale the peak memory of the process "
        f"tree is {tree_ratio:.2f}x (target: at most 1.25x) and that of the largest process {single_ratio:.2f}x."
    )
    write_result(
        "memory",
        title="Peak memory at two scales ten times apart",
        text=text,
        data={
            "args": vars(args),
            "small": small,
            "large": large,
            "tree_ratio": tree_ratio,
            "single_ratio": single_ratio,
        },
    )


if __name__ == "__main__":
    main()
