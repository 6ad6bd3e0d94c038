"""``python -m newretail.report``: the steps ``make paper`` runs (deps, run, claims, collect, typeset) and ``build``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newretail.report import SOURCE, PaperError

app = typer.Typer(
    name="newretail.report",
    help="Build the reviewer's paper: execute notebooks, collect results.json, typeset paper.pdf.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Dataset = Annotated[Path, typer.Option(help="Generated dataset folder (with manifest.json).")]
Out = Annotated[Path, typer.Option(help="Build folder.")]


def _fail(exc: Exception) -> None:
    typer.echo(f"newretail report: error: {exc}", err=True)
    raise typer.Exit(1)


@app.command()
def deps(
    notebooks: Annotated[list[Path], typer.Argument(help="Notebooks (.ipynb) the paper runs.")],
    out: Out = Path("paper/build"),
) -> None:
    """Write <out>/deps.mk: the package files each notebook (and the claims step) imports, for make."""
    from newretail.report.deps import write_deps

    try:
        target = write_deps(notebooks, out)
    except (OSError, ValueError) as exc:
        _fail(exc)
    typer.echo(f"wrote {target}")


@app.command()
def run(
    notebook: Annotated[Path, typer.Argument(help="Notebook to execute (.ipynb).")],
    dataset: Dataset,
    out: Out = Path("paper/build"),
    scale: Annotated[float | None, typer.Option(help="Expected dataset scale (checked).")] = None,
    seed: Annotated[int | None, typer.Option(help="Expected dataset seed (checked).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Per-cell time limit, s.")] = None,
) -> None:
    """Execute one notebook and install its figures, numbers and HTML export."""
    import time

    from newretail.report.execute import run_notebook

    start = time.perf_counter()
    try:
        target = run_notebook(notebook, dataset=dataset, out=out, scale=scale, seed=seed, timeout_s=timeout)
    except PaperError as exc:
        _fail(exc)
    typer.echo(f"ran {notebook} -> {target} in {time.perf_counter() - start:.0f} s")


@app.command()
def claims(dataset: Dataset, out: Out = Path("paper/build")) -> None:
    """Evaluate the claims table into claims.json."""
    from newretail.report.collect import evaluate_claims

    try:
        target = evaluate_claims(dataset=dataset, out=out)
    except PaperError as exc:
        _fail(exc)
    typer.echo(f"wrote {target}")


@app.command()
def collect(
    dataset: Dataset,
    notebooks: Annotated[list[str] | None, typer.Argument(help="Notebook file stems or paths, in order.")] = None,
    out: Out = Path("paper/build"),
) -> None:
    """Merge the notebooks' results, the claims and the provenance into results.json."""
    from newretail.report.collect import collect as run_collect

    stems = [Path(n).stem for n in notebooks or []]
    try:
        target = run_collect(dataset=dataset, out=out, notebooks=stems)
    except PaperError as exc:
        _fail(exc)
    typer.echo(f"wrote {target}")


@app.command()
def typeset(
    out: Out = Path("paper/build"),
    source: Annotated[Path, typer.Option(help="Folder of the Typst sources.")] = SOURCE,
) -> None:
    """Typeset results.json and the figures into paper.pdf."""
    from newretail.report.typeset import typeset as run_typeset

    try:
        target = run_typeset(out=out, source=source)
    except PaperError as exc:
        _fail(exc)
    typer.echo(f"wrote {target}")


@app.command()
def build(
    dataset: Dataset,
    out: Out = Path("paper/build"),
    notebooks: Annotated[Path | None, typer.Option(help="Folder of notebooks [default: notebooks/].")] = None,
    source: Annotated[Path, typer.Option(help="Folder of the Typst sources.")] = SOURCE,
    timeout: Annotated[float | None, typer.Option(help="Per-cell time limit, s.")] = None,
) -> None:
    """All steps in one go: run every notebook, claims, collect, typeset."""
    from newretail.report import build as run_build
    from newretail.report import discover_notebooks

    chosen = discover_notebooks(notebooks) if notebooks is not None else None
    try:
        target = run_build(dataset=dataset, out=out, notebooks=chosen, source=source, timeout_s=timeout)
    except PaperError as exc:
        _fail(exc)
    typer.echo(f"wrote {target}")


if __name__ == "__main__":
    app()
