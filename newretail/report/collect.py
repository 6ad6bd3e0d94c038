"""Merge what the notebooks recorded, the claims table and the provenance into one ``results.json``.

``results.json`` is everything the Typst source reads: figures (file, caption, notebook, seed), numbers (value,
interval, unit and their printed text), tables (printed cells), the claims, the scenario's assumptions, the
sections they belong to, and how to reproduce the run (dataset manifest sha256, git commit, package versions from
``requirements.lock``). It has no timestamps: two runs with the same seed write the same bytes.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from newretail import __version__
from newretail.report.entries import (
    _figure_entry,
    _notebook_title,
    _number_entry,
    _order,
    _stable,
    _table_entry,
)
from newretail.report.execute import PaperError
from newretail.report.fmt import format_cell, format_interval, format_value
from newretail.report.provenance import _assumptions, _flat, _git, _installed, _scenario_text
from newretail.report.provenance import lock_versions as lock_versions
from newretail.report.provenance import provenance as provenance
from newretail.report.sections import CI_LEVEL as CI_LEVEL
from newretail.report.sections import CLAIMS_COLUMNS as CLAIMS_COLUMNS
from newretail.report.sections import FORMAT as FORMAT
from newretail.report.sections import KEY_PACKAGES as KEY_PACKAGES
from newretail.report.sections import MAX_FIGURE_HEIGHT_CM as MAX_FIGURE_HEIGHT_CM
from newretail.report.sections import MAX_TABLE_COLUMNS as MAX_TABLE_COLUMNS
from newretail.report.sections import MAX_TABLE_ROWS as MAX_TABLE_ROWS
from newretail.report.sections import REPO as REPO
from newretail.report.sections import SECTIONS as SECTIONS
from newretail.report.sections import TEXT_WIDTH_CM as TEXT_WIDTH_CM
from newretail.report.sections import Section as Section
from newretail.report.sections import _section_of_claim, _section_of_notebook
from newretail.tables import MANIFEST, open_dataset, sha256_file

__all__ = ["SECTIONS", "Section", "collect", "evaluate_claims", "provenance"]


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


# --------------------------------------------------------------------------------------------------------- collect
def _notebook_results(
    out: Path, notebooks: list[str], sha256: str, seed: int
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Figures, numbers, tables and one entry per notebook, from each notebook's installed results, in notebook
    order and, within one, in the order its code first names them. Refuses results from another dataset or seed and a
    name two notebooks record."""
    figures: list[dict[str, Any]] = []
    numbers: dict[str, dict[str, Any]] = {}
    tables: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    owners: dict[str, str] = {}
    for stem in notebooks:
        res_file = out / "results" / f"{stem}.json"
        executed = out / "notebooks" / f"{stem}.ipynb"
        if not res_file.is_file() or not executed.is_file():
            raise PaperError(f"notebook {stem} has no executed copy in {out}; run it first (make paper does)")
        res = json.loads(res_file.read_text())
        if res.get("dataset_sha256") not in (None, sha256):
            raise PaperError(f"notebook {stem} ran on another dataset (manifest {res['dataset_sha256'][:12]}…)")
        if res.get("seed") not in (None, seed):
            raise PaperError(f"notebook {stem} recorded seed {res['seed']}, the dataset's seed is {seed}")
        nb = json.loads(executed.read_text())
        code = "\n".join("".join(c.get("source", "")) for c in nb.get("cells", []) if c.get("cell_type") == "code")
        section = _section_of_notebook(stem)
        for kind, names in (("figure", res.get("figures", {})), ("number", res.get("numbers", {}))):
            for name in names:
                if f"{kind}:{name}" in owners:
                    raise PaperError(f"{kind} name {name!r} is recorded by both {owners[f'{kind}:{name}']} and {stem}")
                owners[f"{kind}:{name}"] = stem
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
        entries.append(
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
    return figures, numbers, tables, entries


def _run(ds: Any, sha256: str) -> dict[str, Any]:
    """How the dataset was made: scenario, seed, scale, rows per table, the command that makes it again."""
    scenario = ds.manifest["scenario"]
    return {
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
    }


def _sections(present: set[str], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "key": s.key,
            "title": s.title,
            "claims": list(s.claims),
            "notebooks": [n["stem"] for n in entries if n["section"] == s.key],
            "present": s.key in present,
        }
        for s in SECTIONS
    ]


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
    figures, numbers, tables, entries = _notebook_results(out, notebooks, sha256, ds.seed)
    scenario = ds.manifest["scenario"]
    expected = ds.manifest.get("calibration", {}).get("expected", {})
    claims = _claims(out, sha256)
    present = {f["section"] for f in figures} | {r["section"] for r in claims["rows"]} | {n["section"] for n in entries}
    prov = provenance(repo)
    payload = {
        "format": FORMAT,
        "run": _run(ds, sha256),
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
        "sections": _sections(present, entries),
        "notebooks": entries,
        "figures": figures,
        "numbers": numbers,
        "tables": tables,
    }
    target = out / "results.json"
    tmp = out / ".results.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(target)
    return target
