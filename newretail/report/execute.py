"""Execute one notebook for the paper: papermill into a staging folder, then install its outputs atomically.

A notebook runs with ``build_dir`` pointing at ``<out>/.staging/<stem>/``. Only when every cell has run are its
figures moved to ``<out>/figures/``, its numbers to ``<out>/results/<stem>.json``, an HTML export written to
``<out>/html/<stem>.html`` and, last, the executed copy renamed to ``<out>/notebooks/<stem>.ipynb`` (the file
``make`` watches). A failure leaves no executed copy, no results for that notebook and no ``paper.pdf``: the next
``make paper`` runs it again, and nothing stale looks fresh.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from newretail.tables import MANIFEST, open_dataset, sha256_file

__all__ = ["PaperError", "discard_outputs", "run_notebook"]

KERNEL = "python3"
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]  # silences "Kernel is running over TCP without encryption"
# Same seed, same bytes: polars' multi-threaded sums and group orders vary from run to run in the last bits and in
# row order, so kernels run polars on one thread (the notebooks' heavy fits already use one), and the global RNGs
# that some plotting code draws from unseeded (SHAP's beeswarm jitter) start from the run's seed.
KERNEL_ENV = {"POLARS_MAX_THREADS": "1", "PYTHONHASHSEED": "0"}


def _kernel_args(seed: int) -> list[str]:
    seed_rngs = f"import random, numpy; random.seed({seed}); numpy.random.seed({seed % 2**32})"
    return [*KERNEL_ARGS, f"--IPKernelApp.exec_lines={[seed_rngs]!r}"]


class PaperError(RuntimeError):
    """The paper cannot be built; the message says which notebook, cell or file, and what went wrong."""


def discard_outputs(out: Path) -> None:
    """Remove ``paper.pdf`` and ``results.json`` so that a build that stops leaves nothing that looks fresh."""
    for name in ("paper.pdf", "results.json"):
        (out / name).unlink(missing_ok=True)


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _failure_message(notebook: Path, error: Any, executed: Path, failed_copy: Path) -> str:
    """One readable message: notebook, cell (number in the source notebook and its first line), error."""
    nb = json.loads(executed.read_text()) if executed.is_file() else {"cells": []}
    cells = nb.get("cells", [])
    injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    index = int(error.cell_index)
    source_index = index - 1 if injected and index > injected[0] else index  # papermill adds one cell
    first = next((ln for ln in str(error.source).splitlines() if ln.strip()), "")
    where = f"cell {source_index + 1}"
    if error.exec_count is not None:
        where += f" (In [{error.exec_count}])"
    return (
        f"notebook {notebook} failed at {where}: `{_one_line(first, 80)}`: "
        f"{error.ename}: {_one_line(error.evalue)}. Traceback in {failed_copy}"
    )


def _load_results(folder: Path, stem: str) -> dict[str, Any]:
    """The notebook's recorded outputs: ``results/*.json`` written by ``newretail.notebook.Outputs`` (may be none)."""
    merged: dict[str, Any] = {"notebook": stem, "figures": {}, "numbers": {}, "tables": {}}
    for file in sorted((folder / "results").glob("*.json")):
        data = json.loads(file.read_text())
        if data.get("notebook") != stem:
            raise PaperError(
                f"notebook {stem}: Outputs(notebook={data.get('notebook')!r}) should name the notebook's file stem "
                f"{stem!r}"
            )
        for key in ("seed", "dataset_sha256"):
            merged[key] = data.get(key)
        for kind in ("figures", "numbers", "tables"):
            merged[kind].update(data.get(kind, {}))
    for name, fig in merged["figures"].items():
        for key in ("pdf", "png"):
            if not (folder / fig[key]).is_file():
                raise PaperError(f"notebook {stem}: figure {name!r} was recorded but {fig[key]} was not written")
    return merged


def _check_not_taken(out: Path, stem: str, names: set[str]) -> None:
    """Figure names are global: refuse a name that another notebook's installed results already use."""
    for file in sorted((out / "results").glob("*.json")):
        if file.stem == stem:
            continue
        other = set(json.loads(file.read_text()).get("figures", {}))
        clash = sorted(names & other)
        if clash:
            raise PaperError(
                f"notebook {stem}: figure name(s) {', '.join(clash)} already used by notebook {file.stem}; "
                "prefix figure names with the module name"
            )


def _export_html(executed: Path, target: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(executed))
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(body)
    tmp.replace(target)


