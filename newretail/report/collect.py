"""Merge what the notebooks recorded, the claims table and the provenance into one ``results.json``.

``results.json`` is everything the Typst source reads: figures (file, caption, notebook, seed), numbers (value,
interval, unit and their printed text), tables (printed cells), the claims, the scenario's assumptions, the
sections they belong to, and how to reproduce the run (dataset manifest sha256, git commit, package versions from
``requirements.lock``). It has no timestamps: two runs with the same seed write the same bytes.
"""

from __future__ import annotations

import json
import math
import platform
import re
import struct
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from newretail import __version__
from newretail.report.execute import PaperError
from newretail.report.fmt import format_cell, format_interval, format_value
from newretail.scenario import available_scenarios
from newretail.tables import MANIFEST, open_dataset, sha256_file

__all__ = ["SECTIONS", "Section", "collect", "evaluate_claims", "provenance"]

FORMAT = 1
CI_LEVEL = 0.95  # the level of every interval the notebooks and the claims report
REPO = Path(__file__).resolve().parents[2]
KEY_PACKAGES = (
    "numpy",
    "polars",
    "pyarrow",
    "pandas",
    "scipy",
    "scikit-learn",
    "statsmodels",
    "lightgbm",
    "shap",
    "matplotlib",
    "seaborn",
    "papermill",
    "typst",
)
TEXT_WIDTH_CM = 15.0
MAX_FIGURE_HEIGHT_CM = 9.0
MAX_TABLE_ROWS = 40
MAX_TABLE_COLUMNS = 9
CLAIMS_COLUMNS = frozenset({"id", "target", "reproduced", "holds"})


@dataclass(frozen=True)
class Section:
    """A section of the paper: the claims it recreates and the notebooks (by words in their file stem) it shows."""

    key: str
    title: str
    claims: tuple[str, ...] = ()
    match: tuple[str, ...] = ()


SECTIONS: tuple[Section, ...] = (
    Section("day", "The synthetic sales day and its assumptions", match=("quickstart",)),
    Section("gmv", "Gross merchandise value in 24 hours", ("gmv_usd", "gmv_yoy_growth"), ("gmv",)),
    Section("banners", "Lu Ban's AI banners", ("ai_banners", "ai_banner_ctr_ratio"), ("banner", "lu_ban")),
    Section(
        "personalization",
        "Personalized pages",
        ("personalized_pages", "personalized_page_conversion"),
        ("personal",),
    ),
    Section(
        "chatbot",
        "Ali Xiaomi, the customer-service chatbot",
        ("chatbot_inquiries", "chatbot_share", "chatbot_efficiency_ratio"),
        ("chatbot", "xiaomi"),
    ),
    Section(
        "stores",
        "Hema and the Sanjiang pilot",
        ("hema_delivery_minutes", "sanjiang_pilot_stores", "sanjiang_delivery_minutes"),
        ("hema", "store", "offline", "sanjiang"),
    ),
    Section("stress", "Stress tests and robustness", match=("stress", "robust")),
    Section("methods", "The methods on real data", match=("methods", "real_data")),
    Section("other", "Further analyses"),
)
"""The paper's sections in order; a notebook whose stem matches none lands in "Further analyses"."""


def _section_of_notebook(stem: str) -> str:
    words = stem.lower()
    for section in SECTIONS:
        if any(word in words for word in section.match):
            return section.key
    return "other"


def _section_of_claim(row: dict[str, Any]) -> str:
    if row.get("kind") == "press":
        return "day"
    for section in SECTIONS:
        if row.get("id") in section.claims:
            return section.key
    return "other"


