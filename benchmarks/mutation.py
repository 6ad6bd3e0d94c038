"""Mutation testing of the three areas whose numbers everything else trusts: the methods, the claims and the
generator's calibration. Writes ``benchmarks/results/mutation.md``.

Each area runs mutmut 3 in its own copy of the tracked files (mutmut reads one ``[tool.mutmut]`` per project), with
the fast test selection that exercises it, so one mutant takes seconds rather than the whole suite's minutes.
mutmut remembers finished mutants in the copy (``.mutation/<area>/mutants``): a rerun resumes. Usage::

    python benchmarks/mutation.py [--area methods|claims|calibration ...] [--children 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
OUT = ROOT / "benchmarks/results/mutation.md"


@dataclass(frozen=True)
class Area:
    name: str
    paths: tuple[str, ...]
    tests: tuple[str, ...]  # pytest arguments selecting the tests that exercise the area
    note: str


AREAS = {
    a.name: a
    for a in [
        Area(
            "methods",
            ("newretail/methods/",),
            ("tests/methods", "-m", "not slow", "-p", "no:randomly"),
            "the estimators and intervals (tests/methods: real-data, peer-library and fuzz tests)",
        ),
        Area(
            "claims",
            ("newretail/claims/",),
            ("tests/test_claims.py", "-m", "not notebook"),
            "the claims ledger (tests/test_claims.py without the notebook test)",
        ),
        Area(
            "calibration",
            ("newretail/generate/calibrate.py",),
            ("tests/test_calibration.py",),
            "the generator's calibration (tests/test_calibration.py)",
        ),
    ]
}


# survivors read one by one and judged equivalent (no input can tell them from the original), with why; the note lists
# them apart from the survivors still to kill
_DTYPE = "drops a float dtype on an array that numpy promotes to float in the next operation anyway"
EQUIVALENT = {
    "newretail.methods.learners.x_area_over_random__mutmut_3": _DTYPE,
    "newretail.methods.learners.x_area_over_random__mutmut_5": _DTYPE,
    "newretail.methods.learners.x_area_over_random__mutmut_7": _DTYPE,
    "newretail.methods.learners.x_area_over_random__mutmut_9": _DTYPE,
    "newretail.methods.intervals.x_poisson_interval__mutmut_22": _DTYPE + " (the exposure divides the count)",
    "newretail.methods.intervals.x_poisson_interval__mutmut_24": _DTYPE + " (the exposure divides the count)",
    "newretail.methods.intervals.x_poisson_interval__mutmut_83": "drops nan=0.0 from nan_to_num (its default)",
    "newretail.methods.intervals.x_poisson_interval__mutmut_85": "statsmodels already returns float64 bounds",
    "newretail.methods.intervals.x_poisson_interval__mutmut_87": "statsmodels already returns float64 bounds",
    "newretail.methods.learners.x_gain_curve__mutmut_8": _DTYPE + " (a cumulative sum divided by n)",
    "newretail.methods.learners.x_gain_curve__mutmut_10": _DTYPE + " (a cumulative sum divided by n)",
    "newretail.methods.learners.x_qini_curve__mutmut_13": _DTYPE + " (y is multiplied by a float treatment)",
    "newretail.methods.learners.x_qini_curve__mutmut_15": _DTYPE + " (y is multiplied by a float treatment)",
    "newretail.methods.learners.x_gain_curve__mutmut_18": "numpy reads argsort's kind case-insensitively",
    "newretail.methods.learners.x_qini_curve__mutmut_23": "numpy reads argsort's kind case-insensitively",
    "newretail.methods.queueing.xǁErlangCǁasa_s__mutmut_21": "at agents == load both forms give C = 1 over a zero "
    "gap: an infinite wait",
    **{
        f"newretail.methods.learners.x_qini_curve__mutmut_{i}": "changes only the curve's first point, where no "
        "control row is counted yet and the guard answers 0 whatever the counts"
        for i in (27, 30, 36, 40)
    },
}


def _copy_tree(dest: Path) -> None:
    """The tracked files (plus untracked, not ignored ones) into ``dest``, keeping mutmut's cache if any."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for rel in files:
        src = ROOT / rel
        if not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != src.read_bytes():
            shutil.copy2(src, target)


def _configure(dest: Path, area: Area) -> None:
    lines = [
        "",
        "[tool.mutmut]",
        f"source_paths = {json.dumps(list(area.paths))}",
        'also_copy = ["tests/", "newretail/"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(list(area.tests))}",
        'pytest_add_cli_args = ["-q", "-x", "-p", "no:cacheprovider", "--timeout=300"]',
        "timeout_multiplier = 12.0",
        # workers fork from a server that never ran the tests: forking mutmut's own process, which has, deadlocks
        # some children (plots) that then count as timeouts
        'process_isolation = "forkserver"',
    ]
    pyproject = dest / "pyproject.toml"
    text = pyproject.read_text()
    if "[tool.mutmut]" not in text:
        pyproject.write_text(text + "\n".join(lines) + "\n")


