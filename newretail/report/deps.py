"""Which package modules each notebook runs, for ``make``: a notebook is executed again when a module it imports
changes, directly or through other modules of the package, and not on any other change of the code.

``python -m newretail.report deps NOTEBOOK... --out BUILD`` writes ``BUILD/deps.mk``, one rule per notebook (and one
for ``claims.json``) listing the files of every ``newretail`` module it can import. Imports are read with
:mod:`ast`, function-level ones included (they run too); importing ``a.b.c`` also runs ``a/__init__`` and
``a/b/__init__``. A notebook whose code cannot be parsed depends on every module, so make errs on re-running.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PACKAGE", "imported_modules", "make_rules", "module_closure", "notebook_modules", "write_deps"]

PACKAGE = "newretail"
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # newretail/
CLAIMS_STEP = ("newretail.claims", "newretail.report.collect")  # what ``python -m newretail.report claims`` runs


def module_file(name: str, package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The source file of module ``name`` of the package (``a/b.py`` or ``a/b/__init__.py``), None if not ours."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = package_dir.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py") if len(parts) > 1 else None, base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def imported_modules(tree: ast.AST, *, module: str = "", is_package: bool = False) -> set[str]:
    """Every module an ``ast`` tree imports, at any level of the code, as absolute names.

    ``from a import b`` yields ``a`` and ``a.b`` (``a.b`` may be a name rather than a module: callers keep the
    names that resolve to files). Relative imports are resolved against ``module`` (a package if ``is_package``).
    """
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def module_closure(names: Iterable[str], package_dir: Path = PACKAGE_DIR) -> set[Path]:
    """The files of every package module that importing ``names`` can run (their parents' ``__init__`` included)."""
    seen: set[str] = set()
    files: set[Path] = set()
    stack = [n for name in names for n in _with_parents(name)]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name, package_dir)
        if path is None:
            continue
        files.add(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        found = imported_modules(tree, module=name, is_package=path.name == "__init__.py")
        stack.extend(n for f in found for n in _with_parents(f) if n not in seen)
    return files


def notebook_modules(path: str | Path) -> set[str] | None:
    """Modules imported by the code cells of a notebook (IPython magics and shell lines skipped); None when a cell
    cannot be parsed."""
    cells = json.loads(Path(path).read_text())["cells"]
    found: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            return None
        found |= imported_modules(tree)
    return found


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)


def make_rules(notebooks: Iterable[str | Path], package_dir: Path = PACKAGE_DIR) -> str:
    """Make rules ``$(BUILD)/notebooks/<stem>.ipynb: <module files>`` for each notebook, and ``$(BUILD)/claims.json:
    <module files>`` for the claims step (``$(BUILD)`` is left to make)."""
    every = set(package_dir.rglob("*.py"))
    rules = ["# written by `python -m newretail.report deps`: the package files each build step imports", ""]
    targets: list[tuple[str, set[Path]]] = []
    for nb in notebooks:
        if Path(nb).suffix != ".ipynb":
            raise ValueError(f"notebooks: {nb} is not a .ipynb file")
        modules = notebook_modules(nb)
        files = every if modules is None else module_closure(modules, package_dir)
        targets.append((f"$(BUILD)/notebooks/{Path(nb).stem}.ipynb", files))
    targets.append(("$(BUILD)/claims.json", module_closure(CLAIMS_STEP, package_dir)))
    for target, deps in targets:
        rules.append(f"{target}: " + " ".join(sorted(_rel(f) for f in deps)))
    return "\n".join(rules) + "\n"


def write_deps(notebooks: Iterable[str | Path], out: str | Path) -> Path:
    """Write ``<out>/deps.mk`` (see :func:`make_rules`) atomically, so a killed ``make`` never leaves half a rule
    for the next one to read, and return its path."""
    target = Path(out) / "deps.mk"
    text = make_rules(notebooks)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".deps.mk.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, target)
    return target