# ---------------------------------------------------------------------------------------------------------- claims
def evaluate_claims(*, dataset: str | Path, out: str | Path) -> Path:
    """Evaluate the claims table on ``dataset`` and write ``<out>/claims.json``.

    Uses ``newretail.claims.evaluate(ds).to_json()`` (rows with id, statement, target, reproduced, ci_low, ci_high,
    unit, holds). When the claims package is not there yet, writes ``{"available": false}`` so that the paper says
    the claims are pending instead of failing.
    """
    import importlib.util

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = open_dataset(dataset)
    payload: dict[str, Any]
    if importlib.util.find_spec("newretail.claims") is None:
        payload = {"available": False, "reason": "the claims module (newretail.claims) is not in this version"}
    else:
        from newretail.claims import evaluate  # type: ignore[import-not-found,unused-ignore]

        try:
            rows = evaluate(ds, break_even=True).to_json()
        except Exception as exc:
            raise PaperError(f"claims on {ds.path} failed: {type(exc).__name__}: {exc}") from None
        if isinstance(rows, str):
            rows = json.loads(rows)
        payload = {"available": True, "rows": rows}
    payload["dataset_sha256"] = sha256_file(ds.path / MANIFEST)
    target = out / "claims.json"
    tmp = out / ".claims.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True, default=_jsonable) + "\n")
    tmp.replace(target)
    return target


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _claims(out: Path, sha256: str) -> dict[str, Any]:
    file = out / "claims.json"
    if not file.is_file():
        return {"available": False, "reason": "the claims were not evaluated in this build", "rows": []}
    data = json.loads(file.read_text())
    if data.get("dataset_sha256") != sha256:
        raise PaperError(f"{file} was computed on another dataset; evaluate the claims again")
    rows = []
    for row in data.get("rows", []):
        row = {**row, **{k: _stable(row.get(k)) for k in ("target", "reproduced", "ci_low", "ci_high")}}
        unit = str(row.get("unit") or "")
        reproduced, interval = format_interval(row.get("reproduced"), row.get("ci_low"), row.get("ci_high"), unit)
        rows.append(
            {
                **row,
                "section": _section_of_claim(row),
                "kind": row.get("kind", "report"),
                "text_target": format_value(row.get("target"), unit),
                "text_reproduced": reproduced,
                "text_interval": interval,
                "text_holds": "yes" if row.get("holds") else "no",
            }
        )
    holds = sum(1 for r in rows if r["holds"] and r["kind"] == "report")
    report = sum(1 for r in rows if r["kind"] == "report")
    from newretail.claims.ledger import ledger_summary  # figures the data recreate, by construction, implausible

    ledger = ledger_summary(rows)
    return {
        "ledger": {**ledger, "recreated_count": len(ledger["recreated_by_data"])},
        "level_text": f"{CI_LEVEL:.0%}",
        "available": bool(data.get("available")),
        "reason": data.get("reason", ""),
        "rows": rows,
        "report_count": report,
        "report_holds": holds,
        "press_count": sum(1 for r in rows if r["kind"] == "press"),
        "press_holds": sum(1 for r in rows if r["holds"] and r["kind"] == "press"),
    }


# -------------------------------------------------------------------------------------------------------- notebooks
def _notebook_title(nb: dict[str, Any], stem: str) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return stem.split("_", 1)[-1].replace("_", " ").capitalize()


def _order(names: list[str], code: str) -> list[str]:
    """Names in the order the notebook's code first mentions them (names it builds at run time go last)."""

    def position(name: str) -> tuple[int, str]:
        found = [i for i in (code.find(f'"{name}"'), code.find(f"'{name}'")) if i >= 0]
        return (min(found) if found else len(code) + 1, name)

    return sorted(names, key=position)


