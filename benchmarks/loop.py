"""The research loop on this machine: how long a researcher and a developer wait for each step.

Every step runs in a fresh process (``common.measure``: wall and CPU seconds, descendants included) with the
1-minute load average read as it ends, so a figure taken on a busy machine says so:

- ``newretail generate`` of a 1e-5 day of the bundled scenario (its calibration read from the entry shipped with the
  package), into a temporary folder, with an empty ``NEWRETAIL_CACHE``;
- ``newretail claims DIR`` and ``newretail claims DIR --json`` on that day: cold (an empty ``NEWRETAIL_CACHE``, the
  first call of a fresh process) and warm (the same call again; the median of ``--warm`` calls);
- ``datasets.load`` of that day, already on disk, in a fresh interpreter (imports included, as in a new kernel),
  with the time of the call alone beside it;
- DiD at 1e5, 1e6 and 1e7 rows against pyfixest and linearmodels, side by side (``benchmarks/did.py``'s
  ``run_sizes``: one thread each, a warm-up fit, the median of the timed fits);
- optionally ``make test`` (``--make-test``) and ``make paper`` on a fresh clone of this commit (``--paper``), which
  take minutes;
- the stages of the last ``.ci/run``, as its timing wrapper wrote them (``--ci-times``, default
  ``paper/build/ci-stages.tsv``): read, not run.

    python benchmarks/loop.py [--make-test] [--paper] [--did-rows 1e5 1e6 1e7] [--did-repeats 3 1 1] [--warm 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from common import PYTHON, ROOT, Run, checked, measure, table, write_result
from did import run_sizes

COMMAND = "python benchmarks/loop.py"
CI_TIMES = ROOT / "paper" / "build" / "ci-stages.tsv"  # where .ci/run writes its stage times
NEWRETAIL = str(Path(PYTHON).with_name("newretail"))
SCALE, SEED = 1e-5, 0
QUIET_2_WORKERS = ["--workers", "2", "--quiet"]
LOAD = """
import json, sys, time
import newretail.generate.audit, newretail.generate.run  # what load imports when called: timed with the process
from newretail import datasets
wall, cpu = time.perf_counter(), time.process_time()
ds = datasets.load("singles_day_2017", scale={scale}, seed={seed}, path=sys.argv[1])
print(json.dumps({{"call_s": time.perf_counter() - wall, "call_cpu_s": time.process_time() - cpu}}))
"""
BEFORE = (
    "Before (issue 26, measured on main c28dc68): `newretail claims` about a minute at any scale (58-64 s of CPU on a "
    "1e-6 day: the break-even frontiers searched again in every process); `datasets.load` of a day on disk 44 s (a "
    "recalibration); `generate` 20-28 s of calibration before the first row; DiD 25-39x pyfixest's time on 1e6 rows; "
    "`make test` 10-11 min on a quiet 2-core machine; `.ci/run` against a 90-minute limit."
)


def _load1() -> float:
    return round(os.getloadavg()[0], 2)


class Loop:
    """The rows of the table: step, goal, wall s, CPU s, load (1 min) at the end, command."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []
        self.data: list[dict[str, Any]] = []

    def add(self, step: str, goal: str, wall: float, cpu: float, load: float, command: str, **extra: Any) -> None:
        self.rows.append([step, goal, wall, cpu, load, f"`{command}`"])
        self.data.append({"step": step, "goal": goal, "wall_s": wall, "cpu_s": cpu, "load1": load,
                          "command": command, **extra})  # fmt: skip
        print(f"{step}: {wall:.2f} s wall, {cpu:.2f} s CPU (load {load})", flush=True)

    def run(self, step: str, goal: str, cmd: list[str], *, env: dict[str, str] | None = None,
            cwd: Path | None = None, shown: str | None = None) -> Run:  # fmt: skip
        run = checked(measure(cmd, env=env, cwd=cwd), step)
        self.add(step, goal, run.wall_s, run.cpu_s, _load1(), shown or " ".join(cmd))
        return run


def _empty_cache(scratch: Path, name: str) -> dict[str, str]:
    folder = scratch / f"cache-{name}"
    folder.mkdir()
    return {"NEWRETAIL_CACHE": str(folder)}


def research(loop: Loop, scratch: Path, warm: int) -> None:
    """generate, claims (cold and warm, table and JSON) and datasets.load on a 1e-5 day."""
    day = scratch / "day"
    loop.run(
        f"`generate` at {SCALE:g} (2 workers, shipped calibration)",
        "calibration read, not solved",
        [NEWRETAIL, "generate", "--scale", f"{SCALE:g}", "--seed", str(SEED), "--out", str(day), *QUIET_2_WORKERS],
        env=_empty_cache(scratch, "generate"),
        shown=f"newretail generate --scale {SCALE:g} --seed {SEED} --out DIR --workers 2 --quiet",
    )
    for flags in ([], ["--json"]):
        what = " ".join(["claims DIR", *flags])
        env = _empty_cache(scratch, "claims" + "".join(flags))
        cmd = [NEWRETAIL, "claims", str(day), *flags]
        loop.run(f"`{what}` cold (fresh process, empty cache)", "<= 5 s", cmd, env=env, shown=f"newretail {what}")
        runs = [checked(measure(cmd, env=env), what) for _ in range(warm)]
        loop.add(
            f"`{what}` warm (median of {warm})",
            "<= 5 s",
            statistics.median(r.wall_s for r in runs),
            statistics.median(r.cpu_s for r in runs),
            _load1(),
            f"newretail {what}",
        )
    run = loop.run(
        "`datasets.load` of the day on disk (fresh interpreter, imports included)",
        "<= 2 s",
        [PYTHON, "-c", LOAD.format(scale=SCALE, seed=SEED), str(day)],
        env=_empty_cache(scratch, "load"),
        shown=f"python -c \"from newretail import datasets; datasets.load('singles_day_2017', scale={SCALE:g}, "
        f'seed={SEED}, path=DIR)"',
    )
    inside = json.loads(run.stdout.strip().splitlines()[-1])
    loop.add(
        "`datasets.load` call alone (its modules imported beforehand)",
        "<= 2 s",
        inside["call_s"],
        inside["call_cpu_s"],
        _load1(),
        "the call inside the process above",
    )


