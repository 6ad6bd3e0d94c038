"""What a notebook needs around its lesson: the day it reads, what it hands to the paper, and its versions.

:func:`open_day` opens (or generates) the day a notebook's parameters name, wherever the notebook is started, and
makes its :class:`Outputs`. A notebook saves each figure with ``out.figure`` in the cell that draws it, and hands the
paper each result with one call on the result object (``out.result(name, obj)``: value, interval and unit read from
``obj``; ``out.rows`` for a table of them; ``out.claims`` for rows of the claims table), in short cells tagged
``paper``. With ``build_dir=None`` (a user exploring in JupyterLab) nothing is written and figures only show inline.
``make paper`` merges every notebook's ``results/<notebook>.json`` into ``paper/build/results.json``.
:func:`side_by_side` shows several results as a small table, printed as the paper prints them; :func:`versions` is
every notebook's last cell.
"""

from __future__ import annotations

import json
import math
import platform
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from newretail.tables import Dataset

__all__ = ["KEY_PACKAGES", "Outputs", "Versions", "in_words", "open_day", "side_by_side", "variant_day", "versions"]


def _slug(text: str) -> str:
    """``"USD 1 billion"`` -> ``"usd_1_billion"``: lower case, every run of other characters one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _clean(value: Any) -> Any:
    """JSON-safe numbers: numpy scalars to Python, NaN and inf to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass
