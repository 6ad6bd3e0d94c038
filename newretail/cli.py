"""The ``newretail`` command line: generate, verify, claims, stress, scenario show, doctor (and coverage).

Every error is one line on stderr, ``newretail: error: ...``, and a documented exit status (README, "Exit
status"): 0 done, 1 damaged data or a run that failed on the way (or a failed check), 2 bad input (an option, a
scenario, a folder, a missing extra), 130 interrupted (Ctrl-C). ``newretail --debug VERB ...`` shows the traceback
instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

EXIT_OK = 0
EXIT_FAILED = 1  # damaged data, a run that stopped on the way, a failed check
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
_DEBUG = {"on": False}


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _exit_code(exc: BaseException) -> int | None:
    """The exit status of a known error (None: not one the package raises on purpose)."""
    code = getattr(exc, "exit_code", None)  # GenerateError, RunFailed, MissingExtraError
    if isinstance(code, int) and not isinstance(exc, typer.Exit):
        return code
    from newretail.tables import DatasetError, ManifestError

    if isinstance(exc, (DatasetError, ManifestError)):
        return EXIT_FAILED
    if isinstance(exc, (FileExistsError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return EXIT_BAD_INPUT  # a path given on the command line that cannot be used
    if isinstance(exc, OSError):
        return EXIT_FAILED
    if isinstance(exc, ValueError):  # ScenarioError, GridError, CalibrationError's kin: validated input
        return EXIT_BAD_INPUT
    from newretail.stress.engine import StressError

    if isinstance(exc, StressError):
        return EXIT_BAD_INPUT
    return None


class OneLineErrors(TyperGroup):
    """The command group: any error a command raises becomes one line and its exit status (see the module)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.TyperException):
            raise
        except (KeyboardInterrupt, typer.Abort):
            if _DEBUG["on"]:
                raise
            typer.echo("newretail: interrupted (a generate or stress run resumes where it stopped)", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:  # the reader of our output went away (| head): nothing to say
            sys.stderr.close()
            raise typer.Exit(EXIT_FAILED) from None
        except Exception as exc:
            if _DEBUG["on"]:
                raise
            code = _exit_code(exc)
            if code is None:
                typer.echo(
                    f"newretail: internal error: {type(exc).__name__}: {_one_line(exc)} (run with --debug for the "
                    "traceback and report it)",
                    err=True,
                )
                raise typer.Exit(EXIT_FAILED) from None
            typer.echo(f"newretail: error: {_one_line(exc)}", err=True)
            raise typer.Exit(code) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; a usage error (unknown option, a value of the wrong type) is one line too."""
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # no verb given: the help, as typer shows it
                typer.echo(exc.format_message())
            else:  # an unknown option, a value of the wrong type: one line
                typer.echo(f"newretail: error: {_one_line(exc.format_message())} (see --help)", err=True)
            code = exc.exit_code
        except typer.Abort:
            typer.echo("newretail: interrupted", err=True)
            code = EXIT_INTERRUPTED
        code = code if isinstance(code, int) else EXIT_OK
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    name="newretail",
    cls=OneLineErrors,
    help="Recreate and stress-test the AI figures of Alibaba's 2017 Singles' Day on synthetic data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
scenario_app = typer.Typer(help="Show the shipped scenarios.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")


def _show_version(value: bool) -> None:
    if value:
        from newretail import __version__

        typer.echo(f"newretail {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error instead of one line.")] = False,
) -> None:
    """Recreate and stress-test the AI figures of Alibaba's 2017 Singles' Day on synthetic data."""
    _DEBUG["on"] = debug


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one clear line to stderr and exit (2 for bad input, 1 for damaged data or a failed check)."""
    typer.echo(f"newretail: error: {_one_line(message)}", err=True)
    raise typer.Exit(code)


@contextmanager
def progress_bar(action: str, label: str, unit: str, *, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr ("<action> <label> ... done/total <unit>"), hidden when ``quiet`` or when
    stderr is not a terminal; yields the ``(done, total)`` callback that long-running functions take."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(f"{action} {{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        disable=quiet or not sys.stderr.isatty(),
    ) as bar:
        job = bar.add_task(label, total=None)

        def tick(done: int, total: int) -> None:
            bar.update(job, completed=done, total=total)

        yield tick


@app.command()
def generate(
    scenario: Annotated[
        str, typer.Option(help="Shipped scenario name or path to a scenario TOML.")
    ] = "singles_day_2017",
    scale: Annotated[float, typer.Option(help="Share of the full event to generate, in (0, 1].")] = 1e-4,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Dataset folder [default: <data folder>/<scenario>-<scale>-s<seed>].")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [default: the machine's cores].")] = None,
    engine: Annotated[str, typer.Option(help="'local' processes or a 'dask' cluster.")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address (engine dask).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace another dataset found in --out.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Generate a synthetic sales day as partitioned parquet with a manifest.

    Writes only into an empty folder or one holding a dataset of newretail's (resumed when it is the same, replaced
    with --overwrite); every option is checked before the scenario is calibrated."""
    from newretail.generate import generate as run
    from newretail.scenario import load_scenario

    if out is None:  # the folder datasets.load uses for the same scenario, scale and seed (see newretail doctor)
        from newretail.datasets import dataset_path

        out = dataset_path(scenario, scale=scale, seed=seed)
    sc = load_scenario(scenario)
    with progress_bar("generating", str(out), "partitions", quiet=quiet) as tick:
        manifest = run(
            sc,
            scale=scale,
            seed=seed,
            out=out,
            workers=workers,
            engine=engine,
            scheduler=scheduler,
            overwrite=overwrite,
            on_progress=tick,
        )
    typer.echo(f"wrote {manifest}")


@app.command()
def verify(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder.")],
) -> None:
    """Re-hash every file, check every table's schema, and check the manifest against what the generator makes of
    its scenario, scale and seed (fractions, files, calibration); name the first problem."""
    from newretail.generate.audit import audit
    from newretail.tables import open_dataset
    from newretail.tables import verify as check

    if not dataset.is_dir():
        fail(f"{dataset}: no such dataset folder")
    report = check(dataset, reuse=False)  # every file read, whatever its verification stamp says
    if not report.ok:
        fail(f"{dataset}: {report.problem}", code=EXIT_FAILED)
    problem = audit(open_dataset(dataset, check=False))  # the files were just re-hashed
    if problem:
        fail(f"{dataset}: {problem}", code=EXIT_FAILED)
    typer.echo(f"{dataset}: ok ({report.files_checked} files, {report.rows_checked:,} rows)")


@app.command()
def claims(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    claim: Annotated[
        list[str] | None, typer.Option("--claim", "-c", help="Only this claim id (repeat for more).")
    ] = None,
    frontiers: Annotated[
        bool,
        typer.Option(
            "--frontiers/--no-frontiers",
            help="Add each claim's break-even frontiers (read from the cache; a new scenario's are computed once, "
            "about a minute, with a progress bar).",
        ),
    ] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Recompute every figure of the report (and the press figures) with a 95% interval, judged against the
    targets of the scenario the dataset was generated from."""
    from newretail.claims import evaluate, ledger
    from newretail.fmt import format_interval, format_value
    from newretail.generate.audit import open_audited

    if not dataset.is_dir():
        fail(f"{dataset}: no such dataset folder")
    ds = open_audited(dataset)  # refuses damaged files and a manifest the generator would not have written
    found = ledger.frontiers(ds.scenario) if frontiers and not claim else None
    if frontiers and not claim and found is None:  # a new scenario (or new code): search once, then cached
        from newretail.stress.frontier import scenario_frontiers

        with progress_bar("break-even frontiers of", ds.scenario.name, "assumptions", quiet=quiet) as tick:
            found = scenario_frontiers(ds.scenario, on_progress=tick)
    table = evaluate(ds, claim or None, break_even=found if found is not None else False)
    if as_json:
        typer.echo(table.to_json())
        return
    from rich.console import Console
    from rich.table import Table

    out = Table("claim", "kind", "target", "reproduced", "95% interval", "unit", "holds", title=str(dataset))
    for row in table.rows:
        # the paper's texts (newretail.fmt), the unit in its own column
        reproduced, interval = format_interval(row.reproduced, row.ci_low, row.ci_high, row.unit, with_unit=False)
        verdict = "[green]yes[/]" if row.holds else "[red]no[/]"
        target = format_value(row.target, row.unit, with_unit=False)
        out.add_row(row.id, row.kind, target, reproduced, interval, row.unit, verdict)
    Console(width=None if sys.stdout.isatty() else 150).print(out)


@app.command()
def stress(
    scenario: Annotated[
        str, typer.Option(help="Base scenario: shipped name or path to a scenario TOML.")
    ] = "singles_day_2017",
    grid: Annotated[str, typer.Option(help="Shipped grid (paper, dense, smoke) or path to a grid TOML.")] = "paper",
    out: Annotated[Path, typer.Option(help="Folder for results.parquet (and the cache, unless --cache).")] = Path(
        "data/synthetic/stress"
    ),
    cache: Annotated[Path | None, typer.Option(help="Per-point cache folder [default: <out>/cache].")] = None,
    seed: Annotated[int, typer.Option(help="First seed of every point.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Worker processes [default: the machine's cores].")] = None,
    engine: Annotated[str, typer.Option(help="'local' processes or a 'dask' cluster.")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address (engine dask).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar and no summary table.")] = False,
) -> None:
    """Sweep assumptions and record where each figure holds (cached: a re-run computes only what changed)."""
    import time

    from newretail.scenario import ScenarioError
    from newretail.stress import GridError, StressError, sweep

    folder = cache if cache is not None else out / "cache"
    start = time.perf_counter()
    try:
        with progress_bar("stress", Path(grid).stem, "points", quiet=quiet) as tick:
            result = sweep(
                scenario,
                grid,
                cache=folder,
                seed=seed,
                workers=workers,
                engine=engine,
                scheduler=scheduler,
                on_progress=tick,
            )
    except (ScenarioError, GridError, StressError) as exc:
        fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    target = out / "results.parquet"
    tmp = out / ".results.parquet.tmp"
    result.table.write_parquet(tmp)
    tmp.replace(target)
    if not quiet:
        from rich.console import Console
        from rich.table import Table

        rob = result.robustness(frontier_modes=()).table  # shares only: frontiers are in the API and notebook 06
        summary = Table("claim", "reading", "study", "mode", "points", "holds over the region", "at base")
        for row in rob.iter_rows(named=True):
            base = {True: "[green]yes[/]", False: "[red]no[/]", None: ""}[row["holds_at_base"]]
            star = "" if row["judged_on"] == "truth" else " (data)"
            name = f"[bold]{row['reading']}[/]" if row["reported"] else row["reading"]
            summary.add_row(
                row["claim"], name, row["study"], row["mode"], str(row["points"]), f"{row['share']:.0%}{star}", base
            )
        Console(width=None if sys.stdout.isatty() else 150).print(summary)
    typer.echo(
        f"{result.points} points ({result.computed} computed, {result.points - result.computed} from the cache) "
        f"in {time.perf_counter() - start:.0f} s -> {target}"
    )


@app.command()
def coverage(
    scenario: Annotated[
        str, typer.Option(help="Shipped scenario name or path to a scenario TOML.")
    ] = "singles_day_2017",
    scale: Annotated[float, typer.Option(help="Scale of each generated day, in (0, 1].")] = 5e-6,
    seeds: Annotated[int, typer.Option(help="Number of days (seeds) to generate and measure.")] = 120,
    first_seed: Annotated[int, typer.Option(help="First seed; the study uses first_seed .. first_seed+seeds-1.")] = 1,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    cache: Annotated[
        Path | None, typer.Option(help="Per-seed cache folder [default: .cache/coverage/<scenario>-<scale>].")
    ] = None,
    out: Annotated[Path, typer.Option(help="Markdown report; the per-seed rows go beside it (.parquet).")] = Path(
        "docs/coverage.md"
    ),
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Coverage of each data-based report claim's interval, and of the iid one, over many generated days
    (parallel and resumable: finished seeds are cached)."""
    import datetime

    from newretail.report.provenance import provenance
    from newretail.studies.coverage import render, study

    if seeds < 1 or first_seed < 0:
        fail(f"seeds = {seeds}, first_seed = {first_seed}: need at least one seed and a first seed >= 0")
    name = Path(scenario).stem
    folder = cache if cache is not None else Path(".cache/coverage") / f"{name}-{scale:g}"
    try:
        with progress_bar("coverage", name, "seeds", quiet=quiet) as tick:
            rows = study(
                list(range(first_seed, first_seed + seeds)),
                scenario=scenario,
                scale=scale,
                cache=folder,
                workers=workers,
                on_progress=tick,
            )
    except ValueError as exc:
        fail(str(exc))
    command = f"newretail coverage --scenario {scenario} --scale {scale:g} --seeds {seeds} --first-seed {first_seed}"
    prov = provenance()  # newretail's own version and commit, not those of the folder the command runs in
    commit = f"{prov['commit'][:12] if prov['commit'] else 'unknown'} (newretail {prov['newretail']})"
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = render(rows, command=command, commit=commit, date=date, scenario=name, scale=scale)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.write_parquet(out.with_suffix(".parquet"))
    out.write_text(text, encoding="utf-8")
    typer.echo(f"{rows['seed'].n_unique()} seeds -> {out} and {out.with_suffix('.parquet')}")


@app.command()
def doctor(
    scenario: Annotated[str, typer.Option(help="Scenario you are about to generate.")] = "singles_day_2017",
    scale: Annotated[float, typer.Option(help="Scale you are about to generate.")] = 1e-4,
    out: Annotated[
        Path | None, typer.Option(help="Output folder you are about to use [default: the data folder].")
    ] = None,
) -> None:
    """Check Python, packages against the lock file, cores, memory, free disk and the output folder."""
    from rich.console import Console
    from rich.table import Table

    from newretail.doctor import run_checks

    checks = run_checks(scenario=scenario, scale=scale, out=out)
    table = Table("check", "status", "found", "what to do")
    table.columns[2].overflow = "fold"  # paths are shown whole
    colour = {"ok": "green", "warn": "yellow", "fail": "red"}
    for c in checks:
        table.add_row(c.name, f"[{colour[c.status]}]{c.status}[/]", c.found, c.fix)
    Console().print(table)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


@scenario_app.command("show")
def scenario_show(
    name: Annotated[str, typer.Argument(help="Shipped scenario name or TOML path.")] = "singles_day_2017",
) -> None:
    """Print a scenario's TOML, to copy and edit."""
    from newretail.scenario import ScenarioError, load_scenario, scenario_text

    try:
        load_scenario(name)
        typer.echo(scenario_text(name), nl=False)
    except ScenarioError as exc:
        fail(str(exc))


@scenario_app.command("list")
def scenario_list() -> None:
    """List the shipped scenarios."""
    from newretail.scenario import available_scenarios

    for name in available_scenarios():
        typer.echo(name)


if __name__ == "__main__":
    app(prog_name="newretail")