def _clear_previous(out: Path, stem: str) -> dict[str, Path]:
    """Make the build folders and remove what an earlier run of this notebook left: its executed copy, failed copy,
    results and figures (so a renamed figure leaves no orphan) and its staging folder. Returns the paths used."""
    discard_outputs(out)
    folders = {name: out / name for name in ("notebooks", "figures", "results", "html")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    paths = {
        **folders,
        "target": folders["notebooks"] / f"{stem}.ipynb",
        "failed": folders["notebooks"] / f"{stem}.failed.ipynb",
        "partial": folders["notebooks"] / f".{stem}.partial.ipynb",
        "staging": out / ".staging" / stem,
        "previous": folders["results"] / f"{stem}.json",
    }
    if paths["previous"].is_file():
        for fig in json.loads(paths["previous"].read_text()).get("figures", {}).values():
            for key in ("pdf", "png"):
                (out / fig[key]).unlink(missing_ok=True)
    for key in ("target", "failed", "previous"):
        paths[key].unlink(missing_ok=True)
    shutil.rmtree(paths["staging"], ignore_errors=True)
    paths["staging"].mkdir(parents=True)
    return paths


def _execute(
    source: Path, paths: dict[str, Path], parameters: dict[str, Any], seed: int, timeout_s: float | None
) -> None:
    """papermill into the partial copy, with the kernel's environment; a failure leaves the failed copy (when a cell
    failed), no staging folder, and a PaperError naming the notebook and cell."""
    import papermill as pm

    partial, failed_copy, staging = paths["partial"], paths["failed"], paths["staging"]
    saved_env = {key: os.environ.get(key) for key in KERNEL_ENV}
    os.environ.update({key: os.environ.get(key) or value for key, value in KERNEL_ENV.items()})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Kernel is running over TCP.*")
        try:
            pm.execute_notebook(
                str(source),
                str(partial),
                parameters=parameters,
                kernel_name=KERNEL,
                cwd=str(source.resolve().parent),
                progress_bar=False,
                log_output=False,
                execution_timeout=timeout_s,
                extra_arguments=_kernel_args(seed),
            )
        except pm.PapermillExecutionError as exc:
            if partial.is_file():
                partial.replace(failed_copy)
            shutil.rmtree(staging, ignore_errors=True)
            raise PaperError(_failure_message(source, exc, failed_copy, failed_copy)) from None
        except Exception as exc:  # kernel died, notebook unreadable, missing parameters cell, ...
            partial.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)
            raise PaperError(
                f"notebook {source} could not be executed: {type(exc).__name__}: {_one_line(str(exc))}"
            ) from None
        finally:
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _install(out: Path, stem: str, paths: dict[str, Path], manifest: Path) -> Path:
    """Check the staged results (the right dataset, no figure name another notebook uses), then move the figures,
    results, HTML export and, last, the executed copy into place. A failed check removes the staged run."""
    staging, partial = paths["staging"], paths["partial"]
    try:
        results = _load_results(staging, stem)
        recorded = results.get("dataset_sha256")
        actual = sha256_file(manifest)
        if recorded is not None and recorded != actual:
            raise PaperError(
                f"notebook {stem}: its Outputs record dataset_sha256 {recorded[:12]}…, but the dataset it was given "
                f"({manifest.parent}) has manifest sha256 {actual[:12]}…; pass the dataset's manifest hash"
            )
        results["dataset_sha256"] = actual
        _check_not_taken(out, stem, set(results["figures"]))
    except PaperError:
        partial.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for fig in results["figures"].values():
        for key in ("pdf", "png"):
            (staging / fig[key]).replace(out / fig[key])
    tmp = paths["results"] / f".{stem}.json.tmp"
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    tmp.replace(paths["results"] / f"{stem}.json")
    _export_html(partial, paths["html"] / f"{stem}.html")
    partial.replace(paths["target"])
    shutil.rmtree(staging, ignore_errors=True)
    return paths["target"]


def run_notebook(
    notebook: str | Path,
    *,
    dataset: str | Path,
    out: str | Path,
    scale: float | None = None,
    seed: int | None = None,
    timeout_s: float | None = None,
) -> Path:
    """Execute ``notebook`` on ``dataset`` and install its figures, numbers and HTML export under ``out``.

    Parameters
    ----------
    notebook : path of a ``.ipynb`` with a papermill ``parameters`` cell (dataset, scale, seed, build_dir).
    dataset : a generated dataset folder; its manifest's scale and seed are passed to the notebook.
    out : the paper's build folder (``paper/build``).
    scale, seed : if given, must equal the dataset's (a guard against running on the wrong dataset).
    timeout_s : per-cell time limit in seconds (None: no limit).

    Returns
    -------
    The executed copy, ``<out>/notebooks/<stem>.ipynb``.

    Raises
    ------
    PaperError naming the notebook, the failing cell and the error.
    """
    source = Path(notebook)
    out = Path(out).resolve()
    if source.suffix != ".ipynb" or not source.is_file():
        raise PaperError(f"notebook {source}: not an existing .ipynb file")
    ds = open_dataset(dataset)
    if seed is not None and int(seed) != ds.seed:
        raise PaperError(f"--seed {seed} differs from the dataset's seed {ds.seed} ({ds.path}); generate it again")
    if scale is not None and float(scale) != ds.scale:
        raise PaperError(f"--scale {scale:g} differs from the dataset's scale {ds.scale:g} ({ds.path})")
    paths = _clear_previous(out, source.stem)
    parameters = {
        "dataset": str(ds.path.resolve()),
        "scale": ds.scale,
        "seed": ds.seed,
        "build_dir": str(paths["staging"]),
    }
    _execute(source, paths, parameters, ds.seed, timeout_s)
    return _install(out, source.stem, paths, ds.path / MANIFEST)