class Outputs:
    """Collects one notebook's figures and numbers for the paper.

    Parameters
    ----------
    build_dir : paper build folder (figures go to ``figures/``, numbers to ``results/<notebook>.json``);
        None writes nothing.
    notebook : the notebook's file stem, e.g. ``"02_lu_ban_banners"``.
    seed : seed of the dataset the notebook ran on.
    dataset_sha256 : sha256 of the dataset's manifest, for provenance.
    """

    build_dir: str | Path | None
    notebook: str
    seed: int
    dataset_sha256: str | None = None
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def figure(self, fig: Figure, name: str, *, caption: str) -> Figure:
        """Save ``fig`` as ``figures/<name>.pdf`` and ``.png`` (deterministic bytes) and return it."""
        self.figures[name] = {
            "caption": caption,
            "notebook": self.notebook,
            "seed": self.seed,
            "pdf": f"figures/{name}.pdf",
            "png": f"figures/{name}.png",
        }
        if self.build_dir is not None:
            folder = Path(self.build_dir) / "figures"
            folder.mkdir(parents=True, exist_ok=True)
            fig.savefig(folder / f"{name}.pdf", bbox_inches="tight", metadata={"CreationDate": None, "ModDate": None})
            fig.savefig(folder / f"{name}.png", dpi=150, bbox_inches="tight", metadata={"Software": None})
            self._write()
        return fig

    def number(
        self,
        name: str,
        value: float | int | str | bool,
        *,
        unit: str = "",
        ci_low: float | None = None,
        ci_high: float | None = None,
        note: str = "",
    ) -> float | int | str | bool:
        """Record a number the paper quotes (with its unit and interval) and return it."""
        self.numbers[name] = _clean(
            {
                "value": value,
                "unit": unit,
                "ci_low": ci_low,
                "ci_high": ci_high,
                "note": note,
                "notebook": self.notebook,
                "seed": self.seed,
            }
        )
        self._write()
        return value

    def result(self, name: str, obj: Any, *, unit: str | None = None, note: str = "", term: str | None = None) -> None:
        """Record one result the paper quotes, read off the result object itself.

        Parameters
        ----------
        name : the number's name in ``results.json`` (prefixed by the notebook's subject, e.g. ``"gmv_usd"``).
        obj : the result: a claims-table row, a fitted estimator (``effect_``, ``ci_``), a tidy result, a value with
            ``ci_low``/``ci_high`` (``Estimate``, ``Effect``, a ratio), a table row (mapping), or a plain value; see
            :func:`newretail.recorded.read_result`.
        unit : the value's unit (``"share"`` prints a percentage, ``"ratio"`` a ×); default the object's own.
        note : a few words the paper's table of numbers prints beside it.
        term : for a tidy result with several rows, the row to record.

        ``results.json`` then holds the value, interval and unit with the text the paper's formatter prints for them.
        Nothing is returned: a recording cell shows nothing (the results are shown where they are computed).
        """
        from newretail.recorded import read_result

        value, low, high, own_unit = read_result(obj, name=name, term=term)
        self.number(name, value, unit=own_unit if unit is None else unit, ci_low=low, ci_high=high, note=note)

    def claims(self, *rows: Any) -> None:
        """Record rows of the claims table, each under its own ``id``, with its unit, interval and note."""
        for row in rows:
            self.result(row.id, row, note=getattr(row, "note", ""))

    def rows(
        self,
        prefix: str,
        table: Any,
        *,
        key: str,
        value: str,
        ci: tuple[str, str] | None = ("ci_low", "ci_high"),
        unit: str = "",
        note: str | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        """Record each row of a result's table as one number, ``<prefix>_<row[key]>``.

        Parameters
        ----------
        prefix : start of every name.
        table : a polars frame (or a list of row dicts).
        key : the column naming each row: its value, in lower case with every run of other characters made one
            ``_``, ends the name (``"USD 1 billion"`` -> ``usd_1_billion``); ``names`` maps values to other endings.
        value : the column of the values; ci : the columns of the interval's bounds (None: no interval).
        unit : the values' unit; note : a column whose text is each number's note (None: none).
        """
        rows = table.to_dicts() if hasattr(table, "to_dicts") else list(table)
        endings = [(names or {}).get(row[key]) or _slug(str(row[key])) for row in rows]
        twice = sorted({e for e in endings if endings.count(e) > 1})
        if twice:
            raise NotebookError(f"rows: column '{key}' names two rows {prefix}_{twice[0]}; give them names=")
        for row, ending in zip(rows, endings, strict=True):
            bounds = {"ci_low": row[ci[0]], "ci_high": row[ci[1]]} if ci else {}
            self.result(
                f"{prefix}_{ending}", {"value": row[value], **bounds}, unit=unit, note=str(row[note]) if note else ""
            )

    def table(self, name: str, rows: Any) -> None:
        """Record a small table the paper shows: a polars (or pandas) frame, or a list of row dicts."""
        if hasattr(rows, "to_dicts"):
            listed = rows.to_dicts()
        elif hasattr(rows, "to_dict") and not isinstance(rows, dict):
            listed = rows.to_dict("records")
        else:
            listed = list(rows)
        self.tables[name] = _clean(listed)
        self._write()

    def _write(self) -> None:
        if self.build_dir is None:
            return
        folder = Path(self.build_dir) / "results"
        folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "notebook": self.notebook,
            "seed": self.seed,
            "dataset_sha256": self.dataset_sha256,
            "figures": self.figures,
            "numbers": self.numbers,
            "tables": self.tables,
        }
        # keys keep the order the notebook recorded them in (tables keep their column order); no timestamps
        (folder / f"{self.notebook}.json").write_text(json.dumps(payload, indent=1) + "\n")


def side_by_side(results: dict[str, Any]) -> Any:
    """Several results as one small table to read: estimate and interval as the paper prints them (target and
    verdict for a claim); a value may be ``(result, unit)``. See :func:`newretail.recorded.side_by_side`."""
    from newretail.recorded import side_by_side as table

    return table(results)


class NotebookError(ValueError):
    """A notebook parameter that cannot be used; the message names it."""


def _changes_key(changes: dict[str, Any], recalibrate: bool, groups: tuple[str, ...] | None) -> str:
    import hashlib

    spec = {"changes": changes, "recalibrate": recalibrate, "groups": groups}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:10]