def did(loop: Loop, sizes: list[float], repeats: list[int]) -> str:
    """DiD against pyfixest and linearmodels; rows in the main table and did.py's own table."""
    rows, data = run_sizes(sizes, repeats, ["newretail", "pyfixest", "linearmodels"])
    load = _load1()
    for size in data["sizes"]:
        results = size["results"]
        for who, out in results.items():
            ratio = out["median_wall_s"] / results["pyfixest"]["median_wall_s"]
            loop.add(
                f"DiD fit, {size['rows']:,} rows: {who} ({ratio:.2f}x pyfixest)",
                "newretail <= 1.5x pyfixest",
                out["median_wall_s"],
                out["median_cpu_s"],
                load,
                f"benchmarks/did.py's fit of {who}, one thread, median of {size['repeats']}",
            )
    from did import HEADERS

    return table(HEADERS, rows)


def make(loop: Loop, target: str, scratch: Path, fresh_clone: bool) -> None:
    """``make TARGET`` here, or in a fresh clone of this commit (its own .venv and data)."""
    cwd = ROOT
    if fresh_clone:
        cwd = scratch / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(cwd)], check=True)
    where = "a fresh clone of this commit" if fresh_clone else "the checkout"
    env = {"NEWRETAIL_DATA": str(cwd / "data" / "synthetic")} if fresh_clone else None
    loop.run(f"`make {target}` in {where}", "<= 6 min" if target == "test" else "", ["make", target], cwd=cwd,
             env=env, shown=f"make {target}")  # fmt: skip


def ci_stages(loop: Loop, path: Path) -> str:
    """The stages of the last ``.ci/run`` (its wrapper's file), or a line saying there is none."""
    if not path.is_file():
        return f"No `.ci/run` timings at `{path}`: run `.ci/run` to measure its stages."
    with path.open() as handle:
        stages = list(csv.DictReader(handle, delimiter="\t"))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(path.stat().st_mtime))
    for s in stages:
        status = "" if s["status"] == "0" else f" (exit {s['status']})"
        load = float(s["load1"]) if s["load1"] not in ("", "?") else float("nan")
        loop.add(f"`.ci/run` stage {s['stage']}{status}", "", float(s["wall_s"]), float(s["cpu_s"]), load,
                 s["command"])  # fmt: skip
    total = sum(float(s["wall_s"]) for s in stages)
    return f"The `.ci/run` stages are read from `{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}` \
(written {when}; {len(stages)} stages, {total / 60:.1f} min in all; budget 45 min)."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--make-test", action="store_true", help="also time `make test` (minutes)")
    parser.add_argument("--paper", action="store_true", help="also time `make paper` on a fresh clone (long)")
    parser.add_argument("--did-rows", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--did-repeats", nargs="+", type=int, default=[3, 1, 1])
    parser.add_argument("--warm", type=int, default=3, help="warm claims calls (median)")
    parser.add_argument("--ci-times", type=Path, default=CI_TIMES)
    args = parser.parse_args()
    loop = Loop()
    start_load = list(os.getloadavg())
    scratch = Path(tempfile.mkdtemp(prefix="loop-bench-"))
    try:
        research(loop, scratch, args.warm)
        did_table = did(loop, args.did_rows, args.did_repeats)
        if args.make_test:
            make(loop, "test", scratch, fresh_clone=False)
        if args.paper:
            make(loop, "paper", scratch, fresh_clone=True)
        ci_note = ci_stages(loop, args.ci_times)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = (
        f"Command: `{COMMAND} {' '.join(_args(args))}`.\n\n"
        + table(["step", "goal", "wall s", "CPU s", "load (1 min)", "command"], loop.rows)
        + f"\n\n{ci_note}\n\nLoad average (1, 5, 15 min) at the start: {[round(x, 2) for x in start_load]}. "
        "The machine has 2 cores: at a load of 2 or more a process waits for a core, so its wall time exceeds its "
        "CPU time; the CPU seconds are the steadier figure, and on a quiet machine the wall time of a one-process "
        "step is close to them. `make test` and `make paper` run only with `--make-test` and `--paper`.\n\n"
        f"DiD, side by side in this run (`benchmarks/did.py`'s `run_sizes`):\n\n{did_table}\n\n{BEFORE}"
    )
    write_result("loop", title="The research loop: claims, load, generate, DiD, tests, CI", text=text,
                 data={"steps": loop.data, "load_at_start": start_load})  # fmt: skip


def _args(args: argparse.Namespace) -> list[str]:
    out = []
    if args.make_test:
        out.append("--make-test")
    if args.paper:
        out.append("--paper")
    if args.did_rows != [1e5, 1e6, 1e7]:
        out += ["--did-rows", *(f"{r:g}" for r in args.did_rows)]
    if args.did_repeats != [3, 1, 1]:
        out += ["--did-repeats", *map(str, args.did_repeats)]
    if args.warm != 3:
        out += ["--warm", str(args.warm)]
    if args.ci_times != CI_TIMES:
        out += ["--ci-times", str(args.ci_times)]
    return out


if __name__ == "__main__":
    main()
