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
import random
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
    sample: int  # mutants checked by default (a random sample: the score is an estimate with an interval)
    # the small test dataset is generated once and kept for every mutant: only where the area's code does not
    # shape the generated rows (a calibration mutant must generate its own day, or the data tests would compare
    # the mutant's expectations with a day drawn from the original's)
    keep_data: bool = True


AREAS = {
    a.name: a
    for a in [
        Area(
            "methods",
            ("newretail/methods/",),
            ("tests/methods", "-m", "not slow", "-p", "no:randomly"),
            "the estimators and intervals (tests/methods: real-data, peer-library and fuzz tests)",
            200,
        ),
        Area(
            "claims",
            ("newretail/claims/",),
            ("tests/test_claims.py", "tests/test_claims_tally.py", "-m", "not notebook", "-p", "no:randomly"),
            "the claims ledger (tests/test_claims.py without the notebook test, tests/test_claims_tally.py)",
            60,
        ),
        Area(
            "calibration",
            ("newretail/generate/calibrate.py",),
            ("tests/test_calibration.py",),
            "the generator's calibration (tests/test_calibration.py)",
            80,
            keep_data=False,
        ),
    ]
}


# survivors read one by one and judged equivalent (no input can tell them from the original) or cosmetic (a plot's
# style, a progress bar's label), with why; the note lists them apart from the survivors still to kill
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
    "newretail.methods.intervals.x_poisson_interval__mutmut_71": "a zero count's lower end is 0 either way: scipy's "
    "chi-square quantile at 0 degrees of freedom is NaN, which the next call turns into 0",
    "newretail.methods.effects.x_aipw_effect__mutmut_49": _DTYPE,
    "newretail.methods.panel.xǁDiDǁfit__mutmut_36": "astype(None) is astype(float64)",
    "newretail.methods.effects.x__fit_predict__mutmut_24": "LightGBM's classifier treats float labels 0.0/1.0 as the "
    "int8 classes 0/1",
    "newretail.methods.learners.xǁ_LightGBMLearnerǁ_settings__mutmut_22": "no bagging or feature subsampling is set, "
    "so LightGBM's seed changes no model (the misspelt key is ignored)",
    "newretail.methods._panel_data.x_twfe_fit__mutmut_6": "1 - D_t spans the same space as D_t once the unit effects "
    "absorb the constant: the coefficient of interest and its variance are unchanged",
    "newretail.methods.synth.x_simplex_least_squares__mutmut_62": "unreachable: the heavily weighted sum row makes "
    "nnls's weights sum to about 1, never 0",
    "newretail.methods.synth.x_simplex_least_squares__mutmut_64": "unreachable: the heavily weighted sum row makes "
    "nnls's weights sum to about 1, never 0",
    "newretail.methods.synth.x_simplex_least_squares__mutmut_110": "changes the active-set path, not its end: each "
    "pass re-solves the KKT system on the support and the loop stops only when the KKT conditions hold (checked "
    "against SLSQP on seeded problems)",
    "newretail.methods.synth.x_simplex_least_squares__mutmut_112": "changes which weight leaves the support first, "
    "not the optimum: the loop stops only when the KKT conditions hold",
    "newretail.methods.synth.x_simplex_least_squares__mutmut_119": "np.clip(w, 0) with no upper bound is "
    "np.clip(w, 0, None)",
    "newretail.methods.synth.xǁSyntheticControlǁfit__mutmut_96": "labels and ratios are built in one loop: the same "
    "length, so zip's strictness never acts",
    "newretail.methods.synth.xǁSyntheticControlǁfit__mutmut_100": "labels and ratios are built in one loop: the same "
    "length, so zip's strictness never acts",
    "newretail.methods.queueing.xǁErlangCǁ_wait__mutmut_1": "every caller already ignores division warnings around "
    "the call (and no input divides a non-zero by zero there)",
    "newretail.methods.effects.xǁEffectǁplot__mutmut_37": "cosmetic: the zero line's width",
    "newretail.methods.panel.xǁDiDSummaryǁplot__mutmut_37": "cosmetic: the truth line's dash style",
    "newretail.methods.panel.xǁEventStudySummaryǁplot__mutmut_108": "cosmetic: the legend's font size",
    "newretail.methods.synth.x__progress__mutmut_8": "cosmetic: the progress bar's label",
    "newretail.methods.learners.x_qini_curve__mutmut_45": "the only division by zero there is 0/0 (no control row "
    "yet, so no control outcome either): numpy calls it 'invalid', which stays ignored; 'divide' never arises",
    "newretail.methods.resampling.x__settled__mutmut_9": "no input makes numpy's 'invalid' there: the log of an "
    "absolute value only meets 0 ('divide'), and non-finite entries are replaced by 0 digits before the cast",
    "newretail.methods.queueing.xǁErlangCǁservice_level__mutmut_20": "no input makes numpy's 'invalid' there: "
    "answer times are finite, the wait probability lies in [0, 1], so the product never meets 0 x inf (checked "
    "with warnings as errors on a grid through saturation)",
    "newretail.methods.resampling.x_bootstrap_interval__mutmut_36": "BCa is scipy.stats.bootstrap's default method",
    "newretail.methods.synth.xǁSyntheticControlǁ_group_placebos__mutmut_64": "the donors left and their weights "
    "come from one fit: the same length, so zip's strictness never acts",
    **{
        f"newretail.methods.synth.xǁSyntheticControlǁfit__mutmut_{i}": "the predictor weights have one entry per "
        "predictor plus the outcome's pre-period mean: the same length as the names, so zip's strictness never acts"
        for i in (213, 217)
    },
    "newretail.claims.partials.x_partition_totals__mutmut_26": "the paths and their fractions come from one list of "
    "partitions: the same length, so zip's strictness never acts",
    "newretail.claims.table.x__consistency__mutmut_178": "format_value reads its unit only to print shares: "
    "'RMB' and 'rmb' print alike",
    "newretail.claims.table.x__consistency__mutmut_268": "cosmetic: the wording of an explanation (its numbers are "
    "tested)",
    **{
        f"newretail.claims.ledger.x_implied__mutmut_{i}": (
            "cosmetic: the unit label of one implied assumption, printed beside it and never computed with"
        )
        for i in (20, 96, 186)
    },
    "newretail.claims.metrics.x_mobile_gmv_share__mutmut_4": "the cache only spares a second pass over the orders "
    "table: the same tallies either way",
    "newretail.generate.calibrate.x__calibrate_banners__mutmut_59": "the draft's AI effect is a placeholder: the "
    "human CTR is computed with no AI creative shown (the effect multiplies zero), the AI CTR and the final "
    "parameters replace it, and the impression grid does not read it",
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


