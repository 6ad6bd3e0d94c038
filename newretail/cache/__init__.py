"""What depends only on a scenario, computed once and kept by content: its calibration and its break-even frontiers.

A value is keyed by the sha256 of

* the scenario's canonical JSON (every field, keys sorted),
* the package version, and
* a digest of the source files the value depends on (:data:`SOURCES`: the generator for a calibration; the
  generator, the stress checks and the frontier search for frontiers),

so a change of the scenario, of the release or of the code during development never reads a stale entry: it
misses, computes and stores a new one. Entries are JSON files in a per-user cache folder
(``platformdirs.user_cache_dir("newretail")``, or ``$NEWRETAIL_CACHE``), written atomically (a temporary file
renamed into place). An entry that cannot be read, has another key or does not decode is recomputed, never
trusted. The bundled scenarios' entries ship inside the package (``newretail/scenarios/cache/``), so the first
``newretail claims`` on a day of a shipped scenario reads them; ``python -m newretail.cache build`` writes them again
after a change of the code they depend on (a test compares them with a fresh computation).

This module stores and finds; it computes nothing itself: :func:`newretail.generate.calibrate.calibrate` and
:func:`newretail.stress.frontier.scenario_frontiers` pass it the function that computes their value.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from functools import cache as _memo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import newretail

if TYPE_CHECKING:
    from newretail.scenario import Scenario

__all__ = [
    "ENV",
    "IRRELEVANT",
    "SHIPPED",
    "SOURCES",
    "cached",
    "code_digest",
    "entry_key",
    "folder",
    "load",
    "normalized",
    "shipped_path",
    "store",
]

ENV = "NEWRETAIL_CACHE"
PACKAGE = Path(newretail.__file__).resolve().parent
SHIPPED = PACKAGE / "scenarios" / "cache"
"""The entries shipped with the package, one file per kind and bundled scenario (``calibration-<name>.json``)."""

# the generator's model: what calibration solves and the expected values read (not how a run is planned, written,
# pooled or audited, which cannot move a solved parameter)
_MODEL = (
    *(f"generate/{m}.py" for m in ("calibrate", "expected", "baseline", "city", "impressions", "inquiries")),
    *(f"generate/{m}.py" for m in ("random_effects", "shoppers", "traffic")),
    "tables/categories.py",
)
SOURCES: dict[str, tuple[str, ...]] = {
    "calibration": ("cache/__init__.py", "scenario.py", *_MODEL),
    "frontiers": (
        "cache/__init__.py",
        "scenario.py",
        *_MODEL,
        "fmt.py",
        "claims/verdicts.py",
        "stress/checks*.py",
        "stress/judging.py",
        "stress/grid.py",
        "stress/grids/*.toml",
        "stress/frontier*.py",
    ),
}
"""The source files (globs relative to the package) each kind of value depends on (this module among them: how an
entry is written is part of what it holds)."""

IRRELEVANT: dict[str, dict[str, Any]] = {"frontiers": {"sampling.users_per_partition": 1}}
"""Scenario fields a kind of value cannot depend on, and the value they are keyed at: frontiers are expected values,
so how the generated rows are cut into files cannot move them, and scenarios that differ only there share an entry
(its value is computed on :func:`normalized`)."""

T = TypeVar("T")


def folder() -> Path:
    """The per-user cache folder: ``$NEWRETAIL_CACHE`` when set, else ``platformdirs.user_cache_dir("newretail")``."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("newretail", appauthor=False))


def _check_kind(kind: str) -> str:
    if kind not in SOURCES:
        raise ValueError(f"kind = {kind!r}: must be one of {', '.join(SOURCES)}")
    return kind


