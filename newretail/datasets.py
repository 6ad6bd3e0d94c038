"""Named datasets through one registry: ``load("singles_day_2017", scale=1e-4, seed=0)``.

A dataset is generated on first use into ``root`` and reused afterwards (after checking its manifest matches).
"""

from __future__ import annotations

import json
from pathlib import Path

from newretail.generate.run import generate, plan
from newretail.scenario import available_scenarios
from newretail.tables import MANIFEST, Dataset, open_dataset

DEFAULT_ROOT = Path("data/synthetic")


def dataset_path(name: str, *, scale: float, seed: int, root: str | Path = DEFAULT_ROOT) -> Path:
    """Folder of a named dataset at a scale and seed, e.g. ``data/synthetic/singles_day_2017-1e-05-s0``."""
    return Path(root) / f"{Path(name).stem}-{scale:g}-s{seed}"


def load(
    name: str = "singles_day_2017",
    *,
    scale: float = 1e-4,
    seed: int = 0,
    path: str | Path | None = None,
    root: str | Path = DEFAULT_ROOT,
    workers: int | None = None,
) -> Dataset:
    """Open a generated dataset, generating it first if it is not there.

    Parameters
    ----------
    name : a shipped scenario name (see ``newretail scenario list``) or a scenario TOML path.
    scale : share of the full event, in (0, 1]; 1e-4 is about 7.5 million page views.
    seed : random seed.
    path : dataset folder; default ``<root>/<name>-<scale>-s<seed>``.
    workers : processes used if it must be generated (default: the machine's cores).
    """
    folder = Path(path) if path is not None else dataset_path(name, scale=scale, seed=seed, root=root)
    manifest = folder / MANIFEST
    if manifest.is_file():
        spec = plan(name if name in available_scenarios() else Path(name), scale=scale, seed=seed).spec()
        stored = json.loads(manifest.read_text())
        if all(stored.get(k) == v for k, v in spec.items()):
            return open_dataset(folder)
    generate(name, scale=scale, seed=seed, out=folder, workers=workers, overwrite=True)
    return open_dataset(folder)