def _env(area: Area) -> dict[str, str]:
    # mutmut forks each mutant's run from a process that has already run the tests: a thread pool alive at the fork
    # (OpenMP under lightgbm, polars, BLAS) deadlocks the child, which would then count as a "timeout" (killed).
    # One thread each keeps the forks safe; the children run side by side instead.
    single = {v: "1" for v in ("OMP_NUM_THREADS", "POLARS_MAX_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env = {**os.environ, **single, "OMP_WAIT_POLICY": "PASSIVE", "HYPOTHESIS_PROFILE": "mutation"}
    env.pop("NEWRETAIL_TEST_DATA", None)
    if area.keep_data:
        env["NEWRETAIL_TEST_DATA"] = str(WORK / "test-data")
    return env


def _verdicts(dest: Path) -> dict[str, int | None]:
    """Every mutant of the area's copy with mutmut's exit code (None: not checked yet), read from its meta files."""
    out: dict[str, int | None] = {}
    for meta in sorted((dest / "mutants").rglob("*.meta")):
        out.update(json.loads(meta.read_text())["exit_code_by_key"])
    return out


def _widen_to_files(dest: Path) -> None:
    """Check each mutant with every test of the files that reach its function, not only the tests mutmut saw call it.

    mutmut maps a function to the tests that ran while it was called. A module- or session-scoped fixture (the
    claims table evaluated once per file, a real-data fit shared by several tests) calls it during the first test
    that asks for the fixture only, so the later tests that read the fixture's result would never be run against
    the function's mutants, and a mutant they would kill counts as a survivor. Widening to whole files also covers
    them; ``-x`` stops a mutant's run at its first failing test, so a killed mutant stays quick."""
    stats = dest / "mutants" / "mutmut-stats.json"
    if not stats.is_file():
        return
    data = json.loads(stats.read_text())
    by_file: dict[str, set[str]] = {}
    for test in data["duration_by_test"]:
        by_file.setdefault(test.split("::")[0], set()).add(test)
    mapping = data["tests_by_mangled_function_name"]
    for function, tests in mapping.items():
        files = {t.split("::")[0] for t in tests}
        mapping[function] = sorted(set(tests).union(*(by_file.get(f, set()) for f in files)))
    stats.write_text(json.dumps(data))


def _sample(dest: Path, names: list[str], size: int | None, seed: int) -> list[str]:
    """The mutants to check: all of them, or ``size`` drawn at random with ``seed`` on the first run and kept in
    ``sample.json``, so a resumed or repeated run (after tests were added) checks the same mutants. Mutants that a
    later change of the code removed drop out of the kept sample."""
    if size is None or size >= len(names):
        return names
    kept = dest / f"sample-{size}-{seed}.json"
    if not kept.is_file():
        kept.write_text(json.dumps(sorted(random.Random(seed).sample(names, size)), indent=0))
    present = set(names)
    return [n for n in json.loads(kept.read_text()) if n in present]


def _status(code: int | None) -> str:
    from mutmut.stats import status_by_exit_code

    return str(status_by_exit_code[code])


def run_area(
    area: Area, *, children: int, sample: int | None, seed: int, run: bool = True, recheck: bool = False
) -> dict[str, object]:
    """Check ``sample`` mutants of the area drawn at random with ``seed`` (all of them when None), resuming;
    ``recheck`` checks the chosen survivors again (after tests were added to kill them)."""
    dest = WORK / area.name
    dest.mkdir(parents=True, exist_ok=True)
    if run:  # a report-only area reads its verdicts; copying into it could touch a run still going there
        _copy_tree(dest)
        _configure(dest, area)
    env, mutmut = _env(area), str(Path(sys.executable).with_name("mutmut"))
    start = time.monotonic()
    if run:
        # generate the mutants and map tests to functions (one run of the selection, then only for tests added
        # since), checking none: a name that matches no mutant stops mutmut right after those two steps
        proc = subprocess.run([mutmut, "run", "none-such-mutant"], cwd=dest, env=env, capture_output=True, text=True)
        if not _verdicts(dest):
            sys.exit(f"mutmut could not generate the {area.name} mutants:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        _widen_to_files(dest)
    verdicts = _verdicts(dest)
    names = sorted(verdicts)
    chosen = _sample(dest, names, sample, seed)
    again = {0, 5, 33, 35} if recheck else set()  # survived, no tests, suspicious
    todo = [n for n in chosen if verdicts[n] is None or verdicts[n] in again]
    if run and todo:
        print(f"{area.name}: checking {len(todo)} of {len(chosen)} chosen mutants ({len(names)} in all)", flush=True)
        subprocess.run([mutmut, "run", "--max-children", str(children), *todo], cwd=dest, env=env, check=False)
    seconds = time.monotonic() - start if run else float("nan")
    verdicts = _verdicts(dest)
    statuses = {n: _status(verdicts[n]) for n in chosen}
    return {"area": area, "total": len(names), "statuses": statuses, "seconds": seconds, "sample": sample}


def _wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def _minutes(seconds: float) -> str:
    return "(not timed)" if seconds != seconds else f"{seconds / 60:.1f} min"


KILLED = ("killed", "timeout", "segfault", "caught by type check")


def write_report(results: list[dict[str, object]]) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    lines = [
        "# Mutation testing",
        "",
        f"Generated by `make mutation` (`python benchmarks/mutation.py`) at commit {commit.strip()} on "
        f"{time.strftime('%Y-%m-%d')}, mutmut 3.",
        "",
        "A mutant is *killed* when a test fails (or times out) with it. Each area checks a random sample of its",
        "mutants (fixed seed; `--all` checks every one): the score is killed / (checked - equivalent), with a 95%",
        "Wilson interval for the score of all the area's mutants. Mutants no test reaches count as survivors; those",
        "judged equivalent or cosmetic (listed below with why) are left out.",
        "",
        "| area | what | mutants | checked | killed | survived | no tests | equivalent | score | 95% interval | time |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        area, statuses = r["area"], r["statuses"]
        assert isinstance(area, Area) and isinstance(statuses, dict)
        checked = {n: s for n, s in statuses.items() if s != "not checked"}
        killed = sum(s in KILLED for s in checked.values())
        survived = [n for n, s in checked.items() if s in ("survived", "suspicious")]
        untested = [n for n, s in checked.items() if s == "no tests"]
        equivalent = [n for n in survived if n in EQUIVALENT]
        judged = len(checked) - len(equivalent)  # the score leaves out mutants no test could kill
        lo, hi = _wilson(killed, judged)
        score = f"{killed / judged:.0%}" if judged else "-"
        lines.append(
            f"| {area.name} | {area.note} | {r['total']} | {len(checked)} | {killed} | {len(survived)} | "
            f"{len(untested)} | {len(equivalent)} | {score} | {lo:.0%} to {hi:.0%} | "
            f"{_minutes(float(r['seconds']))} |"  # type: ignore[arg-type]
        )
    for r in results:
        area, statuses = r["area"], r["statuses"]
        assert isinstance(area, Area) and isinstance(statuses, dict)
        unchecked = sum(s == "not checked" for s in statuses.values())
        if unchecked:
            lines += ["", f"**{area.name}: partial.** {unchecked} of the {len(statuses)} chosen mutants are not "
                      "checked yet; `make mutation` resumes where it stopped (mutmut keeps each verdict in "
                      "`.mutation/<area>`)."]  # fmt: skip
    for r in results:
        area, statuses = r["area"], r["statuses"]
        assert isinstance(area, Area) and isinstance(statuses, dict)
        survivors = [n for n, s in statuses.items() if s in ("survived", "suspicious", "no tests")]
        equivalent = [s for s in survivors if s in EQUIVALENT]
        open_ = [f"{s} ({statuses[s]})" if statuses[s] != "survived" else s for s in survivors if s not in EQUIVALENT]
        title = (
            f"## Surviving mutants: {area.name} ({len(open_)} to kill, {len(equivalent)} judged equivalent or cosmetic)"
        )
        lines += ["", title, ""]
        lines += [f"- `{s}`" for s in open_] or ["none to kill"]
        if equivalent:
            how = "`mutmut show <name>` in `.mutation/<area>` prints the change"
            lines += ["", f"Judged equivalent or cosmetic ({how}):", ""]
            lines += [f"- `{s}`: {EQUIVALENT[s]}" for s in equivalent]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--area", action="append", choices=sorted(AREAS), help="default: all three")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--sample", type=int, help="mutants to check per area (default: each area's own)")
    parser.add_argument("--all", action="store_true", help="check every mutant (hours for claims)")
    parser.add_argument("--seed", type=int, default=17, help="seed of the sample")
    parser.add_argument("--recheck", action="store_true", help="check the chosen survivors again")
    parser.add_argument(
        "--report-only", action="store_true", help="write the note from the mutants checked so far, run nothing"
    )
    args = parser.parse_args()
    names = args.area or list(AREAS)
    results = []
    for name, area in AREAS.items():
        # an area not asked for this time still reports what an earlier run checked
        if name not in names and not (WORK / name / "mutants").is_dir():
            continue
        sample = None if args.all else (args.sample or area.sample)
        run = name in names and not args.report_only
        results.append(
            run_area(area, children=args.children, sample=sample, seed=args.seed, run=run, recheck=args.recheck)
        )
    write_report(results)
    print(OUT.read_text())


if __name__ == "__main__":
    main()