def run_area(area: Area, *, children: int, run: bool = True) -> dict[str, object]:
    dest = WORK / area.name
    dest.mkdir(parents=True, exist_ok=True)
    _copy_tree(dest)
    _configure(dest, area)
    # mutmut forks each mutant's run from a process that has already run the tests: a thread pool alive at the fork
    # (OpenMP under lightgbm, polars, BLAS) deadlocks the child, which would then count as a "timeout" (killed).
    # One thread each keeps the forks safe; the children run side by side instead.
    single = {v: "1" for v in ("OMP_NUM_THREADS", "POLARS_MAX_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env = {**os.environ, **single, "OMP_WAIT_POLICY": "PASSIVE", "HYPOTHESIS_PROFILE": "mutation"}
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    start = time.monotonic()
    if run:
        subprocess.run([mutmut, "run", "--max-children", str(children)], cwd=dest, env=env, check=False)
    seconds = time.monotonic() - start if run else float("nan")
    subprocess.run([mutmut, "export-cicd-stats"], cwd=dest, env=env, check=True, capture_output=True)
    stats = json.loads((dest / "mutants/mutmut-cicd-stats.json").read_text())
    listing = subprocess.run(
        [mutmut, "results", "--all", "false"], cwd=dest, env=env, capture_output=True, text=True, check=False
    ).stdout
    survivors = [line.split(":")[0].strip() for line in listing.splitlines() if "survived" in line]
    return {"area": area, "stats": stats, "survivors": survivors, "seconds": seconds}


def _score(stats: dict[str, int]) -> tuple[int, int]:
    killed = stats.get("killed", 0) + stats.get("timeout", 0) + stats.get("segfault", 0)
    judged = killed + stats.get("survived", 0) + stats.get("suspicious", 0)
    return killed, judged


def _minutes(seconds: float) -> str:
    return "(not timed)" if seconds != seconds else f"{seconds / 60:.1f} min"


def write_report(results: list[dict[str, object]]) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    lines = [
        "# Mutation testing",
        "",
        f"Generated by `make mutation` (`python benchmarks/mutation.py`) at commit {commit.strip()} on "
        f"{time.strftime('%Y-%m-%d')}, mutmut 3. A mutant is *killed* when a test fails (or times out) with it;",
        "the score is killed / (killed + survived). Untested mutants (no test reaches the code) count as survived.",
        "",
        "| area | what | mutants | checked | killed | survived | no tests | score | time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        area, stats = r["area"], r["stats"]
        assert isinstance(area, Area) and isinstance(stats, dict)
        killed, judged = _score(stats)
        untested = stats.get("no_tests", 0)
        checked = judged + untested
        score = killed / checked if checked else float("nan")
        # a run stopped before the end (mutmut resumes it) leaves mutants unchecked: the score is over those checked
        total = max(stats.get("total", checked), checked)
        lines.append(
            f"| {area.name} | {area.note} | {total} | {checked} | {killed} | {stats.get('survived', 0)} | "
            f"{untested} | {score:.0%} | {_minutes(float(r['seconds']))} |"  # type: ignore[arg-type]
        )
    for r in results:
        stats = r["stats"]
        assert isinstance(stats, dict)
        killed, judged = _score(stats)
        checked, total = judged + stats.get("no_tests", 0), stats.get("total", 0)
        if total > checked:
            lines += [
                "",
                f"**{r['area'].name}: partial.** {checked} of {total} mutants checked when the run stopped; "  # type: ignore[attr-defined]
                "`make mutation` resumes where it stopped (mutmut keeps each verdict in `.mutation/<area>`).",
            ]
    for r in results:
        survivors = r["survivors"]
        assert isinstance(survivors, list)
        area = r["area"]
        assert isinstance(area, Area)
        equivalent = [s for s in survivors if s in EQUIVALENT]
        open_ = [s for s in survivors if s not in EQUIVALENT]
        title = f"## Surviving mutants: {area.name} ({len(open_)} to kill, {len(equivalent)} judged equivalent)"
        lines += ["", title, ""]
        lines += [f"- `{s}`" for s in open_] or ["none to kill"]
        if equivalent:
            lines += ["", "Judged equivalent (`mutmut show <name>` prints the change):", ""]
            lines += [f"- `{s}`: {EQUIVALENT[s]}" for s in equivalent]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--area", action="append", choices=sorted(AREAS), help="default: all three")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--report-only", action="store_true", help="write the note from the mutants checked so far, run nothing"
    )
    args = parser.parse_args()
    names = args.area or list(AREAS)
    results = [run_area(AREAS[name], children=args.children, run=not args.report_only) for name in names]
    write_report(results)
    print(OUT.read_text())


if __name__ == "__main__":
    main()
