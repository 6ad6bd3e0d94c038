"""What a notebook hands to the paper: figures (PDF + PNG) and numbers, each tagged with notebook and seed.

A notebook makes one :class:`Outputs` and calls ``figure`` and ``number``; with ``build_dir=None`` (a user
exploring in JupyterLab) nothing is written and figures only show inline. ``make paper`` merges every
notebook's ``results/<notebook>.json`` into ``paper/build/results.json``.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

__all__ = ["KEY_PACKAGES", "Outputs", "versions"]

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


def versions(packages: Sequence[str] = KEY_PACKAGES, *, show: bool = True) -> dict[str, str]:
    """Versions of Python, newretail and ``packages``, read from the installed packages' metadata.

    For a notebook's last cell: ``newretail.notebook.versions()`` prints one ``name version`` line each and returns
    them. A package that is not installed shows ``"not installed"``.

    Parameters
    ----------
    packages : distribution names (as on PyPI, e.g. ``"scikit-learn"``); default :data:`KEY_PACKAGES`.
    show : print the table (default True); False only returns it.

    Returns
    -------
    dict
        ``{"python": ..., "newretail": ..., <package>: ...}`` in that order.
    """
    if isinstance(packages, str) or not all(isinstance(p, str) and p for p in packages):
        raise TypeError(f"packages = {packages!r}: must be a sequence of package names")
    found = {"python": platform.python_version()}
    for name in ("newretail", *packages):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    if show:
        width = max(map(len, found))
        print("\n".join(f"{name:<{width}}  {version}" for name, version in found.items()))
    return found


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

    def table(self, name: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Record a small table (a list of rows) the paper shows."""
        self.tables[name] = _clean(rows)
        self._write()
        return rows

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
