"""The manifest format: ``manifest.json``, written last in a dataset folder, lists every partition file with its
rows, size, sha256 and sampling fraction, next to the scenario, scale, seed and calibration that made them.

The generator writes it through :func:`save_manifest` (and :func:`file_record` for each file); readers load it with
:func:`load_manifest` and check files with :func:`sha256_file`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from newretail.tables.schemas import SCHEMAS

__all__ = [
    "FORMAT",
    "MANIFEST",
    "REQUIRED_KEYS",
    "ManifestError",
    "file_record",
    "load_manifest",
    "save_manifest",
    "sha256_file",
]

MANIFEST = "manifest.json"
FORMAT = 1  # version of the manifest layout
REQUIRED_KEYS = ("tables", "scenario", "seed", "scale")


class ManifestError(ValueError):
    """A manifest that is missing or damaged; the message names the file and what is wrong with it."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_record(folder: str | Path, rel: str, fraction: float) -> dict[str, Any]:
    """The manifest's record of one parquet partition: ``path`` (relative to ``folder``), ``rows``, ``bytes``,
    ``sha256`` and ``fraction`` (the share of the full event its rows stand for, in (0, 1])."""
    import pyarrow.parquet as pq

    if not (isinstance(fraction, (int, float)) and 0 < fraction <= 1):
        raise ValueError(f"fraction = {fraction!r}: must be a share in (0, 1]")
    path = Path(folder) / rel
    return {
        "path": rel,
        "rows": pq.ParquetFile(path).metadata.num_rows,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        "fraction": fraction,
    }


def save_manifest(folder: str | Path, fields: dict[str, Any], files: dict[str, list[dict[str, Any]]]) -> Path:
    """Write ``<folder>/manifest.json`` atomically: the format version, ``fields`` (name, scenario, scale, seed,
    ..., in their order), then ``tables`` in the schemas' order, each with its total rows and file records.

    Raises
    ------
    ValueError
        Naming a table of ``files`` that has no schema.
    """
    unknown = [t for t in files if t not in SCHEMAS]
    if unknown:
        raise ValueError(f"files: no schema for table(s) {', '.join(unknown)}")
    tables = {t: {"rows": sum(rec["rows"] for rec in files[t]), "files": list(files[t])} for t in SCHEMAS if t in files}
    manifest = {"format": FORMAT, **fields, "tables": tables}
    folder = Path(folder)
    path = folder / MANIFEST
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def load_manifest(folder: str | Path) -> dict[str, Any]:
    """Read and check the manifest of a dataset folder (it exists, parses, and has the keys readers need).

    Raises
    ------
    ManifestError
        Naming the folder or the manifest and what is wrong.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{folder}: no {MANIFEST}; the dataset is incomplete or not a dataset (generate it again)")
    try:
        manifest = json.loads(path.read_text())
        missing = [key for key in REQUIRED_KEYS if key not in manifest]
        if missing:
            raise KeyError(", ".join(missing))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path}: damaged manifest ({exc})") from None
    return dict(manifest)
