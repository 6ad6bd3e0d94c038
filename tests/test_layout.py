"""The package's layering, read from the source with ``ast`` (nothing is imported): scenario -> tables -> generate ->
analyses (calling methods) -> claims -> stress and studies -> notebooks -> report, with the command line on top. Each
rule names the modules that break it.

Every import counts, however late it runs: at module level, inside a function, in a branch (``ast.walk`` over the
whole tree); only ``if TYPE_CHECKING:`` blocks, which never run, are left out. Studies that re-simulate or
recalibrate with the generator live in ``newretail.studies``, beside the stress tests.
"""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "newretail"
ANALYSIS_PREFIXES = ("newretail.analyses",)
STATISTICS = ("scipy", "statsmodels")
# the layers from the bottom up: a module imports only from its own layer and the layers below it
LAYERS: tuple[tuple[str, ...], ...] = (
    # the package (its version) and leaves
    ("newretail", "newretail.scenario", "newretail.fmt", "newretail.cache", "newretail.extras"),
    ("newretail.tables", "newretail.methods"),
    ("newretail.generate",),
    ("newretail.analyses",),
    ("newretail.claims",),
    ("newretail.stress", "newretail.studies"),
    ("newretail.datasets", "newretail.notebook", "newretail.recorded", "newretail.doctor", "newretail.exercises"),
    ("newretail.report",),
    ("newretail.cli",),  # and every package's __main__: a command may call any layer
)
# statistics (scipy, statsmodels) belong to newretail.methods, and to the generator for its own draws and solves;
# elsewhere only quasi-random design points (the stress grid's Sobol sequence and Latin hypercube): sampling, not
# inference
STATISTICS_HOMES = ("newretail.methods", "newretail.generate")
STATISTICS_ALLOWED = {"newretail.stress.design": ("scipy.stats.qmc",)}
# modules that still import statistics directly, each to be moved to newretail.methods: none are left (the test fails
# when one is added, and when one listed no longer does, so the set only shrinks)
STATISTICS_PENDING: set[str] = set()
MAX_FUNCTION_LINES = 100
# functions still longer than MAX_FUNCTION_LINES (def to last line), each to be split: none are left (the test fails
# when one is added, and when one listed is short enough or gone, so the set only shrinks)
LONG_FUNCTIONS_PENDING: set[str] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
TREES: dict[str, ast.Module] = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in MODULES.items()}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _absolute(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    anchor = module.split(".") if _is_package(module) else module.split(".")[:-1]
    anchor = anchor[: len(anchor) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run when the module is imported: not inside functions, not under ``if TYPE_CHECKING``."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            out += _module_level(node.orelse)
            continue
        out.append(node)
        for field in ("body", "orelse", "finalbody"):
            out += _module_level(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            out += _module_level(handler.body)
    return out


def _typing_only(tree: ast.Module) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (never run)."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }


def imports(module: str, *, module_level: bool = False, runtime: bool = True) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) of every import in ``module``'s source that can run (not under
    ``if TYPE_CHECKING``), wherever it stands; only those run at import time with ``module_level``; the typing-only
    ones too with ``runtime=False``."""
    tree = TREES[module]
    nodes = _module_level(tree.body) if module_level else list(ast.walk(tree))
    if runtime:
        skip = _typing_only(tree)
        nodes = [n for n in nodes if id(n) not in skip]
    found: list[tuple[str, str | None, int]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module)
            found += [(base, alias.name, node.lineno) for alias in node.names]
    return found


def _target(base: str, name: str | None) -> str:
    """The module an import binds: ``from a import b`` is module ``a.b`` when that is a module of ours, else ``a``."""
    if name is not None and f"{base}.{name}" in MODULES:
        return f"{base}.{name}"
    return base


def _within(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _offenders(rule: dict[str, list[str]]) -> str:
    return "; ".join(f"{m}: {', '.join(sorted(set(v)))}" for m, v in sorted(rule.items()))


def test_the_reader_sees_the_package() -> None:
    """The rules below read something: the layers exist and their imports are found."""
    assert {"newretail.tables", "newretail.generate.run", "newretail.claims", "newretail.stress"} <= set(MODULES)
    assert any(_within(m, "newretail.tables") for m, _, _ in imports("newretail.generate.run"))


def test_tables_import_nothing_of_newretail_but_scenario() -> None:
    bad: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        if not _within(module, "newretail.tables"):
            continue
        for base, name, line in imports(module):
            target = _target(base, name)
            # newretail.cache: the leaf that says where the per-user cache folder is (tables keep their
            # verification stamps there); it imports nothing of newretail but the version
            allowed = ("newretail.tables", "newretail.scenario", "newretail.cache")
            if _within(target, "newretail") and not _within(target, allowed):
                bad[module].append(f"{target} (line {line})")
    assert not bad, _offenders(bad)


def test_generate_imports_no_analysis_claims_stress_or_report() -> None:
    upper = (*ANALYSIS_PREFIXES, "newretail.claims", "newretail.stress", "newretail.report", "newretail.report")
    bad: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        if _within(module, "newretail.generate"):
            bad[module] += [_target(b, n) for b, n, _ in imports(module) if _within(_target(b, n), upper)]
    bad = {m: v for m, v in bad.items() if v}
    assert not bad, _offenders(bad)


def _private_generate_names() -> dict[str, list[str]]:
    """Underscore names of ``newretail.generate`` used outside it: imported, or read as an attribute of an imported
    generate module (``shoppers._ids``)."""
    bad: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        if _within(module, "newretail.generate"):
            continue
        bound: set[str] = set()
        for node in ast.walk(TREES[module]):
            if isinstance(node, ast.ImportFrom) and _within(_absolute(node, module), "newretail.generate"):
                base = _absolute(node, module)
                for alias in node.names:
                    if alias.name.startswith("_") or any(p.startswith("_") for p in base.split(".")):
                        bad[module].append(f"{base}.{alias.name}")
                    if f"{base}.{alias.name}" in MODULES:
                        bound.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                private = [a.name for a in node.names if _within(a.name, "newretail.generate") and "._" in a.name]
                bad[module] += private
        for node in ast.walk(TREES[module]):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and node.attr.startswith("_")
            ):
                bad[module].append(f"{node.value.id}.{node.attr}")
    return {m: v for m, v in bad.items() if v}


def test_no_private_name_of_generate_is_used_outside_it() -> None:
    bad = _private_generate_names()
    assert not bad, _offenders(bad)


def _analyses_generate_imports() -> dict[str, list[str]]:
    bad: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        if not _within(module, ANALYSIS_PREFIXES):
            continue
        for base, name, line in imports(module):
            target = _target(base, name)
            if _within(target, "newretail.generate") and target != "newretail.generate.expected":
                bad[module].append(f"{base}.{name} (line {line})" if name else f"{base} (line {line})")
    return dict(bad)


def test_analyses_import_from_generate_only_its_expected_values() -> None:
    """Studies that re-simulate or recalibrate live in ``newretail.studies``, which may import the generator."""
    bad = _analyses_generate_imports()
    assert not bad, _offenders(bad)


def _statistics_imports() -> dict[str, list[str]]:
    bad: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        if _within(module, STATISTICS_HOMES):
            continue
        for base, name, line in imports(module):
            full = f"{base}.{name}" if name else base
            hit = _within(base, STATISTICS) or _within(full, STATISTICS)
            if hit and not _within(full, STATISTICS_ALLOWED.get(module, ())):
                bad[module].append(f"{full} (line {line})")
    return dict(bad)


def test_statistics_libraries_are_imported_only_by_methods_and_the_generator() -> None:
    """scipy and statsmodels are called in ``newretail.methods`` (each method checked against them there) and by the
    generator for its own draws; the analyses, claims, stress tests and studies call the methods. The modules not
    moved yet are listed in ``STATISTICS_PENDING``: a new offender fails, and so does a listed one that was moved."""
    bad = _statistics_imports()
    new = {m: v for m, v in bad.items() if m not in STATISTICS_PENDING}
    assert not new, _offenders(new)
    moved = sorted(STATISTICS_PENDING - set(bad))
    assert not moved, f"no longer import statistics directly, remove from STATISTICS_PENDING: {', '.join(moved)}"


def test_claims_and_stress_import_no_statistics_library() -> None:
    """Intervals and tests come from the analyses and ``newretail.methods``, not from scipy or statsmodels."""
    bad = {m: v for m, v in _statistics_imports().items() if _within(m, ("newretail.claims", "newretail.stress"))}
    assert not bad, _offenders(bad)


def _layer(module: str) -> int:
    if module.rsplit(".", 1)[-1] == "__main__":
        return len(LAYERS) - 1  # a command
    for rank, members in enumerate(LAYERS):
        if any(_within(module, m) for m in members if m != "newretail") or module == "newretail":
            return rank
    raise AssertionError(f"{module}: in no layer of LAYERS; add it where it belongs")


def _layer_breaks() -> dict[str, list[str]]:
    bad: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        rank = _layer(module)
        for base, name, line in imports(module):
            target = _target(base, name)
            if target in MODULES and _layer(target) > rank:
                bad[module].append(f"{target} (line {line})")
    return dict(bad)


def test_every_module_is_in_a_layer_and_imports_only_from_its_own_and_lower_layers() -> None:
    """scenario -> tables (and methods) -> generate -> analyses -> claims -> stress and studies -> notebooks -> report
    -> the command line (README, "How it works"), read from every import that can run."""
    bad = _layer_breaks()
    assert not bad, _offenders(bad)


def test_the_layer_rule_finds_an_upward_import() -> None:
    assert _layer("newretail.claims.table") < _layer("newretail.stress.frontier") < _layer("newretail.cli")
    assert _layer("newretail.cache.__main__") == _layer("newretail.cli")
    assert _layer("newretail.fmt") == _layer("newretail.scenario") == 0


def _claims_generate_imports() -> dict[str, list[str]]:
    bad: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        if not _within(module, "newretail.claims"):
            continue
        for base, name, line in imports(module):
            target = _target(base, name)
            if _within(target, "newretail.generate") and target not in CLAIMS_FROM_GENERATE:
                bad[module].append(f"{target} (line {line})")
    return dict(bad)


# what the claims may read of the generator: its public true and expected values, and the Dask cluster plumbing the
# per-partition claims share with generation (a client, no state of the generator)
CLAIMS_FROM_GENERATE = ("newretail.generate.expected", "newretail.generate.distributed")


def test_claims_read_the_generator_only_through_its_expected_values() -> None:
    """The ledger rebuilds the dataset's calibration with ``generate.expected.calibration_of``; nothing else."""
    bad = _claims_generate_imports()
    assert not bad, _offenders(bad)


def _top_package(module: str) -> str:
    """The package a module belongs to for the private-name rule: ``newretail.<x>`` (``newretail.<x>.<story>`` for
    the analyses, whose stories are packages of their own)."""
    parts = module.split(".")
    return ".".join(parts[:3] if parts[1:2] == ["analyses"] and len(parts) > 2 else parts[:2])


def _private_names_across_packages() -> dict[str, list[str]]:
    """``from newretail.<other package>... import _name`` or through a ``_module`` of another package."""
    bad: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        mine = _top_package(module)
        for node in ast.walk(TREES[module]):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _absolute(node, module)
            if not _within(base, "newretail") or _top_package(base) == mine:
                continue
            for alias in node.names:
                dunder = alias.name.startswith("__") and alias.name.endswith("__")  # __version__ is public
                if (alias.name.startswith("_") and not dunder) or any(p.startswith("_") for p in base.split(".")):
                    bad[module].append(f"{base}.{alias.name} (line {node.lineno})")
    return dict(bad)


def test_no_private_name_is_imported_from_another_package() -> None:
    bad = _private_names_across_packages()
    assert not bad, _offenders(bad)


def _private_attributes_across_packages() -> dict[str, list[str]]:
    """``module._name`` where ``module`` was imported from another package (``from newretail.analyses import gmv``
    then ``gmv._fit_spike``): a private name read through the back door."""
    bad: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        mine = _top_package(module)
        bound: dict[str, str] = {}
        for node in ast.walk(TREES[module]):
            if isinstance(node, ast.ImportFrom) and _within(_absolute(node, module), "newretail"):
                base = _absolute(node, module)
                bound.update(
                    {a.asname or a.name: f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
                )
            elif isinstance(node, ast.Import):
                bound.update({a.asname: a.name for a in node.names if a.asname and a.name in MODULES})
        for node in ast.walk(TREES[module]):
            if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
                continue
            target = bound.get(node.value.id)
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            if target is not None and private and _top_package(target) != mine:
                bad[module].append(f"{target}.{node.attr} (line {node.lineno})")
    return dict(bad)


def test_no_private_name_of_another_package_is_read_through_its_module() -> None:
    bad = _private_attributes_across_packages()
    assert not bad, _offenders(bad)


def test_the_private_name_rules_find_a_private_import_and_a_private_attribute(monkeypatch: Any) -> None:
    """Both readers flag what they are for, on a module made up for the purpose."""
    fake = "newretail.claims.fake_reader"
    source = (
        "from newretail.analyses.gmv import _fit_spike\nfrom newretail.analyses import gmv\ngmv._rate_at(1, 2, 3)\n"
    )
    monkeypatch.setitem(MODULES, fake, MODULES["newretail.claims.table"])
    monkeypatch.setitem(TREES, fake, ast.parse(source))
    assert _private_names_across_packages()[fake] == ["newretail.analyses.gmv._fit_spike (line 1)"]
    assert _private_attributes_across_packages()[fake] == ["newretail.analyses.gmv._rate_at (line 3)"]


def _long_functions() -> dict[str, int]:
    """Every function or method of the package (nested ones too) with its length in lines, def to last line."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}.{child.name}"
                found[name] = (child.end_lineno or child.lineno) - child.lineno + 1
                visit(child, name)
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}.{child.name}")
            else:
                visit(child, prefix)

    for module, tree in TREES.items():
        visit(tree, module)
    return {name: lines for name, lines in found.items() if lines > MAX_FUNCTION_LINES}


def test_no_function_is_longer_than_a_hundred_lines() -> None:
    """A function over 100 lines does several things; split it. The ones not split yet are listed in
    ``LONG_FUNCTIONS_PENDING``: a new one fails, and so does a listed one that was split (or removed)."""
    long = _long_functions()
    new = {name: lines for name, lines in long.items() if name not in LONG_FUNCTIONS_PENDING}
    assert not new, "; ".join(f"{name}: {lines} lines" for name, lines in sorted(new.items()))
    done = sorted(LONG_FUNCTIONS_PENDING - set(long))
    assert not done, f"no longer over {MAX_FUNCTION_LINES} lines, remove from LONG_FUNCTIONS_PENDING: {', '.join(done)}"


def test_the_length_rule_sees_methods_and_nested_functions(monkeypatch: Any) -> None:
    body = "\n".join(f"        x = {i}" for i in range(MAX_FUNCTION_LINES))
    monkeypatch.setitem(TREES, "newretail.fake", ast.parse(f"class A:\n    def f(self):\n{body}\n"))
    assert _long_functions()["newretail.fake.A.f"] == MAX_FUNCTION_LINES + 1


def _module_graph(*, module_level: bool = False) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for base, name, _ in imports(module, module_level=module_level):
            target = _target(base, name)
            if target in MODULES and target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_known_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_newretail_modules() -> None:
    """Every import that can run, at module level or in a function (a function-level import only hides a cycle:
    claims and stress once formed one of ten modules this way); ``if TYPE_CHECKING`` blocks never run."""
    cycles = _cycles(_module_graph())
    assert not cycles, "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_reader_sees_function_level_imports() -> None:
    """The graph holds an edge that only a function-level import makes (the claims command imports the stress
    frontiers inside the function), which a module-level reading misses."""
    assert "newretail.stress.frontier" in _module_graph()["newretail.cli"]
    assert "newretail.stress.frontier" not in _module_graph(module_level=True)["newretail.cli"]


def _reexports_only(module: str) -> bool:
    """A shim that keeps an old import path: a docstring, imports and ``__all__``, nothing defined."""
    for node in TREES[module].body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"]:
            continue
        return False
    return True


def _same_names() -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for module, path in MODULES.items():
        if path.name != "__main__.py" and module != "newretail" and not _reexports_only(module):
            by_name[module.rsplit(".", 1)[-1]].append(module)
    return {name: sorted(mods) for name, mods in by_name.items() if len(mods) > 1}


def test_no_two_modules_share_a_name() -> None:
    """Two ``banners.py`` in different layers make a traceback or an import ambiguous to read."""
    same = _same_names()
    assert not same, same


def test_notebooks_use_no_private_name_of_generate() -> None:
    bad: list[str] = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            for node in ast.walk(ast.parse("\n".join(lines))):
                if isinstance(node, ast.ImportFrom) and _within(node.module or "", "newretail.generate"):
                    bad += [f"{nb.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    assert not bad, bad


def test_stress_checks_read_the_truth_through_expected_values() -> None:
    """The stress checks' truth comes from ``newretail.generate.expected``, not from the generator's constants."""
    bad = [
        f"{base}.{name} (line {line})"
        for base, name, line in imports("newretail.stress.checks")
        if _within(_target(base, name), "newretail.generate")
        and _target(base, name) not in ("newretail.generate", "newretail.generate.expected")
    ]
    assert not bad, bad


def test_no_cycles_in_tables_and_generate_even_through_function_level_imports() -> None:
    """The table contract and the generator form a one-way graph however late an import runs (run -> distributed,
    never back; schemas no longer import the generator)."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        if _within(module, ("newretail.tables", "newretail.generate")):
            targets = {_target(b, n) for b, n, _ in imports(module, runtime=True)}
            graph[module] = {
                t
                for t in targets
                if t in MODULES and t != module and _within(t, ("newretail.tables", "newretail.generate"))
            }
    cycles = _cycles(graph)
    assert not cycles, "; ".join(" <-> ".join(c) for c in cycles)
