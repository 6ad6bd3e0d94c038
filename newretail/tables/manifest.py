"""The manifest format: ``manifest.json``, written last in a dataset folder, lists every partition file with its
rows, size, sha256 and sampling fraction, next to the scenario, scale, seed and calibration that made them.

The generator writes it through :func:`save_manifest` (and :func:`file_record` for each file); readers load it with
:func:`load_manifest`, check that it is one the package wrote and that every file it names lies inside the folder
with :func:`check_manifest`, and check files with :func:`sha256_file`.

A manifest is never trusted as read: its ``digest`` (sha256 of its own canonical JSON) and ``scenario_sha256`` (of
the scenario it records) must match, and every file path must be exactly ``<table>/part-NNNNN.parquet``, so no path
can leave the folder. The digest shows an edit, not a forger (anyone can recompute it); that the fractions and the
calibration are the ones the generator makes of the recorded scenario is checked above this layer, by
:func:`newretail.generate.audit.audit`, which ``newretail verify`` and ``newretail claims`` run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from newretail.tables.schemas import SCHEMAS
from newretail.tables.stamps import hash_with_state

__all__ = [
    "FORMAT",
    "MANIFEST",
    "REQUIRED_KEYS",
    "ManifestError",
    "canonical_json",
    "check_manifest",
    "file_record",
    "listed_paths",
    "load_manifest",
    "manifest_digest",
    "part_path",
    "save_manifest",
    "scenario_sha256",
    "sha256_file",
]

MANIFEST = "manifest.json"
FORMAT = 2  # version of the manifest layout (2: digest, scenario_sha256, paths checked)
REQUIRED_KEYS = ("tables", "scenario", "seed", "scale")
_PART = re.compile(r"part-(\d{5})\.parquet")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestError(ValueError):
    """A manifest that is missing or damaged; the message names the file and what is wrong with it."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal content, equal text (the input of every content hash here)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def scenario_sha256(scenario: dict[str, Any]) -> str:
    """Content hash of a scenario as a manifest stores it (``Scenario.model_dump(mode="json")``): sha256 of its
    canonical JSON, sorted keys."""
    return hashlib.sha256(canonical_json(scenario).encode()).hexdigest()


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of a manifest's canonical JSON without its own ``digest`` field."""
    return hashlib.sha256(canonical_json({k: v for k, v in manifest.items() if k != "digest"}).encode()).hexdigest()


def part_path(table: str, number: int) -> str:
    """Relative path of a partition file inside a dataset folder: ``<table>/part-NNNNN.parquet``."""
    return f"{table}/part-{number:05d}.parquet"


def file_record(folder: str | Path, rel: str, fraction: float, *, state: bool = False) -> dict[str, Any]:
    """The manifest's record of one parquet partition: ``path`` (relative to ``folder``), ``rows``, ``bytes``,
    ``sha256`` and ``fraction`` (the share of the full event its rows stand for, in (0, 1]).

    With ``state`` the record also carries the file's state while it was hashed (``state``, or None when it changed
    during the read) and the clock just before (``taken``, ns), for a verification stamp
    (:mod:`newretail.tables.stamps`); they are not part of the manifest.
    """
    import pyarrow.parquet as pq

    if not (isinstance(fraction, (int, float)) and 0 < fraction <= 1):
        raise ValueError(f"fraction = {fraction!r}: must be a share in (0, 1]")
    path = Path(folder) / rel
    sha256, found, taken = hash_with_state(path)
    record: dict[str, Any] = {
        "path": rel,
        "rows": pq.ParquetFile(path).metadata.num_rows,
        "bytes": path.stat().st_size,
        "sha256": sha256,
        "fraction": fraction,
    }
    if state:
        record["state"], record["taken"] = (list(found) if found else None), taken
    return record


