"""Provenance of a paper build: package versions, the git state, the scenario's assumptions and their text."""

from __future__ import annotations

import json
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from newretail import __version__
from newretail.report.fmt import format_cell, format_value
from newretail.report.sections import (
    REPO,
)
from newretail.scenario import available_scenarios


# ------------------------------------------------------------------------------------------------------ provenance
def lock_versions(lock: Path) -> list[dict[str, str]]:
    """``name==version`` pins of ``requirements.lock``, sorted by name."""
    if not lock.is_file():
        return []
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9_.\-\[\],]*)==([^\s;\\]+)", lock.read_text(), flags=re.M)
    return [{"name": n, "version": v} for n, v in sorted(pins, key=lambda p: p[0].lower())]


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance(repo: Path | None = None) -> dict[str, Any]:
    """The package's version (installed metadata) and, where known, the commit it was built from.

    The commit is the checkout's ``HEAD`` when ``repo`` (default: the folder holding the package) is the top of a git
    work tree, else the ``commit_id`` pip recorded when installing from a VCS URL, else None: an installed wheel has
    no commit, which is not an error. ``dirty`` is None when the commit is not from a checkout.
    """
    folder = Path(repo) if repo is not None else REPO

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False)
        except OSError:  # no git program
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    top = git("rev-parse", "--show-toplevel")  # site-packages inside some other repository is not our checkout
    if top and Path(top).resolve() == folder.resolve():
        commit = git("rev-parse", "HEAD") or None
        dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
        return {"newretail": __version__, "commit": commit, "dirty": dirty, "source": "git checkout"}
    try:
        direct = json.loads(metadata.distribution("newretail").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        direct = {}
    commit = direct.get("vcs_info", {}).get("commit_id")
    return {"newretail": __version__, "commit": commit, "dirty": None, "source": "vcs install" if commit else "package"}


def _git(prov: dict[str, Any]) -> dict[str, Any]:
    """The ``git`` block the paper's source prints (strings, also outside a checkout)."""
    commit = prov["commit"]
    return {
        "commit": commit or "unknown (not a git checkout)",
        "short": commit[:12] if commit else "unknown",
        "dirty": bool(prov["dirty"]),
    }


def _toml_comments(name: str) -> dict[str, str]:
    """``section.key -> comment`` from a shipped scenario's TOML (the fields' descriptions, with units)."""
    if name not in available_scenarios():
        return {}
    from importlib import resources

    text = resources.files("newretail").joinpath("scenarios", f"{name}.toml").read_text()
    comments: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        head = re.match(r"^\[([A-Za-z0-9_.]+)\]", line)
        if head:
            section = head.group(1)
            continue
        field = re.match(r"^([A-Za-z0-9_]+)\s*=.*?#\s*(.+)$", line)
        if field:
            comments[f"{section}.{field.group(1)}" if section else field.group(1)] = field.group(2).strip()
    return comments


def _assumptions(scenario: dict[str, Any]) -> list[dict[str, str]]:
    comments = _toml_comments(str(scenario.get("name", "")))
    rows = []
    for group in ("targets", "press"):
        for key, value in scenario.get(group, {}).items():
            rows.append(
                {
                    "group": group,
                    "field": key,
                    "value": format_cell(value),
                    "description": comments.get(f"{group}.{key}", ""),
                }
            )
    for group, fields in scenario.get("behaviour", {}).items():
        for key, value in fields.items():
            rows.append(
                {
                    "group": f"behaviour.{group}",
                    "field": key,
                    "value": format_cell(value),
                    "description": comments.get(f"behaviour.{group}.{key}", ""),
                }
            )
    return rows


def _flat(scenario: dict[str, Any]) -> dict[str, Any]:
    """Raw scenario values by dotted key (``behaviour.stores.pilot_effect``), for the paper's conditionals."""
    flat: dict[str, Any] = {}
    for group in ("targets", "press"):
        flat.update({f"{group}.{k}": v for k, v in scenario.get(group, {}).items()})
    for group, fields in scenario.get("behaviour", {}).items():
        flat.update({f"behaviour.{group}.{k}": v for k, v in fields.items()})
    return flat


def _scenario_text(scenario: dict[str, Any], expected: dict[str, Any]) -> dict[str, str]:
    """Scenario values the prose quotes, printed once here (the Typst source types no number)."""
    units = {
        "gmv_usd": "USD",
        "gmv_yoy_growth": "share",
        "ai_banner_ctr_ratio": "ratio",
        "personalized_page_conversion": "share",
        "chatbot_share": "share",
        "chatbot_efficiency_ratio": "ratio",
        "hema_radius_km": "km",
        "hema_delivery_minutes": "min",
        "sanjiang_delivery_minutes": "min",
        "gmv_rmb": "RMB",
        "mobile_gmv_share": "share",
        "personalized_visit_share": "share",
        "ai_impression_share": "share",
        "human_ctr": "share",
        "repeat_exposure_prob": "share",
        "bot_resolution_rate": "share",
        "human_resolution_rate": "share",
        "human_occupancy": "share",
        "repeat_contact_if_unresolved": "share",
        "pilot_selection_on_growth": "share",
        "bot_handle_s": "s",
        "human_handle_s": "s",
        "prep_min": "min",
        "city_width_km": "km",
        "city_height_km": "km",
        "spillover_radius_km": "km",
        "ai_banner_ctr_ratio_causal": "ratio",
        "true_uplift_ate": "share",
        "true_uplift_att": "share",
        "conversion_personalized": "share",
        "conversion_other": "share",
        "baseline_gmv_usd": "USD",
    }
    text: dict[str, str] = {}
    for group in ("targets", "press"):
        for key, value in scenario.get(group, {}).items():
            text[f"{group}.{key}"] = format_value(value, units.get(key, ""))
    for group, fields in scenario.get("behaviour", {}).items():
        for key, value in fields.items():
            text[f"behaviour.{group}.{key}"] = format_value(value, units.get(key, ""))
    for key, value in expected.items():
        text[f"expected.{key}"] = format_value(value, units.get(key, ""))
    return text
