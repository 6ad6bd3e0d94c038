"""Reading a generated dataset: its manifest, lazy scans of its tables with sampling weights, and verification."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from newretail.scenario import Scenario, ScenarioError, scenario_from_dict
from newretail.tables.manifest import MANIFEST, ManifestError, check_manifest, load_manifest
from newretail.tables.schemas import SCHEMAS, polars_schema
from newretail.tables.stamps import Stamps, file_state, hash_with_state

__all__ = ["Dataset", "DatasetError", "open_dataset", "verify"]


class DatasetError(RuntimeError):
    """A dataset that cannot be trusted; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class Dataset:
    """A generated dataset folder and its manifest."""

    path: Path
    manifest: dict[str, Any]
    hashes_checked: bool = False  # every listed file matched its size and sha256 when opened

    @cached_property
    def scenario(self) -> Scenario:
        """The scenario the dataset was generated from (its targets judge the claims)."""
        return scenario_from_dict(self.manifest["scenario"], source=str(self.path / MANIFEST))

    @property
    def seed(self) -> int:
        return int(self.manifest["seed"])

    @property
    def scale(self) -> float:
        return float(self.manifest["scale"])

    @property
    def tables(self) -> list[str]:
        return list(self.manifest["tables"])

    def files(self, table: str) -> list[dict[str, Any]]:
        """The manifest's records (path, rows, bytes, sha256, fraction) of a table's partition files."""
        if table not in self.manifest["tables"]:
            raise DatasetError(f"{self.path}: no table {table!r} (tables: {', '.join(self.tables)})")
        return list(self.manifest["tables"][table]["files"])

    def scan(self, table: str, *, weights: bool = False) -> pl.LazyFrame:
        """Lazy scan of a table over all its partitions.

        With ``weights=True`` a column ``weight`` (rows of the full event each row stands for, 1 / fraction)
        is added, so ``pl.col("weight").sum()`` estimates a full-scale count.
        """
        frames = []
        for rec in self.files(table):
            lf = pl.scan_parquet(self.path / rec["path"])
            if weights:
                lf = lf.with_columns(weight=pl.lit(1.0 / rec["fraction"], dtype=pl.Float64))
            frames.append(lf)
        if not frames:
            return pl.LazyFrame(schema=polars_schema(table))
        return pl.concat(frames, how="vertical")

    def read(self, table: str, *, weights: bool = False) -> pl.DataFrame:
        """Read a whole table into memory (small tables, or small scales)."""
        return self.scan(table, weights=weights).collect()

    def fraction(self, table: str) -> float:
        """The sampling fraction of a table whose files share one fraction."""
        fractions = {rec["fraction"] for rec in self.files(table)}
        if len(fractions) != 1:
            raise DatasetError(f"{table}: files are sampled at several fractions {sorted(fractions)}; use weights")
        return float(fractions.pop())


def open_dataset(path: str | Path, *, check: bool = True) -> Dataset:
    """Open a dataset folder by its manifest.

    The manifest is always checked first (:func:`~newretail.tables.check_manifest`: the package's format, its
    digest and its scenario's hash match, every file path is ``<table>/part-NNNNN.parquet``), and every listed file
    must be a regular file, not a symbolic link. With ``check`` (the default) every listed file is then compared
    with the manifest (size and sha256, about 1 s per GB), so a damaged or replaced file is refused with its name
    before any analysis reads it; a file whose verification stamp shows it unchanged since it was last found to
    match, or since the generator wrote it, is not read again (:mod:`newretail.tables.stamps` says what that
    trusts). :func:`verify` also validates every table's schema.

    ``check=False`` skips re-hashing the files. It is for speed on a folder you trust (one you generated yourself
    and verified): a flipped byte in a file is then read silently.

    Raises
    ------
    DatasetError
        Naming the manifest or the first bad file.
    """
    ds = _open(path)
    problem = _not_regular(ds)
    if problem:
        raise DatasetError(f"{ds.path}: {problem}")
    if check:
        report = verify(ds.path, schemas=False)
        if not report.ok:
            raise DatasetError(f"{ds.path}: {report.problem}")
        return replace(ds, hashes_checked=True)
    return ds


def _open(path: str | Path) -> Dataset:
    folder = Path(path)
    try:
        manifest = load_manifest(folder)
        check_manifest(manifest, folder / MANIFEST)
    except ManifestError as exc:
        raise DatasetError(str(exc)) from None
    ds = Dataset(folder, manifest)
    try:
        _ = ds.scenario  # validate the stored scenario now
    except ScenarioError as exc:
        raise DatasetError(f"{folder / MANIFEST}: {exc}") from None
    return ds


