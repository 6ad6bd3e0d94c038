"""``make paper`` re-runs a notebook when a package module it imports changes: the dependency lists
(``newretail.report.deps``) must cover every module Python really loads for the notebook, and no more than its
imports reach."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from newretail.report.deps import make_rules, module_closure, notebook_modules

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LOADED = """
import sys, newretail
{imports}
print("\\n".join(sorted(m.__file__ for n, m in list(sys.modules.items()) if n.startswith("newretail") and m.__file__)))
"""


def _import_lines(nb: Path) -> str:
    """The notebook's import statements, top-level ones only, as source."""
    lines: list[str] = []
    for cell in json.loads(nb.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        code = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
        lines += [ast.unparse(n) for n in ast.parse(code).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return "\n".join(lines)


def _notebook(folder: Path, name: str, source: str) -> Path:
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}
    path = folder / f"{name}.ipynb"
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_deps_cover_every_module_python_loads(nb: Path) -> None:
    """Peer check: a fresh interpreter runs the notebook's imports; every ``newretail`` file it loads is listed."""
    script = LOADED.format(imports=_import_lines(nb))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    loaded = {Path(line).resolve() for line in out.split()}
    modules = notebook_modules(nb)
    assert modules is not None, f"{nb.name}: a code cell does not parse"
    listed = {p.resolve() for p in module_closure(modules)}
    assert loaded, nb.name
    assert loaded <= listed, sorted(str(p.relative_to(ROOT)) for p in loaded - listed)


def test_a_notebook_depends_on_what_it_reaches_only(tmp_path: Path) -> None:
    gmv = _notebook(tmp_path, "01_gmv", "from newretail.analyses import gmv\nx = gmv")
    files = {p.relative_to(ROOT).as_posix() for p in module_closure(notebook_modules(gmv) or set())}
    assert {"newretail/__init__.py", "newretail/analyses/gmv/spike.py", "newretail/tables/dataset.py"} <= files
    assert "newretail/analyses/banners/ctr.py" not in files and "newretail/stress/plots.py" not in files


def test_unparsable_notebook_depends_on_every_module(tmp_path: Path) -> None:
    broken = _notebook(tmp_path, "02_broken", "def (:\n")
    assert notebook_modules(broken) is None
    rule = next(line for line in make_rules([broken]).splitlines() if line.startswith("$(BUILD)/notebooks/02_broken"))
    assert len(rule.split()) - 1 == len(list((ROOT / "newretail").rglob("*.py")))


def test_magics_and_shell_lines_are_skipped(tmp_path: Path) -> None:
    nb = _notebook(tmp_path, "03_magic", "%matplotlib inline\n!ls\nfrom newretail.analyses import banners\n")
    assert "newretail.analyses.banners" in (notebook_modules(nb) or set())