def variant_day(
    changes: dict[str, Any],
    *,
    scenario: str | Path = "singles_day_2017",
    scale: float,
    seed: int,
    recalibrate: bool = True,
    groups: tuple[str, ...] | None = None,
    path: str | Path | None = None,
    workers: int = 1,
) -> Dataset:
    """Generate (or reopen) a day whose scenario differs from ``scenario`` by ``changes``.

    The day is made by :func:`newretail.generate.generate` (its lock, resume, disk check and folder rules: only a
    folder that is empty or holds the package's own files is written) and reopened on later calls when its
    manifest records the same changed scenario, scale, seed and parameters.

    Parameters
    ----------
    changes : dotted scenario field to new value, e.g. ``{"behaviour.banners.novelty_decay": 0.3}``; with
        ``recalibrate=False`` also ``calibration.<group>.<parameter>`` factors (see ``newretail.stress.grid``).
    scenario : shipped scenario name or TOML path the changes apply to.
    scale : share of the full event, in (0, 1].
    seed : random seed.
    recalibrate : True: the generator solves its parameters again for the changed scenario, so the calibrated
        targets (the report's figures) are met again and only what they do not pin down moves. False: the
        parameters solved for the unchanged scenario are kept and the changed assumptions act on them, so the
        observed figures themselves move (the stress tests' ``fixed`` mode).
    groups : generate only these generator groups (e.g. ``("city",)``); default all.
    path : dataset folder; default beside the cached datasets of ``newretail.datasets``, keyed by the changes.
    workers : processes that draw the day (1: in this process).
    """
    from newretail.datasets import dataset_path
    from newretail.generate.audit import open_audited
    from newretail.generate.output import manifest_spec, read_json
    from newretail.generate.run import generate, run_spec
    from newretail.scenario import load_scenario
    from newretail.stress.engine import point_setup
    from newretail.stress.grid import FIXED_LEVERS, Point

    if not isinstance(changes, dict) or not changes:
        raise NotebookError(f"changes = {changes!r}: must be a non-empty dict of dotted scenario fields")
    base = load_scenario(scenario)
    mode = "recalibrated" if recalibrate else "fixed"
    calibration = None
    if recalibrate:
        changed = base.with_changes(changes)
    else:
        unknown = [f for f in changes if not f.startswith("calibration.") and f not in FIXED_LEVERS]
        if unknown:
            raise NotebookError(f"changes: {unknown[0]!r} cannot change without recalibrating (see FIXED_LEVERS)")
        point = Point("notebook", 0, "", "fixed", tuple(changes.items()), "", int(seed), float(scale))
        changed, calibration = point_setup(base, point, None)
    if path is None:
        key = _changes_key(changes, recalibrate, groups)
        path = dataset_path(f"{Path(str(scenario)).stem}-{mode}-{key}", scale=scale, seed=seed)
    folder = Path(path)
    spec = run_spec(changed, scale, seed, calibration, groups)
    recorded = read_json(folder / "manifest.json")
    if (
        recorded is None or manifest_spec(recorded) != spec
    ):  # not there yet, or another day: (re)generate, replacing only our files
        generate(
            changed, scale=scale, seed=seed, out=folder, workers=workers, calibration=calibration, groups=groups,
            overwrite=True,
        )  # fmt: skip
    return open_audited(folder)