def _not_regular(ds: Dataset) -> str | None:
    """The first listed file that is a symbolic link, or in a table folder that is one (None when none is)."""
    for table in ds.tables:
        if (ds.path / table).is_symlink():
            return f"{table}: a symbolic link; a dataset holds regular folders and files only"
        for rec in ds.files(table):
            if (ds.path / rec["path"]).is_symlink():
                return f"{rec['path']}: a symbolic link; a dataset holds regular files only"
    return None


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify`: files checked, and the first problem found (None when all is well)."""

    files_checked: int
    rows_checked: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(path: str | Path, *, schemas: bool = True, reuse: bool = True) -> VerifyReport:
    """Check every file listed in the manifest: its size and sha256 and, with ``schemas``, its row count, its
    table's declared schema and the table's rules.

    Stops at the first bad file and names it. Files present on disk but not in the manifest are reported too. Every
    file found as the manifest says is stamped (:mod:`newretail.tables.stamps`); with ``reuse`` (the default) a file
    whose stamp shows it unchanged since such a check, or since the generator wrote it, is not read again, so opening
    the same dataset twice costs a ``stat`` per file the second time. ``reuse=False`` reads every file whatever the
    stamps say (``newretail verify``: for a dataset you suspect of damage below the file system).

    Raises
    ------
    DatasetError
        When the manifest itself is missing, damaged or edited (see :func:`open_dataset`).
    """
    ds = _open(path)
    irregular = _not_regular(ds)
    if irregular:
        return VerifyReport(0, 0, irregular)
    stamps = Stamps.load(ds.path, ds.manifest["digest"])
    checked = rows = 0
    listed: set[str] = set()
    try:
        for table in ds.tables:
            if table not in SCHEMAS:
                return VerifyReport(checked, rows, f"{table}: unknown table in the manifest")
            for rec in ds.files(table):
                listed.add(rec["path"])
                problem = _check_file(ds.path, table, rec, stamps, schemas=schemas, reuse=reuse)
                if problem:
                    return VerifyReport(checked, rows, f"{rec['path']}: {problem}")
                rows += rec["rows"] if schemas else 0
                checked += 1
    finally:
        stamps.save()
    for file in sorted(ds.path.glob("*/*.parquet")):
        rel = file.relative_to(ds.path).as_posix()
        if rel not in listed:
            return VerifyReport(checked, rows, f"{rel}: on disk but not in the manifest")
    return VerifyReport(checked, rows, None)


def _check_file(
    root: Path, table: str, rec: dict[str, Any], stamps: Stamps, *, schemas: bool, reuse: bool
) -> str | None:
    """What is wrong with one listed file (None when nothing), reading only what its stamp does not vouch for; the
    stamp is renewed after what was read."""
    rel, file = rec["path"], root / rec["path"]
    if not file.is_file():
        return "listed in the manifest but missing"
    st = file.stat()
    if st.st_size != rec["bytes"]:
        return "content differs from the manifest (size)"
    need = "schema" if schemas else "sha256"
    if reuse and stamps.covers(rel, st, rec["sha256"], need):
        return None
    state: tuple[int, int, int, int, int] | None
    if reuse and stamps.covers(rel, st, rec["sha256"], "sha256"):
        state, taken = file_state(st), 0  # the bytes are known; only the schema is read (taken: below)
    else:
        sha256, state, taken = hash_with_state(file)
        if sha256 != rec["sha256"]:
            stamps.put(rel, None, sha256, "sha256", taken=taken)
            return "content differs from the manifest (sha256)"
    if schemas:
        try:
            frame = pl.read_parquet(file)
        except Exception as exc:
            return f"unreadable parquet ({exc})"
        if frame.height != rec["rows"]:
            return f"{frame.height} rows, manifest says {rec['rows']}"
        if frame.schema != polars_schema(table):
            return f"schema differs from {table}'s declared schema"
        if not SCHEMAS[table].is_valid(frame):
            return f"values break {table}'s schema rules"
        taken = time.time_ns()
        if file_state(file.stat()) != state:  # changed while it was read: the next check reads it again
            state = None
    stamps.put(rel, state, rec["sha256"], need, taken=taken)
    return None
