"""The notebooks read as lessons: stripped, ending with the versions cell, importing no generator, bookkeeping out of
the visible code, and each lesson (01-05) with its concepts, a written-out estimator and at least three exercises.

Run as a script (``python tests/test_notebooks_lessons.py``) it prints each notebook's visible code lines by kind.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[0-6]_*.ipynb"))
LESSONS = [nb for nb in NOTEBOOKS if nb.name[:2] in {"01", "02", "03", "04", "05"}]
PAPER_TAG = "paper"
BOOKKEEPING_LIMIT = 0.10


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _kind(node: ast.AST) -> str:
    """``recording`` (hands a number, table or figure to the paper), ``formatting`` (builds prose: f-strings,
    Markdown) or ``analysis``."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "out":
                return "recording"
            if isinstance(func, ast.Name) and func.id == "Outputs":
                return "recording"
    for sub in ast.walk(node):
        if isinstance(sub, ast.JoinedStr):
            return "formatting"
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Name) and func.id == "Markdown":
                return "formatting"
            if isinstance(func, ast.Attribute) and func.attr == "format" and isinstance(func.value, ast.Constant):
                return "formatting"
    return "analysis"


def line_kinds(code: str) -> dict[str, int]:
    """Non-blank, non-comment lines of a code cell, by the kind of the top-level statement they belong to."""
    counts = {"analysis": 0, "recording": 0, "formatting": 0}
    lines = code.splitlines()
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics: count as analysis
        counts["analysis"] = sum(1 for ln in lines if ln.strip() and not ln.strip().startswith("#"))
        return counts
    for stmt in tree.body:
        kind = _kind(stmt)
        for ln in lines[stmt.lineno - 1 : stmt.end_lineno]:
            if ln.strip() and not ln.strip().startswith("#"):
                counts[kind] += 1
    return counts


def visible_counts(path: Path) -> dict[str, int]:
    """Line counts over the visible code cells (those not tagged ``paper``)."""
    total = {"analysis": 0, "recording": 0, "formatting": 0}
    for cell in cells(path):
        if cell["cell_type"] != "code" or PAPER_TAG in tags(cell):
            continue
        for kind, n in line_kinds(source(cell)).items():
            total[kind] += n
    return total


def bookkeeping_share(counts: dict[str, int]) -> float:
    lines = sum(counts.values())
    return (counts["recording"] + counts["formatting"]) / lines if lines else 0.0


def test_counter_tells_kinds_apart():
    code = 'x = df.mean()\nout.number("k", x, unit="")\ntext = f"{x:.1f}"\ndisplay(Markdown("**b**"))\n'
    assert line_kinds(code) == {"analysis": 1, "recording": 1, "formatting": 2}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_bookkeeping_is_at_most_a_tenth_of_visible_code(path: Path):
    counts = visible_counts(path)
    assert bookkeeping_share(counts) <= BOOKKEEPING_LIMIT, f"{path.name}: {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped_and_ends_with_versions(path: Path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name}: not stripped"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert source(code[-1]).strip() == "versions();", f"{path.name}: the last cell is not versions();"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_imports_the_generator(path: Path):
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert not re.search(r"(from|import)\s+newretail\.generate\b", source(cell)), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_paper_cells_are_collapsed(path: Path):
    for cell in cells(path):
        if PAPER_TAG in tags(cell):
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_take_changes_and_recalibrate(path: Path):
    params = next(c for c in cells(path) if "parameters" in tags(c))
    assert "changes = {}" in source(params) and "recalibrate = True" in source(params), path.name


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_concepts_estimator_exercises_and_links(path: Path):
    text = "\n".join(source(c) for c in cells(path))
    number = path.name[:2]
    assert "## Concepts" in text, f"{path.name}: no concepts section"
    by_hand = [source(c) for c in cells(path) if c["cell_type"] == "code" and "_by_hand" in source(c)]
    assert any("assert" in s for s in by_hand), f"{path.name}: no estimator by hand checked against the package"
    exercises = set(re.findall(rf'check\("({number}\.\d+)"', text))
    assert len(exercises) >= 3, f"{path.name}: exercises {sorted(exercises)}"
    assert "docs/glossary.md" in text and "docs/references.md" in text, path.name


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or NOTEBOOKS
    print(f"{'notebook':<32} {'analysis':>8} {'recording':>9} {'formatting':>10} {'bookkeeping':>11}")
    for nb_path in paths:
        c = visible_counts(nb_path)
        print(
            f"{nb_path.stem:<32} {c['analysis']:>8} {c['recording']:>9} {c['formatting']:>10} "
            f"{bookkeeping_share(c):>10.0%}"
        )


def test_versions_reads_installed_metadata():
    from importlib.metadata import version

    from newretail.notebook import versions

    found = versions()
    assert found["newretail"] == version("newretail") and found["polars"] == version("polars")
    assert "\n" not in repr(found) and repr(found).startswith("python ")


def test_in_words_reads_like_prose():
    from newretail.notebook import in_words

    assert in_words(24.9e9, "USD") == "24.9 billion USD"
    assert in_words(0.951, "share") == "95.1%"
    assert in_words(1.98, "ratio") == "1.98" and in_words(4e8, "count") == "400 million"
    assert in_words(float("nan")) == "-" and in_words(None) == "-"


def test_open_day_refuses_bad_arguments(small_dataset):
    from newretail.notebook import NotebookError, open_day, variant_day

    with pytest.raises(NotebookError, match="notebook"):
        open_day(notebook="", dataset=small_dataset.path)
    with pytest.raises(NotebookError, match="changes"):
        open_day(notebook="x", dataset=small_dataset.path, changes={"behaviour.banners.novelty_decay": 0.3})
    with pytest.raises(NotebookError, match="changes"):
        variant_day({}, scale=2e-5, seed=1)
    with pytest.raises(NotebookError, match=r"targets\.gmv_usd"):
        variant_day({"targets.gmv_usd": 1e9}, scale=2e-5, seed=1, recalibrate=False)
    ds, out = open_day(notebook="x", dataset=small_dataset.path)
    assert ds.path == small_dataset.path and out.notebook == "x" and out.build_dir is None
