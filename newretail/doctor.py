"""``newretail doctor``: check the environment a user is about to run in, and say what to fix."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from packaging.requirements import Requirement

from newretail.extras import EXTRAS, has_extra
from newretail.generate.run import GenerateError, plan
from newretail.scenario import ScenarioError

Status = Literal["ok", "warn", "fail"]
MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Check:
    """One environment check: what was looked at, its status, what was found and what to do about it."""

    name: str
    status: Status
    found: str
    fix: str = ""


def find_lock_file() -> Path | None:
    """``requirements.lock`` of the checkout the package runs from (an editable install), or None.

    Only the package's own source tree is looked at, never the working folder or its parents: inside another
    project, that project's lock says nothing about newretail.
    """
    root = Path(__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    try:
        declared = tomllib.loads(pyproject.read_text()).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    lock = root / "requirements.lock"
    return lock if declared == "newretail" and lock.is_file() else None


def locked_versions(lock: Path) -> dict[str, str]:
    """Exact pins ``name==version`` of a lock file, names normalised (lower case, ``-`` for ``_`` and ``.``)."""
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", line.strip())
        if match:
            pins[_normal(match.group(1))] = match.group(2)
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_ranges(extras: tuple[str, ...] = ()) -> list[Requirement]:
    """The installed package's runtime requirements (``Requires-Dist``, read with importlib.metadata) that apply
    here: the core ones and those of ``extras``, markers evaluated for this interpreter."""
    found = []
    for text in metadata.requires("newretail") or []:
        req = Requirement(text)
        wanted = req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *extras))
        if wanted:
            found.append(req)
    return found


def installed_extras() -> list[str]:
    """The extras whose key package is importable here (see :data:`newretail.extras.EXTRAS`)."""
    return [name for name in EXTRAS if has_extra(name)]


def _check_python() -> Check:
    found = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        return Check("python", "fail", found, "install Python 3.11 or newer, then `make setup`")
    return Check("python", "ok", found)


def _check_packages() -> Check:
    """Installed versions against the ranges the package declares (core and the installed extras)."""
    try:
        extras = tuple(installed_extras())
        reqs = declared_ranges(extras)
    except metadata.PackageNotFoundError:
        return Check("packages", "warn", "newretail is imported from a source tree that was never installed",
                     "pip install -e . (or make setup in the checkout)")  # fmt: skip
    wrong = []
    for req in reqs:
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{req.name} missing (needs {req.specifier or 'any version'})")
            continue
        if not req.specifier.contains(have, prereleases=True):
            wrong.append(f"{req.name} {have} (needs {req.specifier})")
    if wrong:
        shown = "; ".join(wrong[:4]) + (f"; and {len(wrong) - 4} more" if len(wrong) > 4 else "")
        return Check("packages", "fail", shown, "pip install -U 'newretail' (or make setup in the checkout)")
    extra = f"; extras: {', '.join(extras)}" if extras else "; no extras"
    return Check("packages", "ok", f"{len(reqs)} requirements within newretail's declared ranges{extra}")


def _check_lock(lock: Path | None) -> Check | None:
    """In the checkout only: the exact versions of its ``requirements.lock`` (what ``make`` installs)."""
    if lock is None:
        return None
    pins = locked_versions(lock)
    wrong = []
    for name, want in pins.items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name} missing (lock: {want})")
            continue
        if have != want:
            wrong.append(f"{name} {have} (lock: {want})")
    if wrong:
        shown = "; ".join(wrong[:4]) + (f"; and {len(wrong) - 4} more" if len(wrong) > 4 else "")
        return Check("lock", "warn", shown, "run `make setup` for the exact versions of the paper")
    return Check("lock", "ok", f"{len(pins)} pinned packages match {lock}")


def _check_disk(scenario: str, scale: float, out: Path) -> Check:
    try:
        p = plan(scenario, scale=scale, seed=0)
    except (ScenarioError, GenerateError) as exc:
        return Check("disk", "fail", str(exc), "fix the scenario or scale")
    need = p.disk_bytes()
    probe = next((q for q in (out, *out.parents) if q.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    found = f"scale {scale:g} needs about {need / 1e9:.2f} GB; {free / 1e9:.1f} GB free at {probe}"
    if need > free:
        return Check("disk", "fail", found, "free disk space, choose another --out, or a smaller --scale")
    if need > 0.5 * free:
        return Check("disk", "warn", found, "the dataset would take more than half the free space")
    return Check("disk", "ok", found)


def _check_cores() -> Check:
    cores = os.cpu_count() or 1
    found = f"{cores} cores"
    policy = os.environ.get("OMP_WAIT_POLICY", "")
    if cores <= 2 and policy.upper() != "PASSIVE":
        return Check(
            "cores",
            "warn",
            found + ", OMP_WAIT_POLICY unset",
            "export OMP_WAIT_POLICY=PASSIVE (LightGBM fits vary 10x in time on 2 cores without it)",
        )
    return Check("cores", "ok", found)


def _check_memory() -> Check:
    try:
        text = Path("/proc/meminfo").read_text()
        kb = int(re.search(r"MemAvailable:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    except (OSError, AttributeError, ValueError):
        return Check("memory", "warn", "unknown (no /proc/meminfo)")
    gb = kb / 1e6
    if gb < 2:
        return Check("memory", "warn", f"{gb:.1f} GB available", "use --workers 1 and the default scale")
    return Check("memory", "ok", f"{gb:.1f} GB available")


def _check_writable(out: Path) -> Check:
    probe = next((q for q in (out, *out.parents) if q.exists()), Path("."))
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".newretail-doctor-"):
            pass
    except OSError as exc:
        return Check("output", "fail", f"{probe} is not writable ({exc.strerror})", "choose another --out")
    return Check("output", "ok", f"{probe} is writable")


def _check_data_home() -> Check:
    from newretail.datasets import ENV_VAR, data_home

    folder = data_home()
    if os.environ.get(ENV_VAR, "").strip():
        return Check("data", "ok", f"{folder} (from {ENV_VAR})")
    return Check("data", "ok", f"{folder} (per-user default)", f"set {ENV_VAR} to keep datasets elsewhere")


def run_checks(
    *, scenario: str = "singles_day_2017", scale: float = 1e-4, out: str | Path | None = None
) -> list[Check]:
    """Run every check for generating ``scenario`` at ``scale`` into ``out``.

    ``out`` defaults to the dataset folder, :func:`newretail.datasets.data_home` (``$NEWRETAIL_DATA`` or the
    per-user data folder), which the ``data`` check names.
    """
    from newretail.datasets import data_home

    folder = Path(out) if out is not None else data_home()
    checks = [
        _check_python(),
        _check_packages(),
        _check_lock(find_lock_file()),
        _check_data_home(),
        _check_cores(),
        _check_memory(),
        _check_disk(scenario, scale, folder),
        _check_writable(folder),
    ]
    return [c for c in checks if c is not None]
