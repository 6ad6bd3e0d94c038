"""``newretail doctor``: check the environment a user is about to run in, and say what to fix."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from newretail.generate.run import BYTES_PER_ROW, GenerateError, plan
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


def find_lock_file(start: Path | None = None) -> Path | None:
    """``requirements.lock`` of the checkout: next to the working folder or the package's source tree."""
    candidates = [Path(start or Path.cwd()), Path(__file__).resolve().parents[1]]
    for folder in candidates:
        for parent in (folder, *folder.parents):
            lock = parent / "requirements.lock"
            if lock.is_file():
                return lock
    return None


def locked_versions(lock: Path) -> dict[str, str]:
    """Exact pins ``name==version`` of a lock file, names normalised (lower case, ``-`` for ``_`` and ``.``)."""
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def _check_python() -> Check:
    found = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        return Check("python", "fail", found, "install Python 3.11 or newer, then `make setup`")
    return Check("python", "ok", found)


def _check_packages(lock: Path | None) -> Check:
    if lock is None:
        return Check("packages", "warn", "no requirements.lock found", "run from the project checkout")
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
        return Check("packages", "fail", shown, "run `make setup` (reinstalls .venv from requirements.lock)")
    return Check("packages", "ok", f"{len(pins)} pinned packages match {lock.name}")


def _check_disk(scenario: str, scale: float, out: Path) -> Check:
    try:
        p = plan(scenario, scale=scale, seed=0)
    except (ScenarioError, GenerateError) as exc:
        return Check("disk", "fail", str(exc), "fix the scenario or scale")
    need = sum(BYTES_PER_ROW.get(t, 30) * n for t, n in p.expected_rows().items()) * 1.2 + 50e6
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
    return [
        _check_python(),
        _check_packages(find_lock_file()),
        _check_data_home(),
        _check_cores(),
        _check_memory(),
        _check_disk(scenario, scale, folder),
        _check_writable(folder),
    ]
