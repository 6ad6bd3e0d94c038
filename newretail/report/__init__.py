"""The Python side of the reviewer's paper (the Typst sources are the repository's ``paper/`` folder): run the
notebooks, collect their figures and numbers, typeset ``paper/build/paper.pdf``.

Four steps, each a command of ``python -m newretail.report`` that ``make paper`` calls with real file dependencies
(``deps`` first writes which package modules each notebook imports, so a notebook re-runs only when one changes):

1. ``run NOTEBOOK``: execute one notebook with papermill on the dataset; install its figures, numbers and HTML.
2. ``claims``: evaluate the claims table on the dataset into ``claims.json``.
3. ``collect``: merge everything into ``results.json`` (numbers with their printed text, provenance, versions).
4. ``typeset``: Typst turns ``paper/paper.typ`` + ``results.json`` + ``figures/`` into ``paper.pdf``.

``build`` does all four in one call (tests, or without ``make``).
"""

from __future__ import annotations

from pathlib import Path

from newretail.report.collect import SECTIONS, collect, evaluate_claims
from newretail.report.execute import PaperError, discard_outputs, run_notebook
from newretail.report.typeset import SOURCE, typeset

__all__ = [
    "SECTIONS",
    "PaperError",
    "build",
    "collect",
    "discover_notebooks",
    "evaluate_claims",
    "run_notebook",
    "typeset",
]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def discover_notebooks(folder: str | Path = NOTEBOOKS) -> list[Path]:
    """The notebooks of ``folder`` in file-name order (``00_...``, ``01_...``); checkpoints and hidden files skipped."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if not p.name.startswith((".", "_")))


def build(
    *,
    dataset: str | Path,
    out: str | Path,
    notebooks: list[Path] | None = None,
    source: str | Path = SOURCE,
    claims: bool = True,
    timeout_s: float | None = None,
) -> Path:
    """Run every notebook, evaluate the claims, collect ``results.json`` and typeset ``<out>/paper.pdf``.

    Parameters
    ----------
    dataset : the generated dataset folder.
    out : the build folder (``paper/build``).
    notebooks : notebooks to run, in order (default: every ``notebooks/*.ipynb``).
    source : folder of the Typst sources.
    claims : evaluate the claims table (False: the paper says the claims were not evaluated).
    timeout_s : per-cell time limit in seconds.

    Returns
    -------
    Path of the PDF. Stops at the first failing notebook with a :class:`PaperError` and no PDF left behind.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    discard_outputs(out)
    chosen = discover_notebooks() if notebooks is None else [Path(p) for p in notebooks]
    for nb in chosen:
        run_notebook(nb, dataset=dataset, out=out, timeout_s=timeout_s)
    if claims:
        evaluate_claims(dataset=dataset, out=out)
    else:
        (out / "claims.json").unlink(missing_ok=True)
    collect(dataset=dataset, out=out, notebooks=[p.stem for p in chosen])
    return typeset(out=out, source=source)
