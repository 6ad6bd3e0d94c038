"""The output folder of a generation run: what in it is the package's, the run's lock, and the swap into place.

The package owns only what it lists. A folder it writes carries a marker, ``.run-spec.json``, written before the
first partition with the run's spec and every file the run will write, and at the end ``manifest.json``, which lists
every file written. Only those files, the package's own bookkeeping files (:data:`META`) and its temporary partition
files are ever deleted; anything else in the folder is the user's, and a run that would have to remove it refuses
instead, naming it (:func:`foreign_entry`).

A complete dataset is never deleted before its replacement is complete: ``--overwrite`` draws the new one into a
hidden sibling folder (:func:`staging`) and swaps the two at the end (:func:`swap_into_place`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newretail.generate.errors import GenerateError
from newretail.tables import MANIFEST, SCHEMAS, polars_schema, sha256_file

if TYPE_CHECKING:
    import polars as pl
from newretail.tables.manifest import listed_paths
from newretail.tables.stamps import Stamps, file_state

__all__ = [
    "LOCK",
    "META",
    "RUN_SPEC",
    "Lock",
    "check_writable",
    "column_encodings",
    "existing",
    "foreign_entry",
    "manifest_spec",
    "prepare",
    "read_json",
    "record_stamps",
    "remove_owned",
    "restore_interrupted_swap",
    "retired",
    "staging",
    "swap_into_place",
    "write_marker",
    "write_partition",
]

RUN_SPEC = ".run-spec.json"
LOCK = ".lock"
META = frozenset({MANIFEST, RUN_SPEC, LOCK, f".{MANIFEST}.tmp", ".run-spec.tmp"})
TMP_PART = re.compile(r"\.part-\d{5}\.parquet\.tmp-\d+")
TMP_LOCK = re.compile(r"\.lock\.\d+\.tmp")  # a lock being created (see Lock)
_NEW, _OLD = "newretail-new", "newretail-old"


STATE_KEYS = ("state", "taken", "written")  # what run_task's records carry beside the manifest's fields
ROW_GROUP_ROWS = 1 << 20  # rows per parquet row group (pyarrow's default; a user shard's page views make 3)
# zstd level 1: 15% less CPU than level 3 for 4% more bytes, measured on a user shard's five tables when chosen
COMPRESSION_LEVEL = 1


def column_encodings(frame: pl.DataFrame) -> tuple[dict[str, str], list[str]]:
    """The parquet encoding of each column of ``frame`` (``{name: encoding}``) and the columns written with a
    dictionary.

    Integers that never decrease (ids, mostly) are delta-encoded, which stores a run of consecutive ids in almost
    nothing; other integers are byte-stream-split (bytes of equal weight stored together, which zstd then compresses
    well). Floats are written plain: most of ours repeat (amounts in cents, a shopper's probabilities spread over the
    shopper's visits), and zstd finds those repeats in plain values but not after a byte-stream split (a user
    shard's truth columns take a third of the bytes, and the orders' amounts half; the split was smaller, by 8%, only
    for the banners' click probabilities). Categories are dictionary-encoded, flags and text plain.
    """
    import polars as pl

    encodings: dict[str, str] = {}
    dictionary: list[str] = []
    for name, dtype in frame.schema.items():
        if dtype.is_integer():
            monotone = frame.height < 2 or bool(frame[name].is_sorted())
            encodings[name] = "DELTA_BINARY_PACKED" if monotone else "BYTE_STREAM_SPLIT"
        elif dtype.is_float():
            encodings[name] = "PLAIN"
        elif isinstance(dtype, (pl.Enum, pl.Categorical)):
            dictionary.append(name)
    return encodings, dictionary


def write_partition(frame: pl.DataFrame, table: str, path: Path) -> None:
    """Write one partition's frame to ``path`` as parquet (zstd), with an encoding chosen per column
    (:func:`column_encodings`).

    Deterministic: the same frame gives the same bytes. polars reads the files back with the declared schema (the
    enums' categories travel in the arrow schema stored in the footer).

    Raises
    ------
    ValueError
        When the frame's columns or types are not ``table``'s declared schema (a generator bug, never written).
    """
    import pyarrow.parquet as pq

    if frame.schema != polars_schema(table):
        raise ValueError(f"{table}: the generator drew columns {dict(frame.schema)} instead of the declared schema")
    encodings, dictionary = column_encodings(frame)
    pq.write_table(
        frame.to_arrow(),
        path,
        row_group_size=ROW_GROUP_ROWS,
        compression="zstd",
        compression_level=COMPRESSION_LEVEL,
        use_dictionary=dictionary or False,
        column_encoding=encodings or None,
        write_statistics=True,
    )


def record_stamps(out: Path, records: dict[str, dict[str, Any]]) -> None:
    """Stamp the files of the dataset just written in ``out`` (:mod:`newretail.tables.stamps`), so the first
    ``newretail claims`` need not read them again: each file whose state now is the state it was hashed in by the
    worker that made its record. A file this run wrote is stamped as checked in full (the generator checked its
    frame against the declared schema before writing it); one left by an interrupted run, as hashed only."""
    manifest = read_json(out / MANIFEST) or {}
    if not isinstance(manifest.get("digest"), str):
        return
    stamps = Stamps.load(out, manifest["digest"])
    for rel, rec in sorted(records.items()):
        if not rec.get("state"):
            continue
        taken = time.time_ns()
        try:
            now = file_state((out / rel).stat())
        except OSError:
            continue
        if list(now) == list(rec["state"]):
            checked = "schema" if rec.get("written") else "sha256"
            stamps.put(rel, now, rec["sha256"], checked, taken=taken, by="generate")
    stamps.save()


def staging(out: Path) -> Path:
    """Hidden sibling folder a replacement dataset is drawn into before it is swapped into ``out``."""
    return out.parent / f".{out.name}.{_NEW}"


def retired(out: Path) -> Path:
    """Hidden sibling folder the replaced dataset is moved to during a swap, then removed."""
    return out.parent / f".{out.name}.{_OLD}"


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object read from ``path``, or None when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _owned(folder: Path) -> set[str]:
    """Relative paths of the partition files the folder's manifest or marker lists."""
    owned = listed_paths(read_json(folder / MANIFEST) or {})
    planned = (read_json(folder / RUN_SPEC) or {}).get("files")
    tables: dict[str, Any] = {}
    for rel in planned if isinstance(planned, list) else []:
        if isinstance(rel, str):
            tables.setdefault(rel.split("/")[0], {"files": []})["files"].append({"path": rel})
    return owned | listed_paths({"tables": tables})


def _is_our_lock(path: Path) -> bool:
    text = path.read_text(errors="replace").strip() if path.is_file() else ""
    return text.isdigit() or (read_json(path) or {}).get("newretail_lock") is not None


def _is_ours(entry: Path) -> bool:
    """Whether a file at the top of a dataset folder is one of the package's bookkeeping files (by name and, for
    the manifest, the marker and the lock, by content: a user's own ``manifest.json`` is not ours)."""
    name = entry.name
    if not entry.is_file():
        return False
    if name == MANIFEST:
        return {"tables", "scenario", "seed"} <= (read_json(entry) or {}).keys()
    if name == RUN_SPEC:
        found = read_json(entry) or {}
        return "spec" in found or {"scenario", "seed", "package_version"} <= found.keys()
    if name == LOCK:
        return _is_our_lock(entry)
    return name in META or bool(TMP_LOCK.fullmatch(name))


def foreign_entry(folder: Path) -> str | None:
    """The first entry of ``folder`` (sorted, relative path) that the package did not write, or None.

    Ours: the manifest, the marker, the lock and their temporary files; in a table's folder, the partition files
    the manifest or the marker lists and, when one of them is there, temporary partition files of a killed run.
    Symbolic links are never ours.
    """
    if not folder.is_dir():
        return None
    owned = _owned(folder)
    marked = _is_ours(folder / MANIFEST) or _is_ours(folder / RUN_SPEC)
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        name = entry.name
        if entry.is_symlink():
            return name
        if _is_ours(entry):
            continue
        if name in SCHEMAS and entry.is_dir() and marked:
            for sub in sorted(entry.iterdir(), key=lambda p: p.name):
                rel = f"{name}/{sub.name}"
                regular = sub.is_file() and not sub.is_symlink()
                if not (regular and (rel in owned or TMP_PART.fullmatch(sub.name))):
                    return rel
            continue
        return name
    return None


def remove_owned(folder: Path, *, keep_lock: bool = False) -> None:
    """Delete what the package wrote in ``folder`` (see :func:`foreign_entry`), then the folder when it is left
    empty. Refuses, naming it, when anything else is there."""
    if not folder.is_dir():
        return
    other = foreign_entry(folder)
    if other is not None:
        raise GenerateError(f"{folder}: holds {other}, which newretail did not write; it was left untouched")
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            for sub in entry.iterdir():
                sub.unlink()
            entry.rmdir()
        elif not (keep_lock and entry.name == LOCK):
            entry.unlink()
    with contextlib.suppress(OSError):  # not empty (the kept lock) or the user's folder: leave it
        if not keep_lock:
            folder.rmdir()


def write_marker(folder: Path, spec: dict[str, Any], files: list[str]) -> None:
    """Write the marker (atomically): the run's spec and every file the run will write."""
    tmp = folder / ".run-spec.tmp"
    tmp.write_text(json.dumps({"spec": spec, "files": files}, sort_keys=True))
    os.replace(tmp, folder / RUN_SPEC)


def check_writable(out: Path) -> None:
    """Refuse, in one line, an output folder that is a file, lies under a file, or cannot be created or written."""
    if out.exists() and not out.is_dir():
        raise GenerateError(f"out = {str(out)!r}: is a file, not a folder; choose a folder for the dataset")
    probe = out
    while not probe.exists():
        if probe.is_symlink():  # a dangling link
            raise GenerateError(f"out = {str(out)!r}: {probe} is a broken symbolic link")
        probe = probe.parent
    if not probe.is_dir():
        raise GenerateError(f"out = {str(out)!r}: {probe} is a file, so no folder can be made under it")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise GenerateError(f"out = {str(out)!r}: {probe} is not writable; choose another folder")


def restore_interrupted_swap(out: Path) -> None:
    """Undo a swap a killed run left half done: the replaced dataset moved aside and nothing moved in."""
    old = retired(out)
    if old.is_dir() and not out.exists():
        os.replace(old, out)
    elif old.is_dir():
        remove_owned(old)


def swap_into_place(new: Path, out: Path, lock: Lock) -> None:
    """Move the finished dataset ``new`` to ``out`` and remove the dataset it replaces (the package's files only;
    ``out`` was checked to hold nothing else). The lock moves with the replaced dataset and goes with it."""
    old = retired(out)
    os.replace(out, old)
    lock.path = old / LOCK
    os.replace(new, out)
    remove_owned(old)


def manifest_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    """The run spec a manifest records (see ``newretail.generate.run.run_spec``): equal specs, equal bytes."""
    spec = {k: manifest.get(k) for k in ("scenario", "scale", "seed", "package_version")}
    if manifest.get("calibration_source") == "given":
        spec["calibration"] = manifest.get("calibration")
    if "groups" in manifest:
        spec["groups"] = manifest["groups"]
    return spec


def existing(folder: Path) -> tuple[str, dict[str, Any] | None]:
    """What a folder holds: ``("complete", spec)`` (a manifest of ours), ``("partial", spec)`` (a run's marker,
    no manifest) or ``("empty", None)``."""
    manifest = read_json(folder / MANIFEST)
    if manifest is not None and {"tables", "scenario", "seed"} <= manifest.keys():
        return "complete", manifest_spec(manifest)
    marker = read_json(folder / RUN_SPEC)
    if marker is not None:
        return "partial", marker.get("spec", marker)  # an older version wrote the spec alone
    return "empty", None


def prepare(out: Path, spec: dict[str, Any], files: list[str]) -> None:
    """Make ``out`` ready for the run (under its lock): another run's files of ours removed, damaged partitions
    of a finished run of the same spec removed (they are drawn again, byte-identical), the marker written."""
    state, found = existing(out)
    if state != "empty" and found != spec:
        remove_owned(out, keep_lock=True)
    elif state == "complete":
        old = read_json(out / MANIFEST) or {}
        safe = listed_paths(old)  # never a path the manifest could point outside the folder with
        for entry in old["tables"].values() if isinstance(old.get("tables"), dict) else []:
            for rec in entry.get("files", []) if isinstance(entry, dict) else []:
                file = out / str(rec.get("path"))
                if rec.get("path") not in safe or file.is_symlink() or not file.is_file():
                    continue
                if file.stat().st_size != rec.get("bytes") or sha256_file(file) != rec.get("sha256"):
                    file.unlink()
    (out / MANIFEST).unlink(missing_ok=True)  # the manifest is rewritten last
    for stale in out.glob("*/.part-*.tmp-*"):
        stale.unlink()
    write_marker(out, spec, files)


# ------------------------------------------------------------------------------------------------------------ lock
def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid from the lock's holder."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(pid: int, started: int | None) -> bool:
    """Whether the process that wrote a lock still runs. A process of another user is alive (PermissionError is
    not a missing process); a pid now held by a process started at another time is not."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or _start_ticks(pid) in (None, started)


class Lock:
    """An exclusive lock file: a second concurrent run into the same folder refuses instead of interleaving.

    The file holds the holder's pid, host and start time and is created whole (written aside, then hard-linked into
    place), so it is never seen half written. Only its holder removes it, or a later run that finds its holder gone
    (no such process on this host, or the pid now belongs to a process started later).
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK
        pid = os.getpid()
        self.content = json.dumps(
            {"newretail_lock": 1, "pid": pid, "host": socket.gethostname(), "started": _start_ticks(pid)}
        )

    def _create(self) -> bool:
        tmp = self.path.with_name(f".lock.{os.getpid()}.tmp")
        tmp.write_text(self.content)
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w") as fh:
                fh.write(self.content)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def _holder(self) -> tuple[str, dict[str, Any] | None]:
        text = self.path.read_text(errors="replace").strip() if self.path.is_file() else ""
        if text.isdigit():  # the plain pid an older version wrote
            return text, {"pid": int(text), "host": socket.gethostname(), "started": None}
        found = read_json(self.path)
        return text, found if found and isinstance(found.get("pid"), int) else None

    def __enter__(self) -> Lock:
        for _ in range(3):
            if self._create():
                return self
            text, holder = self._holder()
            if holder is None:
                if not self.path.exists():
                    continue
                raise GenerateError(
                    f"{self.path} exists but is not a newretail lock; remove it if no run is writing {self.path.parent}"
                )
            if holder.get("host") != socket.gethostname():
                raise GenerateError(
                    f"{self.path.parent} is being written by pid {holder['pid']} on {holder.get('host')}; if that run "
                    f"is gone, remove {self.path}"
                )
            if _alive(holder["pid"], holder.get("started")):
                raise GenerateError(f"{self.path.parent} is being written by another run (pid {holder['pid']})")
            if self._holder()[0] == text:  # still the dead run's lock: take it over
                self.path.unlink(missing_ok=True)
        raise GenerateError(f"{self.path.parent}: could not take the lock {self.path}")

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            if self.path.read_text() == self.content:  # only the holder removes it
                self.path.unlink()
