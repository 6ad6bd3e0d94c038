"""The entries of results.json a notebook contributes: its figures, numbers and tables, in a stable order."""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

from newretail.report.execute import PaperError
from newretail.report.fmt import format_cell, format_interval
from newretail.report.sections import (
    CLAIMS_COLUMNS,
    MAX_FIGURE_HEIGHT_CM,
    MAX_TABLE_COLUMNS,
    MAX_TABLE_ROWS,
    TEXT_WIDTH_CM,
)
from newretail.tables import sha256_file


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