def save_manifest(folder: str | Path, fields: dict[str, Any], files: dict[str, list[dict[str, Any]]]) -> Path:
    """Write ``<folder>/manifest.json`` atomically: the format version, ``fields`` (name, scenario, scale, seed,
    ..., in their order), then ``tables`` in the schemas' order, each with its total rows and file records, then
    ``digest`` (see :func:`manifest_digest`).

    Raises
    ------
    ValueError
        Naming a table of ``files`` that has no schema.
    """
    unknown = [t for t in files if t not in SCHEMAS]
    if unknown:
        raise ValueError(f"files: no schema for table(s) {', '.join(unknown)}")
    tables = {t: {"rows": sum(rec["rows"] for rec in files[t]), "files": list(files[t])} for t in SCHEMAS if t in files}
    manifest: dict[str, Any] = {"format": FORMAT, **fields, "tables": tables}
    manifest["digest"] = manifest_digest(manifest)
    folder = Path(folder)
    path = folder / MANIFEST
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def load_manifest(folder: str | Path) -> dict[str, Any]:
    """Read a dataset folder's manifest (it exists, parses, and has the keys readers need); see
    :func:`check_manifest` for whether it can be believed.

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
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path}: damaged manifest ({exc})") from None
    return dict(manifest)


def _is_part_path(table: str, rel: Any) -> bool:
    """``rel`` is exactly ``<table>/part-NNNNN.parquet``: relative, normalised, inside the folder."""
    return isinstance(rel, str) and rel.split("/")[0] == table and bool(_PART.fullmatch(rel.removeprefix(f"{table}/")))


def _check_record(table: str, index: int, rec: Any) -> str | None:
    """What is wrong with one file record (None when nothing): the path is exactly ``<table>/part-NNNNN.parquet``
    (so relative, normalised and inside the folder, decided without touching the file system)."""
    if not isinstance(rec, dict):
        return f"tables.{table}.files[{index}]: not a file record"
    rel = rec.get("path")
    if not _is_part_path(table, rel):
        return f"file path {rel!r} of table {table!r} is not {table}/part-NNNNN.parquet inside the dataset folder"
    for key in ("rows", "bytes"):
        value = rec.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{rel}: {key} = {value!r} is not a count"
    if not isinstance(rec.get("sha256"), str) or not _SHA256.fullmatch(rec["sha256"]):
        return f"{rel}: sha256 = {rec.get('sha256')!r} is not a sha256"
    fraction = rec.get("fraction")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        return f"{rel}: fraction = {fraction!r} is not a share in (0, 1]"
    return None


def check_manifest(manifest: dict[str, Any], source: str | Path) -> None:
    """Refuse a manifest the package did not write as it is: another format, an edited field (its digest or its
    scenario's hash differ), an unknown table, or a file path other than ``<table>/part-NNNNN.parquet``.

    Parameters
    ----------
    manifest : as read by :func:`load_manifest`.
    source : the manifest's path, for the message.

    Raises
    ------
    ManifestError
        One line naming ``source`` and the first problem.
    """
    version = manifest.get("format")
    if version != FORMAT:
        raise ManifestError(
            f"{source}: manifest format {version!r}, written by another version of newretail (this one reads "
            f"{FORMAT}); generate the dataset again"
        )
    if manifest.get("digest") != manifest_digest(manifest):
        raise ManifestError(f"{source}: edited after it was written (its digest does not match its content)")
    scenario = manifest.get("scenario")
    if not isinstance(scenario, dict) or manifest.get("scenario_sha256") != scenario_sha256(scenario):
        raise ManifestError(f"{source}: the scenario was edited (scenario_sha256 does not match the scenario)")
    tables = manifest.get("tables")
    if not isinstance(tables, dict):
        raise ManifestError(f"{source}: tables is not a mapping")
    for table, entry in tables.items():
        if table not in SCHEMAS:
            raise ManifestError(f"{source}: unknown table {table!r}")
        files = entry.get("files") if isinstance(entry, dict) else None
        if not isinstance(files, list):
            raise ManifestError(f"{source}: tables.{table}.files is not a list")
        for index, rec in enumerate(files):
            problem = _check_record(table, index, rec)
            if problem:
                raise ManifestError(f"{source}: {problem}")


def listed_paths(manifest: dict[str, Any]) -> set[str]:
    """The file paths a manifest lists that have the shape of a partition of a known table (others are ignored:
    a path that fails :func:`check_manifest` is never the package's to delete)."""
    found: set[str] = set()
    tables = manifest.get("tables")
    for table, entry in (tables if isinstance(tables, dict) else {}).items():
        files = entry.get("files") if isinstance(entry, dict) else None
        for rec in files if isinstance(files, list) else []:
            if table in SCHEMAS and isinstance(rec, dict) and _is_part_path(table, rec.get("path")):
                found.add(rec["path"])
    return found