def open_day(
    *,
    notebook: str,
    dataset: str | Path | None = None,
    scale: float = 1e-4,
    seed: int = 20171111,
    build_dir: str | Path | None = None,
    changes: dict[str, Any] | None = None,
    recalibrate: bool = True,
    scenario: str = "singles_day_2017",
) -> tuple[Dataset, Outputs]:
    """Open the day a notebook reads and make its :class:`Outputs`: the one set-up line of every notebook.

    Parameters
    ----------
    notebook : the notebook's file stem, e.g. ``"02_lu_ban_banners"`` (names its results file).
    dataset : an existing dataset folder; default: ``newretail.datasets.load(scenario, scale, seed)``, generated on
        first use in the datasets' default folder (not relative to the notebook).
    scale : share of the full event, in (0, 1].
    seed : random seed.
    build_dir : paper build folder, or None to write nothing.
    changes : dotted scenario fields to change (see :func:`variant_day`); ``{}`` or None: the scenario as shipped.
    recalibrate : with ``changes``, solve the generator's parameters again (True) or keep the shipped ones (False).
    scenario : shipped scenario name or TOML path.
    """
    import hashlib

    from newretail.datasets import load
    from newretail.generate.audit import open_audited

    if not notebook or not isinstance(notebook, str):
        raise NotebookError(f"notebook = {notebook!r}: must be the notebook's file stem")
    if changes and dataset is not None:
        raise NotebookError("changes: cannot change the scenario of an existing dataset; leave dataset = None")
    if changes:
        ds = variant_day(dict(changes), scenario=scenario, scale=scale, seed=seed, recalibrate=recalibrate)
    elif dataset is not None:
        ds = open_audited(dataset)
    else:
        ds = load(scenario, scale=scale, seed=seed)
    digest = hashlib.sha256((ds.path / "manifest.json").read_bytes()).hexdigest()
    return ds, Outputs(build_dir, notebook=notebook, seed=ds.seed, dataset_sha256=digest)


class Versions(dict[str, str]):
    """Package versions; shown on one line (``python 3.11.7 | newretail 0.1.0 | ...``)."""

    def __repr__(self) -> str:
        return " | ".join(f"{k} {v}" for k, v in self.items())

    def _repr_markdown_(self) -> str:
        return "`" + repr(self) + "`"


KEY_PACKAGES = (
    "numpy",
    "polars",
    "pyarrow",
    "pandas",
    "scipy",
    "scikit-learn",
    "statsmodels",
    "lightgbm",
    "shap",
    "matplotlib",
    "seaborn",
)
"""The packages whose versions a notebook's versions cell shows, after Python and newretail."""


def versions(packages: Sequence[str] = KEY_PACKAGES, *, show: bool = True) -> Versions:
    """Versions of Python, newretail and ``packages``, read from the installed packages' metadata.

    For a notebook's last cell: ``versions();`` prints one ``name version`` line each; the returned
    :class:`Versions` shows itself on one line. A package that is not installed shows ``"not installed"``.

    Parameters
    ----------
    packages : distribution names (as on PyPI, e.g. ``"scikit-learn"``); default :data:`KEY_PACKAGES`.
    show : print the table (default True); False only returns it.

    Returns
    -------
    Versions
        ``{"python": ..., "newretail": ..., <package>: ...}`` in that order.
    """
    if isinstance(packages, str) or not all(isinstance(p, str) and p for p in packages):
        raise TypeError(f"packages = {packages!r}: must be a sequence of package names")
    found = Versions(python=platform.python_version())
    for name in ("newretail", *packages):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    if show:
        width = max(map(len, found))
        print("\n".join(f"{name:<{width}}  {version}" for name, version in found.items()))
    return found


_UNITLESS = ("", "count", "ratio", "claims")


def in_words(value: float | None, unit: str = "") -> str:
    """A value as a person reads it: ``24.9 billion USD``, ``95.1%``, ``1.98``; ``-`` for a missing value.

    The one formatter (:func:`newretail.fmt.format_value`, three significant digits), so a number prints here as it
    does in the claims table and the paper. Counts and ratios are shown without their unit (``400 million``,
    ``1.96``).

    Parameters
    ----------
    value : the number.
    unit : its unit; ``share`` prints a percentage, ``USD``/``RMB`` follow the amount.
    """
    from newretail.fmt import format_value

    return format_value(value, unit, with_unit=unit not in _UNITLESS, missing="-")
