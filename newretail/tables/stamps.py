"""Verification stamps: which files of a dataset were found to match its manifest, so that an unchanged file is not
read again on the next open.

Checking a dataset (:func:`newretail.tables.verify`) re-hashes every file (about 1 s per GB) and reads every table to
validate its schema (several times that): at a billion page views, minutes before ``newretail claims`` can start. A
stamp records what was checked of one file and the file's state when it was: ``(st_dev, st_ino, st_size,
st_mtime_ns, st_ctime_ns)``. On the next check a file whose state is the same is not read again.

Trust model
-----------
* **What changes a stamp.** Any change of a file through the file system: a write or truncation changes its size or
  its ctime, a replacement (rename, copy, restore from a backup) its inode or device. ctime is set by the kernel to
  the current time and cannot be set back by an unprivileged user, even where ``os.utime`` restores the mtime, so an
  edit is always seen. What a stamp cannot see: a change below the file system (a failing disk, a byte flipped on
  the medium) and a change by someone who can set the system clock. ``newretail verify`` checks every file in full
  whatever the stamps say: run it on a dataset you suspect.
* **Racing edits.** A file system stores times at its clock's resolution (a few milliseconds, a second on some), so a
  second edit within the same tick as the one before a stamp could leave the same times behind. A stamp therefore
  counts only when the file's ctime is older than the moment the stamp was taken by :data:`MARGIN_NS` (the same rule
  as git's index): a file changed just before it was checked is checked again next time.
* **Where stamps live.** In the per-user cache folder (:func:`newretail.cache.folder`, ``verified/``), one file per
  dataset, keyed by the dataset folder's absolute path and its manifest's digest, so a different manifest (or a
  dataset moved or copied elsewhere) is checked in full. A stamp file that another user owns or can write is
  ignored: stamps are as trustworthy as the cache folder, which only its user can write.
* **What a stamp stands for.** ``sha256``: the file's bytes matched the manifest's sha256 when it was stamped.
  ``schema``: its schema, row count and table rules were validated too, or it was written by the generator itself
  (``by = "generate"``), which checks every frame against its table's declared columns and types before writing and
  whose rules hold by construction (tested in ``tests/test_generate.py``); a partition left by an earlier, interrupted
  run is stamped ``sha256`` only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CHECKS", "MARGIN_NS", "Stamps", "file_state", "hash_with_state"]

CHECKS = ("sha256", "schema")  # what a stamp can vouch for, each including the ones before it
MARGIN_NS = 2_000_000_000  # a stamp counts when the file's ctime is at least this much older than the stamp (2 s)
FOLDER = "verified"
_BLOCK = 1 << 20


def file_state(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """The parts of a file's status that any change of its content through the file system moves."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def hash_with_state(path: str | Path) -> tuple[str, tuple[int, int, int, int, int] | None, int]:
    """sha256 of a file, the file's state while it was read (None when it changed during the read), and the clock
    (ns since the epoch) just before the state was taken."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        taken = time.time_ns()
        before = file_state(os.fstat(fh.fileno()))
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
        after = file_state(os.fstat(fh.fileno()))
    return digest.hexdigest(), before if before == after else None, taken


def _store(folder: Path, digest: str) -> Path:
    key = hashlib.sha256(f"{folder}\0{digest}".encode()).hexdigest()[:40]
    from newretail.cache import folder as cache_folder

    return cache_folder() / FOLDER / f"{key}.json"


def _trusted_file(path: Path) -> bool:
    """Whether a stamp file is this user's own and writable by nobody else (POSIX; elsewhere: it is a file)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    if hasattr(os, "getuid"):
        return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return True


@dataclass
class Stamps:
    """The stamps of one dataset folder under one manifest (see the module's docstring).

    ``Stamps.load(folder, digest)``, then :meth:`covers` before checking a file and :meth:`put` after, then
    :meth:`save`. Nothing here raises for a missing, damaged or unwritable store: stamps only ever save work.
    """

    folder: Path
    digest: str
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def load(cls, folder: str | Path, digest: str) -> Stamps:
        """The stamps recorded for ``folder`` (made absolute) under the manifest whose digest is ``digest``."""
        root = Path(folder).resolve()
        found: dict[str, dict[str, Any]] = {}
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            path = _store(root, digest)
            if _trusted_file(path):
                data = json.loads(path.read_text())
                if data.get("folder") == str(root) and data.get("digest") == digest:
                    found = {k: v for k, v in data.get("files", {}).items() if isinstance(v, dict)}
        return cls(root, digest, found)

    def covers(self, rel: str, st: os.stat_result, sha256: str, check: str) -> bool:
        """Whether file ``rel``, now in state ``st``, was found to match ``sha256`` (and, for ``check="schema"``, its
        table's schema) in this state, long enough after its last change (:data:`MARGIN_NS`)."""
        entry = self.entries.get(rel)
        if not entry:
            return False
        try:
            state = tuple(int(x) for x in entry["state"])
            ok = (
                state == file_state(st)
                and entry["sha256"] == sha256
                and CHECKS.index(entry["checked"]) >= CHECKS.index(check)
                and state[4] + MARGIN_NS <= int(entry["taken"])
            )
        except (KeyError, TypeError, ValueError):
            return False
        return bool(ok)

    def put(
        self,
        rel: str,
        state: tuple[int, int, int, int, int] | None,
        sha256: str,
        checked: str,
        *,
        taken: int,
        by: str = "verify",
    ) -> None:
        """Record that file ``rel`` in ``state`` (taken at ``taken`` ns) matched ``sha256`` and passed ``checked``;
        a None state (the file changed while it was read) removes its stamp."""
        if checked not in CHECKS:
            raise ValueError(f"checked = {checked!r}: must be one of {', '.join(CHECKS)}")
        if state is None:
            self.changed |= self.entries.pop(rel, None) is not None
            return
        old = self.entries.get(rel) or {}
        if old.get("state") == list(state) and old.get("sha256") == sha256 and old.get("checked") in CHECKS:
            if CHECKS.index(old["checked"]) > CHECKS.index(checked):  # a lesser check of the same state: keep more
                checked, by = old["checked"], str(old.get("by", by))
        entry = {"state": list(state), "sha256": sha256, "checked": checked, "taken": int(taken), "by": by}
        if self.entries.get(rel) != entry:
            self.entries[rel] = entry
            self.changed = True

    def save(self) -> None:
        """Write the stamps (atomically, readable by this user only) if any changed; a failure is ignored."""
        if not self.changed:
            return
        data = {"folder": str(self.folder), "digest": self.digest, "files": dict(sorted(self.entries.items()))}
        with contextlib.suppress(OSError, RuntimeError):
            path = _store(self.folder, self.digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh, separators=(",", ":"))
            os.replace(tmp, path)
            self.changed = False