def _png_size_px(path: Path) -> tuple[int, int]:
    with path.open("rb") as fh:
        head = fh.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise PaperError(f"{path}: not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _figure_entry(out: Path, name: str, fig: dict[str, Any], stem: str, section: str) -> dict[str, Any]:
    png = out / fig["png"]
    if not png.is_file():
        raise PaperError(f"figure {name} of notebook {stem}: {fig['png']} is missing; run the notebook again")
    width_px, height_px = _png_size_px(png)
    natural_cm = width_px / 150 * 2.54  # Outputs saves PNGs at 150 dpi, PDFs at the same size
    width_cm = min(TEXT_WIDTH_CM, natural_cm * 1.15, MAX_FIGURE_HEIGHT_CM * width_px / height_px)
    pdf = out / fig["pdf"]
    use_pdf = pdf.is_file() and pdf.stat().st_size < 3_000_000
    return {
        "name": name,
        "caption": fig.get("caption", ""),
        "notebook": fig.get("notebook", stem),
        "seed": fig.get("seed"),
        "section": section,
        "file": fig["pdf"] if use_pdf else fig["png"],
        "pdf": fig["pdf"],
        "png": fig["png"],
        "png_sha256": sha256_file(png),
        "width_cm": round(width_cm, 2),
    }


def _stable(value: Any) -> Any:
    """A float to 12 significant digits: the last bits of a sum depend on the order it was added in."""
    if isinstance(value, float) and math.isfinite(value):
        return float(f"{value:.12g}")
    return value


def _number_entry(name: str, num: dict[str, Any], stem: str, section: str) -> dict[str, Any]:
    num = {**num, **{k: _stable(num.get(k)) for k in ("value", "ci_low", "ci_high")}}
    unit = str(num.get("unit") or "")
    text, interval = format_interval(num.get("value"), num.get("ci_low"), num.get("ci_high"), unit)
    return {
        **num,
        "name": name,
        "notebook": num.get("notebook", stem),
        "section": section,
        "text": text,
        "text_interval": interval,
    }


def _table_entry(name: str, rows: list[dict[str, Any]], stem: str, section: str, code: str = "") -> dict[str, Any]:
    """A notebook's table as printed cells: long text shortened, at most ``MAX_TABLE_COLUMNS`` columns.

    Columns follow the notebook's code where it names them (see ``_column_order``). A table that repeats the claims
    table (columns id, target, reproduced, holds) is kept in results.json but not shown again: the paper prints the
    claims table itself.
    """
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    columns = _column_order(columns, code, name, rows[0] if rows else {})
    shown_rows = rows[:MAX_TABLE_ROWS]
    shown_columns = columns[:MAX_TABLE_COLUMNS]
    return {
        "name": name,
        "notebook": stem,
        "section": section,
        "shown": not CLAIMS_COLUMNS <= set(columns),
        "columns": shown_columns,
        "columns_omitted": columns[MAX_TABLE_COLUMNS:],
        "cells": [[_short(format_cell(row.get(c))) for c in shown_columns] for row in shown_rows],
        "rows": len(rows),
        "rows_shown": len(shown_rows),
    }


def _column_order(columns: list[str], code: str, table: str, first: dict[str, Any]) -> list[str]:
    """Columns in the order the code names them just before recording the table (Outputs stores sorted keys).

    Each column's position is its last mention before ``"<table>"`` in the code; when most columns are not named
    there (a table built inside the package), text columns (labels) come first, then the rest as stored.
    """
    end = max(code.find(f'"{table}"'), code.find(f"'{table}'"))
    window = code[:end] if end >= 0 else ""
    found = {c: max(window.rfind(f'"{c}"'), window.rfind(f"'{c}'")) for c in columns}
    if sum(1 for p in found.values() if p >= 0) * 2 >= len(columns):
        return sorted(columns, key=lambda c: (found[c] < 0, found[c]))
    return sorted(columns, key=lambda c: not isinstance(first.get(c), str))


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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


# --------------------------------------------------------------------------------------------------------- collect
def collect(
    *,
    dataset: str | Path,
    out: str | Path,
    notebooks: list[str],
    lock: str | Path | None = None,
    repo: str | Path | None = None,
) -> Path:
    """Write ``<out>/results.json`` from the notebooks' installed results and ``<out>/claims.json``.

    Parameters
    ----------
    dataset : the dataset folder the notebooks ran on.
    out : the paper's build folder.
    notebooks : file stems of the notebooks to include, in order (each must have been run into ``out``).
    lock : the lock file whose pins the paper lists (default: the repository's ``requirements.lock``).
    repo : git checkout whose commit the paper names (default: the one holding this package).
    """
    out = Path(out)
    repo = Path(repo) if repo is not None else REPO
    lock = Path(lock) if lock is not None else repo / "requirements.lock"
    ds = open_dataset(dataset)
    sha256 = sha256_file(ds.path / MANIFEST)
    figures: list[dict[str, Any]] = []
    numbers: dict[str, dict[str, Any]] = {}
    tables: list[dict[str, Any]] = []
    nb_entries: list[dict[str, Any]] = []
    owners: dict[str, str] = {}
    for stem in notebooks:
        res_file = out / "results" / f"{stem}.json"
        executed = out / "notebooks" / f"{stem}.ipynb"
        if not res_file.is_file() or not executed.is_file():
            raise PaperError(f"notebook {stem} has no executed copy in {out}; run it first (make paper does)")
        res = json.loads(res_file.read_text())
        if res.get("dataset_sha256") not in (None, sha256):
            raise PaperError(f"notebook {stem} ran on another dataset (manifest {res['dataset_sha256'][:12]}…)")
        if res.get("seed") not in (None, ds.seed):
            raise PaperError(f"notebook {stem} recorded seed {res['seed']}, the dataset's seed is {ds.seed}")
        nb = json.loads(executed.read_text())
        code = "\n".join("".join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "code")
        section = _section_of_notebook(stem)
        for kind, names in (("figure", res.get("figures", {})), ("number", res.get("numbers", {}))):
            for name in names:
                key = f"{kind}:{name}"
                if key in owners:
                    raise PaperError(f"{kind} name {name!r} is recorded by both {owners[key]} and {stem}")
                owners[key] = stem
        figures.extend(
            _figure_entry(out, name, res["figures"][name], stem, section)
            for name in _order(list(res.get("figures", {})), code)
        )
        for name in _order(list(res.get("numbers", {})), code):
            numbers[name] = _number_entry(name, res["numbers"][name], stem, section)
        tables.extend(
            _table_entry(name, res["tables"][name], stem, section, code)
            for name in _order(list(res.get("tables", {})), code)
        )
        nb_entries.append(
            {
                "stem": stem,
                "title": _notebook_title(nb, stem),
                "section": section,
                "executed": f"notebooks/{stem}.ipynb",
                "html": f"html/{stem}.html",
                "figures": sum(1 for f in figures if f["notebook"] == stem),
                "numbers": sum(1 for n in numbers.values() if n["notebook"] == stem),
                "tables": sum(1 for t in tables if t["notebook"] == stem),
            }
        )
    scenario = ds.manifest["scenario"]
    expected = ds.manifest.get("calibration", {}).get("expected", {})
    claims = _claims(out, sha256)
    present = (
        {f["section"] for f in figures} | {r["section"] for r in claims["rows"]} | {n["section"] for n in nb_entries}
    )
    sections = [
        {
            "key": s.key,
            "title": s.title,
            "claims": list(s.claims),
            "notebooks": [n["stem"] for n in nb_entries if n["section"] == s.key],
            "present": s.key in present,
        }
        for s in SECTIONS
    ]
    prov = provenance(repo)
    payload = {
        "format": FORMAT,
        "run": {
            "scenario": scenario.get("name"),
            "event_date": scenario.get("event_date"),
            "seed": ds.seed,
            "scale": ds.scale,
            "scale_text": f"{ds.scale:g}",
            "dataset": ds.path.name,
            "dataset_sha256": sha256,
            "package_version": ds.manifest.get("package_version", __version__),
            "rows": {t: sum(int(f["rows"]) for f in ds.files(t)) for t in ds.tables},
            "rows_text": {t: format_cell(sum(int(f["rows"]) for f in ds.files(t))) for t in ds.tables},
            "tables": len(ds.tables),
            "files": sum(len(ds.files(t)) for t in ds.tables),
            "command": f"make paper SCALE={ds.scale:g} SEED={ds.seed}",
        },
        "provenance": prov,
        "git": _git(prov),
        "versions": {
            "python": platform.python_version(),
            "newretail": __version__,
            "key": [{"name": n, "version": _installed(n)} for n in KEY_PACKAGES],
            "lock": lock_versions(lock),
            "lock_file": lock.name,
        },
        "scenario": {
            "name": scenario.get("name"),
            "description": scenario.get("description", ""),
            "text": _scenario_text(scenario, expected),
            "values": _flat(scenario),
            "assumptions": _assumptions(scenario),
        },
        "claims": claims,
        "sections": sections,
        "notebooks": nb_entries,
        "figures": figures,
        "numbers": numbers,
        "tables": tables,
    }
    target = out / "results.json"
    tmp = out / ".results.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(target)
    return target