@_memo
def code_digest(kind: str) -> str:
    """sha256 of the source files ``kind`` depends on (:data:`SOURCES`; their paths and bytes, in a fixed order).

    Read once per process: a process runs the code it imported, whatever happens to the files afterwards.
    """
    digest = hashlib.sha256()
    for pattern in SOURCES[_check_kind(kind)]:
        for file in sorted(PACKAGE.glob(pattern)):
            digest.update(file.relative_to(PACKAGE).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def normalized(kind: str, scenario: Scenario) -> Scenario:
    """``scenario`` with the fields ``kind`` cannot depend on (:data:`IRRELEVANT`) set to the value it is keyed at."""
    changes = IRRELEVANT.get(_check_kind(kind))
    return scenario.with_changes(changes) if changes else scenario


def _canonical(scenario: Scenario) -> str:
    return json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def entry_key(kind: str, scenario: Scenario, **params: str) -> str:
    """The key of ``kind`` for ``scenario``: sha256 of its canonical JSON, the package version, the code digest of
    ``kind`` and ``params`` (e.g. ``grid="paper"``)."""
    spec = {
        "kind": _check_kind(kind),
        "scenario": _canonical(normalized(kind, scenario)),
        "version": newretail.__version__,
        "code": code_digest(kind),
        "params": params,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def shipped_path(kind: str, scenario: Scenario, **params: str) -> Path:
    """Where the package ships the entry of a bundled scenario: ``SHIPPED/<kind>-<scenario>[-<param>...].json``."""
    name = "-".join([_check_kind(kind), scenario.name, *(str(params[k]) for k in sorted(params))])
    return SHIPPED / f"{name}.json"


def _user_path(kind: str, key: str) -> Path:
    return folder() / f"{kind}-{key[:32]}.json"


def _read(path: Path, kind: str, key: str) -> Any | None:
    """The value stored at ``path`` when it is a readable entry of ``kind`` with ``key``; None otherwise."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("kind") != kind or entry.get("key") != key or "value" not in entry:
        return None
    return entry["value"]


def load(kind: str, scenario: Scenario, **params: str) -> Any | None:
    """The stored value of ``kind`` for ``scenario`` (the per-user folder first, then the package's shipped entries),
    or None when there is none with the current key."""
    key = entry_key(kind, scenario, **params)
    for path in (_user_path(kind, key), shipped_path(kind, scenario, **params)):
        value = _read(path, kind, key)
        if value is not None:
            return value
    return None


def _entry(kind: str, scenario: Scenario, value: Any, params: dict[str, str]) -> str:
    entry = {
        "kind": kind,
        "key": entry_key(kind, scenario, **params),
        "scenario": scenario.name,
        "params": params,
        "version": newretail.__version__,
        "code": code_digest(kind),
        "value": value,
    }
    return json.dumps(entry, indent=1, allow_nan=False) + "\n"  # the value's key order is kept: it is read


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would keep a shipped entry from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store(
    kind: str, scenario: Scenario, value: Any, *, shipped: bool = False, params: dict[str, str] | None = None
) -> Path | None:
    """Keep ``value`` (JSON-ready) as the entry of ``kind`` for ``scenario`` and ``params``: in the per-user folder,
    or with ``shipped`` in the package's folder of shipped entries. Returns the file, or None when the per-user
    folder cannot be written (a read-only home: the value is then computed again next time, never wrong)."""
    params = dict(params or {})
    key = entry_key(kind, scenario, **params)
    path = shipped_path(kind, scenario, **params) if shipped else _user_path(kind, key)
    text = _entry(kind, scenario, value, params)
    try:
        _write(path, text)
    except OSError:
        if shipped:
            raise
        return None
    return path


def cached(
    kind: str,
    scenario: Scenario,
    compute: Callable[[], T],
    *,
    encode: Callable[[T], Any] = lambda value: value,
    decode: Callable[[Any], T] = lambda stored: stored,
    refresh: bool = False,
    **params: str,
) -> T:
    """The value of ``kind`` for ``scenario``: decoded from its entry when there is one, else computed (and stored).

    ``encode`` turns the value into JSON-ready data, ``decode`` back; a stored entry that ``decode`` refuses
    (KeyError, TypeError or ValueError) is computed again and overwritten. ``refresh`` computes (and stores) it
    whatever is stored.
    """
    stored = None if refresh else load(kind, scenario, **params)
    if stored is not None:
        try:
            return decode(stored)
        except (KeyError, TypeError, ValueError):
            pass
    value = compute()
    store(kind, scenario, encode(value), params=params)
    return value
