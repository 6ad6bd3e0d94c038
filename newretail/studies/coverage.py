"""Coverage study: over many seeds at a small scale, how often each data-based report claim's interval contains
the calibrated expected value, against the naive interval that treats every row as independent.

Each seed is one generated day, measured twice (the claim's clustered interval and the iid one) and cached as
``seed-NNNNNN.parquet`` in a cache folder, so an interrupted study resumes where it stopped; seeds run in parallel
processes. :func:`render` turns the per-seed rows into ``docs/coverage.md`` (coverage with Wilson intervals and
the design effect per claim); the rows are saved beside it (``docs/coverage.parquet``) so a test can render them
again and compare, which a hand-typed edit of the table fails.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

__all__ = ["CoverageStudy", "render", "run_seed", "study"]

Z95 = 1.959963984540054
COLUMNS = ("seed", "claim", "truth", "value", "ci_low", "ci_high", "iid_low", "iid_high")


def data_claims() -> tuple[str, ...]:
    """The report's claims measured from data (not the exact store count)."""
    from newretail.claims.registry import CLAIMS

    return tuple(c.id for c in CLAIMS if c.kind == "report" and c.direction != "exact")


def run_seed(seed: int, *, scenario: str, scale: float, cache: str | Path) -> Path:
    """Generate one day at ``scale`` with ``seed``, measure every data-based report claim with its interval and
    with the iid interval, and write the rows to ``cache/seed-NNNNNN.parquet`` (skipped when already there)."""
    from newretail.claims.metrics import Context
    from newretail.claims.registry import REGISTRY
    from newretail.generate import generate
    from newretail.tables import open_dataset

    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed = {seed!r}: must be a whole number >= 0")
    cache = Path(cache)
    target = cache / f"seed-{seed:06d}.parquet"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"coverage-{seed}-"))
    try:
        generate(scenario, scale=scale, seed=seed, out=work / "day", workers=1)
        ds = open_dataset(work / "day")
        sc = ds.scenario
        expected = ds.manifest["calibration"]["expected"]
        targets = {**sc.targets.model_dump(), **sc.press.model_dump()}
        rows = []
        contexts = {
            iid: Context(
                ds=ds,
                targets={k: float(v) for k, v in targets.items()},
                conversion_reading=sc.behaviour.personalization.conversion_reading,
                human_occupancy=sc.behaviour.chatbot.human_occupancy,
                iid=iid,
            )
            for iid in (False, True)
        }
        for claim in data_claims():
            clustered = REGISTRY[claim].compute(contexts[False]).estimate
            naive = REGISTRY[claim].compute(contexts[True]).estimate
            rows.append(
                {
                    "seed": seed,
                    "claim": claim,
                    "truth": float(expected[claim]),
                    "value": clustered.value,
                    "ci_low": clustered.ci_low,
                    "ci_high": clustered.ci_high,
                    "iid_low": naive.ci_low,
                    "iid_high": naive.ci_high,
                }
            )
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        pl.DataFrame(rows).write_parquet(tmp)
        os.replace(tmp, target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_seed_star(args: tuple[int, str, float, str]) -> Path:
    seed, scenario, scale, cache = args
    return run_seed(seed, scenario=scenario, scale=scale, cache=cache)


def study(
    seeds: Sequence[int],
    *,
    scenario: str = "singles_day_2017",
    scale: float = 5e-6,
    cache: str | Path,
    workers: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
) -> pl.DataFrame:
    """Run (or resume) the study over ``seeds`` in ``workers`` processes; return every seed's rows."""
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
        raise ValueError(f"scale = {scale!r}: must be a number in (0, 1]")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers = {workers!r}: must be a whole number >= 1")
    cache = Path(cache)
    todo = [s for s in seeds if not (cache / f"seed-{s:06d}.parquet").is_file()]
    done = len(seeds) - len(todo)
    if on_progress:
        on_progress(done, len(seeds))
    jobs = [(int(s), str(scenario), float(scale), str(cache)) for s in todo]
    if workers == 1:
        for job in jobs:
            _run_seed_star(job)
            done += 1
            if on_progress:
                on_progress(done, len(seeds))
    elif jobs:
        from newretail.generate.pool import ProcessPool  # never re-runs the caller's __main__; dies with us

        with ProcessPool(workers) as pool:
            for fut in as_completed([pool.submit(_run_seed_star, job) for job in jobs]):
                fut.result()
                done += 1
                if on_progress:
                    on_progress(done, len(seeds))
    frames = [pl.read_parquet(cache / f"seed-{s:06d}.parquet") for s in seeds]
    return pl.concat(frames).sort("seed", "claim")


def _wilson(k: int, n: int) -> tuple[float, float]:
    from newretail.methods import proportion_interval

    _, low, high = proportion_interval(k, n, method="wilson", alpha=0.05)
    return float(low), float(high)


@dataclass(frozen=True)
class CoverageStudy:
    """Per claim: coverage of its interval and of the iid one (with Wilson intervals) and the design effects."""

    table: pl.DataFrame


def summarise(rows: pl.DataFrame) -> CoverageStudy:
    """Coverage and design effects per claim from the per-seed rows (``COLUMNS``).

    ``deff_interval`` is the mean of (clustered width / iid width)^2, the variance ratio the intervals imply;
    ``deff_seeds`` is the variance of the estimates across seeds over the mean iid variance (width / 3.92)^2,
    the design effect the data show.
    """
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"rows: missing column '{missing[0]}'")
    out = []
    for claim in dict.fromkeys(rows["claim"].to_list()):
        r = rows.filter(pl.col("claim") == claim)
        t, v = r["truth"].to_numpy(), r["value"].to_numpy()
        lo, hi, ilo, ihi = (r[c].to_numpy() for c in ("ci_low", "ci_high", "iid_low", "iid_high"))
        n = r.height
        k = int(np.sum((lo <= t) & (t <= hi)))
        k_iid = int(np.sum((ilo <= t) & (t <= ihi)))
        w, w_iid = hi - lo, ihi - ilo
        iid_var = float(np.mean((w_iid / (2 * Z95)) ** 2))
        out.append(
            {
                "claim": claim,
                "seeds": n,
                "coverage": k / n,
                "coverage_low": _wilson(k, n)[0],
                "coverage_high": _wilson(k, n)[1],
                "iid_coverage": k_iid / n,
                "iid_coverage_low": _wilson(k_iid, n)[0],
                "iid_coverage_high": _wilson(k_iid, n)[1],
                "deff_interval": float(np.mean((w / w_iid) ** 2)) if np.all(w_iid > 0) else math.nan,
                "deff_seeds": float(np.var(v, ddof=1) / iid_var) if iid_var > 0 else math.nan,
                "width_ratio": float(np.sqrt(np.mean((w / (2 * Z95)) ** 2)) / np.std(v, ddof=1)),
            }
        )
    return CoverageStudy(pl.DataFrame(out))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render(rows: pl.DataFrame, *, command: str, commit: str, date: str, scenario: str, scale: float) -> str:
    """``docs/coverage.md`` from the per-seed rows and the header's command, commit and date."""
    table = summarise(rows).table
    seeds = int(rows["seed"].n_unique())
    lines = [
        "# Coverage of the claims' intervals",
        "",
        "<!-- generated by the command below; do not edit by hand (tests/test_coverage.py renders it again) -->",
        f"Command: `{command}`  ",
        f"Commit: `{commit}`  ",
        f"Date: {date}  ",
        f"Scenario: `{scenario}`, scale {scale:g}, {seeds} seeds (one generated day each).",
        "",
        "Each day is measured twice: with the claim's interval, which accounts for the dependence that touches it "
        "(the clusters named in its definition: `newretail.claims.REGISTRY[id].definition`, docs/claims.md), and with "
        "the naive interval that "
        "treats every row as independent (exact Poisson for counts, Wilson for the chatbot share, two independent "
        "proportions for the CTR ratio, a bootstrap over random groups of single rows otherwise). Coverage is the "
        "share of days whose interval contains the calibrated expected value (the target); the brackets are "
        "Wilson 95% intervals over the seeds. Design effect: the variance of the claim's interval over that of the "
        "iid interval (mean squared width ratio), and the variance of the estimates across seeds over the mean iid "
        "variance (what the data show). Width ratio: the clustered interval's root mean square half-width / 1.96 "
        "over the spread of the estimates across seeds (1 = as wide as it should be).",
        "",
        "| claim | coverage | iid coverage | design effect (intervals) | design effect (seeds) | width ratio |",
        "|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| `{r['claim']}` | {_pct(r['coverage'])} [{_pct(r['coverage_low'])}, {_pct(r['coverage_high'])}] "
        f"| {_pct(r['iid_coverage'])} [{_pct(r['iid_coverage_low'])}, {_pct(r['iid_coverage_high'])}] "
        f"| {r['deff_interval']:.2f} | {r['deff_seeds']:.2f} | {r['width_ratio']:.2f} |"
        for r in table.iter_rows(named=True)
    )
    return "\n".join(lines) + "\n"


def parse_header(text: str) -> dict[str, str]:
    """The command, commit, date, scenario and scale written in a rendered ``coverage.md``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        for key in ("Command", "Commit"):
            if line.startswith(f"{key}: `"):
                out[key.lower()] = line.split("`")[1]
        if line.startswith("Date: "):
            out["date"] = line.removeprefix("Date: ").strip()
        if line.startswith("Scenario: `"):
            out["scenario"] = line.split("`")[1]
            out["scale"] = line.split("scale ")[1].split(",")[0]
    return out
