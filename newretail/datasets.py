"""Named datasets through one registry and one folder: ``load("singles_day_2017", scale=1e-4, seed=0)``.

A dataset is generated on first use and reused afterwards (after checking its manifest matches). Every dataset
lives in one folder whatever the working directory, :func:`data_home`: ``$NEWRETAIL_DATA`` when set, otherwise the
per-user data folder of the platform (``~/.local/share/newretail`` on Linux). Inside the repository ``make`` sets
``NEWRETAIL_DATA`` to the checkout's ``data/synthetic``, and ``make data`` names its folder with
:func:`dataset_path`, so ``make data``, ``make paper`` and ``load`` share one copy per scenario, scale and seed.

This module imports only the standard library at import time (the Makefile calls :func:`dataset_path` before the
virtual environment exists); generation and the data folder's platform lookup are imported when used.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newretail.tables import Dataset

__all__ = ["ENV_VAR", "data_home", "dataset_path", "load"]

ENV_VAR = "NEWRETAIL_DATA"
"""Environment variable naming the dataset folder; unset or empty means the per-user default."""


def data_home() -> Path:
    """The folder datasets are generated into and looked up in (absolute; not created here).

    Returns
    -------
    Path
        ``$NEWRETAIL_DATA`` (``~`` expanded, made absolute against the working directory) when set and not empty,
        otherwise ``platformdirs.user_data_dir("newretail")``.
    """
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        return Path(value).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_data_dir("newretail", appauthor=False))


def dataset_path(name: str | Path, *, scale: float, seed: int, root: str | Path | None = None) -> Path:
    """Folder of a named dataset at a scale and seed: ``<root>/<name>-<scale:g>-s<seed>``.

    Parameters
    ----------
    name : a shipped scenario name or a scenario TOML path (its file stem names the folder).
    scale : share of the full event, in (0, 1].
    seed : random seed, a whole number >= 0.
    root : parent folder; default :func:`data_home`.

    Examples
    --------
    ``dataset_path("singles_day_2017", scale=1e-5, seed=0, root="data")`` is ``data/singles_day_2017-1e-05-s0``.
    """
    stem = Path(name).stem if isinstance(name, (str, Path)) else ""
    if not stem:
        raise ValueError(f"name = {name!r}: must be a scenario name or a scenario TOML path")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and 0 < scale <= 1):
        raise ValueError(f"scale = {scale!r}: must be a number in (0, 1], the share of the full event")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed = {seed!r}: must be a whole number >= 0")
    return Path(root if root is not None else data_home()) / f"{stem}-{float(scale):g}-s{seed}"


def load(
    name: str | Path = "singles_day_2017",
    *,
    scale: float = 1e-4,
    seed: int = 0,
    path: str | Path | None = None,
    root: str | Path | None = None,
    workers: int | None = None,
) -> Dataset:
    """Open a generated dataset, generating it first if it is not there.

    A day already on disk is reused when its manifest records the same scenario (by content hash: sha256 of the
    scenario's canonical JSON), scale, seed and package version; it is then opened with every file re-hashed and
    its manifest audited (:func:`newretail.generate.audit.open_audited`). Otherwise the day is generated into the
    folder, replacing only a dataset the package wrote there: a folder holding anything else is refused, naming
    the first entry that is not the package's. Works from a plain script, a notebook or the command line: the
    worker processes never run the caller's ``__main__``.

    Parameters
    ----------
    name : a shipped scenario name (see ``newretail scenario list``) or a scenario TOML path.
    scale : share of the full event, in (0, 1]; 1e-4 is about 7.5 million page views.
    seed : random seed.
    path : dataset folder; default ``dataset_path(name, scale=scale, seed=seed, root=root)``.
    root : parent folder of the default path; default :func:`data_home` (``$NEWRETAIL_DATA`` or the per-user
        data folder).
    workers : processes used if it must be generated (default: the machine's cores).

    Raises
    ------
    newretail.scenario.ScenarioError, newretail.generate.GenerateError
        For a bad scenario, option or folder (one line naming it).
    newretail.tables.DatasetError
        For a day on disk that is damaged or whose manifest was edited (generate it again with ``overwrite``).
    """
    from newretail import __version__
    from newretail.generate.audit import open_audited
    from newretail.generate.run import generate
    from newretail.scenario import available_scenarios, load_scenario
    from newretail.tables.manifest import MANIFEST, scenario_sha256

    scenario = load_scenario(name if str(name) in available_scenarios() else Path(name))
    folder = Path(path) if path is not None else dataset_path(name, scale=scale, seed=seed, root=root)
    stored = _read_manifest(folder / MANIFEST)
    wanted = {
        "scenario_sha256": scenario_sha256(scenario.model_dump(mode="json")),
        "scale": float(scale),
        "seed": seed,
        "package_version": __version__,
        "calibration_source": "scenario",
    }
    if stored is not None and "groups" not in stored and all(stored.get(k) == v for k, v in wanted.items()):
        return open_audited(folder)
    generate(scenario, scale=scale, seed=seed, out=folder, workers=workers, overwrite=True)
    return open_audited(folder)


def _read_manifest(path: Path) -> dict[str, object] | None:
    """The manifest's JSON object, or None when there is none to compare (missing or unreadable)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return found if isinstance(found, dict) else None
