"""The package as a researcher gets it: the sdist and wheel built from this checkout, the wheel installed into fresh
virtual environments, every command run in an empty folder far from the checkout.

Three environments: the core install (no extras: no shap, numba or llvmlite), the core install beside ``pandas<3``
(the dependencies are ranges, so a researcher's own pins can be honoured), and one environment with every extra
(notebooks, explain, paper, dask), tested together. Slow (building and installing, a few minutes): skipped unless
``NEWRETAIL_PACKAGING=1``, which ``make package`` and ``.ci/run`` set. Installs use uv with ``requirements.lock`` as
constraints, so they come from uv's cache (the lock's wheels, linked, not copied) when warm.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
EXTRAS = ("notebooks", "explain", "paper", "dask")
SCALE, SEED = "1e-6", "1"  # a tiny day: about 75k page views
# folders the package reads relative to its own file that are part of the checkout, not of the wheel: the paper
# step runs the repository's notebooks and Typst source (make paper); an installed package never reaches them
REPOSITORY_ONLY = {"notebooks", "paper"}

pytestmark = pytest.mark.skipif(
    os.environ.get("NEWRETAIL_PACKAGING") != "1",
    reason="builds the wheel and installs it into fresh environments (minutes): run `make package`",
)


def _uv() -> str:
    found = Path(sys.executable).parent / "uv"
    return str(found) if found.is_file() else (shutil.which("uv") or pytest.skip("uv is not installed"))


def _run(cmd: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


# ---------------------------------------------------------------------------------------------------------- build
@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``uv build``: the sdist, then the wheel built from the sdist (so the sdist must be complete)."""
    out = Path(os.environ.get("NEWRETAIL_DIST") or tmp_path_factory.mktemp("dist"))
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("newretail-*"):
        old.unlink()
    _run([_uv(), "build", "--quiet", "--out-dir", out, ROOT])
    return out


@pytest.fixture(scope="session")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("newretail-*.whl")
    return found


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def test_wheel_and_sdist_carry_the_pyproject_version(dist: Path, wheel: Path) -> None:
    assert wheel.name == f"newretail-{VERSION}-py3-none-any.whl"
    assert (dist / f"newretail-{VERSION}.tar.gz").is_file()


def test_sdist_carries_licence_citation_changelog_and_lock(dist: Path) -> None:
    with tarfile.open(dist / f"newretail-{VERSION}.tar.gz") as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for needed in ("LICENSE", "CITATION.cff", "CHANGELOG.md", "README.md", "pyproject.toml", "requirements.lock"):
        assert needed in names, needed


def test_wheel_metadata_states_licence_pins_and_extras(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"newretail-{VERSION}.dist-info/METADATA").decode()
        assert f"newretail-{VERSION}.dist-info/licenses/LICENSE" in zf.namelist()
    assert "License-Expression: MIT" in meta.splitlines()
    from packaging.requirements import Requirement

    requires = set(re.findall(r"^Requires-Dist: ([^;\n]+?)\s*$", meta, flags=re.M))
    assert {str(Requirement(r)) for r in PYPROJECT["project"]["dependencies"]} <= {
        str(Requirement(r)) for r in requires
    }
    assert not [r for r in requires if "==" in r], (
        "runtime dependencies are ranges, so the wheel installs beside others"
    )
    assert not [r for r in requires if re.match(r"(shap|numba|llvmlite)\b", r)], "shap's chain is in the explain extra"
    extras = set(re.findall(r"^Provides-Extra: (\S+)", meta, flags=re.M))
    assert extras == set(PYPROJECT["project"]["optional-dependencies"])


def _package_files() -> list[str]:
    """Files of the package in the checkout (tracked by git when it is a checkout), relative to ROOT."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "newretail"], capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        listed = [str(p.relative_to(ROOT)) for p in (ROOT / "newretail").rglob("*") if p.is_file()]
    return sorted(f for f in listed if "__pycache__" not in f and (ROOT / f).is_file())


def test_wheel_carries_every_package_file(wheel: Path) -> None:
    """Modules, scenarios, stress grids, py.typed and anything added later: nothing of the package is left out."""
    names = set(_wheel_names(wheel))
    missing = [f for f in _package_files() if f not in names]
    assert not missing, f"in the package but not in the wheel: {missing}"
    assert "newretail/py.typed" in names


def _resource_reads() -> set[str]:
    """Folders the code reads through ``importlib.resources.files("newretail")`` (``/`` or ``joinpath`` chains)."""
    folders = set()
    for path in (ROOT / "newretail").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            parts: list[str] = []
            while True:  # unwind  files("newretail") / "a" / "b"   or   files("newretail").joinpath("a", "b")
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                    if not isinstance(node.right, ast.Constant):
                        break
                    parts.insert(0, str(node.right.value))
                    node = node.left
                elif (
                    isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath"
                ):
                    parts[:0] = [str(a.value) for a in node.args if isinstance(a, ast.Constant)]
                    node = node.func.value
                else:
                    break
            is_files = (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "files"
                and [getattr(a, "value", None) for a in node.args] == ["newretail"]
            )
            folder = "/".join(p for p in parts if "." not in p)  # a last part with a dot is a file name
            if is_files and folder:
                folders.add(folder)
    return {f for f in folders if not any(g.startswith(f + "/") for g in folders)}  # the longest chains


def _file_relative_reads() -> set[str]:
    """Top-level folders the code reaches as ``Path(__file__).resolve().parents[N] / "name"`` outside the package."""
    found = set()
    for path in (ROOT / "newretail").rglob("*.py"):
        depth = len(path.relative_to(ROOT).parts) - 1  # parents[depth] is ROOT
        for m in re.finditer(r"Path\(__file__\)\.resolve\(\)\.parents\[(\d+)\]\s*/\s*\"([^\"]+)\"", path.read_text()):
            if int(m.group(1)) == depth:
                found.add(m.group(2))
    return found


def test_files_read_at_run_time_are_declared_package_data_and_in_the_wheel(wheel: Path) -> None:
    names = _wheel_names(wheel)
    declared = PYPROJECT["tool"]["setuptools"]["package-data"]["newretail"]
    reads = _resource_reads()
    assert {"scenarios", "stress/grids"} <= reads, reads  # the scan itself still finds the known readers
    for folder in reads:
        globs = [g for g in declared if g.rsplit("/", 1)[0] == folder]
        assert globs, f"the code reads newretail/{folder} but pyproject.toml declares no package-data for it"
        for glob in globs:
            assert any(fnmatch(n, f"newretail/{glob}") for n in names), f"newretail/{glob} matches nothing in the wheel"
    outside = _file_relative_reads()
    assert outside <= REPOSITORY_ONLY, f"the code reads {outside - REPOSITORY_ONLY} beside the package: ship it"


# ------------------------------------------------------------------------------------------------------- installs
@pytest.fixture(scope="session")
def install(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """A fresh virtual environment with the wheel, some extras and extra requirements; returns its bin folder.

    Constraints are the lock's pins (so the wheels come from uv's cache), except for a package a requirement asks
    for by name (``pandas<3``), which uv resolves freely.
    """
    made: dict[tuple[str, ...], Path] = {}

    def make(*extras: str, requirements: tuple[str, ...] = ()) -> Path:
        key = (*extras, *requirements)
        if key not in made:
            venv = tmp_path_factory.mktemp(f"venv-{'-'.join(extras) or 'core'}") / "venv"
            _run([_uv(), "venv", "--quiet", "--python", sys.executable, venv])
            freed = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower() for r in requirements}
            pins = [line for line in (ROOT / "requirements.lock").read_text().splitlines()
                    if "==" in line and line.split("==")[0].strip().lower() not in freed]  # fmt: skip
            constraints = venv.parent / "constraints.txt"
            constraints.write_text("\n".join(pins) + "\n")
            target = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
            _run([_uv(), "pip", "install", "--quiet", "--python", venv / "bin/python", target, *requirements,
                  "--constraint", constraints])  # fmt: skip
            made[key] = venv / "bin"
        return made[key]

    return make


def _env(bin_dir: Path, data: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    return {
        **keep,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "NEWRETAIL_DATA": str(data),
        "OMP_WAIT_POLICY": "PASSIVE",
        "COLUMNS": "250",
    }


@pytest.fixture(scope="session")
def core(install: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The core install, an empty working folder and a data folder, with a tiny day generated there by default (two
    worker processes: the package's own pool, from the installed wheel)."""
    bin_dir = install()
    work, data = tmp_path_factory.mktemp("empty"), tmp_path_factory.mktemp("data")
    _run([bin_dir / "newretail", "generate", "--scale", SCALE, "--seed", SEED, "--workers", "2", "--quiet"],
         cwd=work, env=_env(bin_dir, data))  # fmt: skip
    return {"bin": bin_dir, "work": work, "data": data, "day": data / f"singles_day_2017-{float(SCALE):g}-s{SEED}"}


def _python(core: dict[str, Path], code: str) -> str:
    return _run([core["bin"] / "python", "-c", code], cwd=core["work"], env=_env(core["bin"], core["data"]))


def test_installed_version_is_the_pyproject_version(core: dict[str, Path]) -> None:
    out = _run([core["bin"] / "newretail", "--version"], cwd=core["work"], env=_env(core["bin"], core["data"]))
    assert out.strip() == f"newretail {VERSION}"
    shown = json.loads(_python(core, "import json, newretail.notebook as n; print(json.dumps(n.versions(show=False)))"))
    assert shown["newretail"] == VERSION


def test_installed_package_is_the_wheel_not_the_checkout(core: dict[str, Path]) -> None:
    where = Path(_python(core, "import newretail; print(newretail.__file__)").strip())
    assert core["bin"].parent in where.parents and ROOT not in where.parents


def test_the_readme_example_as_a_script_reuses_the_day(core: dict[str, Path]) -> None:
    """The README's Python example saved as a plain script (no ``__main__`` guard) in an empty folder: it opens the
    day ``newretail generate`` made in the data folder, as it is (not generated again), and writes nothing there."""
    readme = (ROOT / "README.md").read_text()
    example = readme.split("From Python:", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    example = example.replace("scale=1e-5, seed=0", f"scale={SCALE}, seed={SEED}")
    assert f"scale={SCALE}, seed={SEED}" in example
    manifest = core["day"] / "manifest.json"
    before = manifest.stat().st_mtime_ns
    script_dir = core["work"].parent / "script"
    script_dir.mkdir(exist_ok=True)
    script = script_dir / "example.py"
    script.write_text(example + "print(ds.path, visits.height)\n")
    out = _run([core["bin"] / "python", script], cwd=script_dir, env=_env(core["bin"], core["data"]))
    path, rows = out.split()
    assert Path(path) == core["day"] and int(rows) > 0
    assert manifest.stat().st_mtime_ns == before  # opened, not generated again
    assert [p.name for p in script_dir.iterdir()] == ["example.py"]
    assert not any(core["work"].iterdir())  # nothing written where the user stands


def test_claims_run_on_the_installed_package(core: dict[str, Path]) -> None:
    """Two claims (the whole ledger adds the break-even frontiers, minutes of search: tested in the checkout)."""
    out = _run([core["bin"] / "newretail", "claims", core["day"], "--json", "-c", "gmv_usd", "-c", "chatbot_share"],
               cwd=core["work"], env=_env(core["bin"], core["data"]))  # fmt: skip
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ["gmv_usd", "chatbot_share"], rows


def test_methods_on_a_small_frame(core: dict[str, Path], tmp_path: Path) -> None:
    script = tmp_path / "smoke_methods.py"
    shutil.copy(Path(__file__).with_name("smoke_methods.py"), script)
    out = _run([core["bin"] / "python", script], cwd=core["work"], env=_env(core["bin"], core["data"]))
    assert "ok MethodInputError" in out, out


def test_doctor_shows_the_data_folder_and_the_declared_ranges(core: dict[str, Path]) -> None:
    out = _run([core["bin"] / "newretail", "doctor", "--scale", SCALE], cwd=core["work"],
               env=_env(core["bin"], core["data"]))  # fmt: skip
    assert str(core["data"]) in out and "from NEWRETAIL_DATA" in out, out
    assert "within newretail's declared ranges" in out and "requirements.lock" not in out, out


def test_provenance_installed_has_the_version_and_no_commit(core: dict[str, Path]) -> None:
    code = (
        "import importlib, json\n"
        "for name in ('newretail.report.collect',):\n"
        "    try:\n"
        "        mod = importlib.import_module(name)\n"
        "        break\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "print(json.dumps(mod.provenance()))"
    )
    prov = json.loads(_python(core, code))
    assert prov["newretail"] == VERSION and prov["commit"] is None


def test_core_has_no_shap_and_names_the_extra(core: dict[str, Path]) -> None:
    """shap and its numba/llvmlite chain are not in the core install; explaining says which extra brings it."""
    code = (
        "import importlib.util as u\n"
        "print([m for m in ('shap', 'numba', 'llvmlite') if u.find_spec(m)])\n"
        "from newretail.analyses.personalization import explain\n"
        "from newretail.extras import MissingExtraError\n"
        "try:\n"
        "    explain(None, None)\n"
        "except MissingExtraError as exc:\n"
        "    print(exc)\n"
    )
    found, message = _python(core, code).strip().splitlines()
    assert found == "[]"
    assert message == "SHAP values needs shap, in the explain extra: pip install 'newretail[explain]'"


def test_installs_and_runs_beside_pandas_2(install: Callable[..., Path], core: dict[str, Path], tmp_path: Path) -> None:
    """A researcher's ``pandas<3``: the wheel installs beside it and its methods and readers run."""
    bin_dir = install(requirements=("pandas<3",))
    env = _env(bin_dir, core["data"])
    version = _run([bin_dir / "python", "-c", "import pandas; print(pandas.__version__)"], cwd=tmp_path, env=env)
    assert version.startswith("2."), version
    script = tmp_path / "smoke_methods.py"
    shutil.copy(Path(__file__).with_name("smoke_methods.py"), script)
    assert "ok MethodInputError" in _run([bin_dir / "python", script], cwd=tmp_path, env=env)
    code = (
        "from newretail.tables import open_dataset\n"
        f"ds = open_dataset({str(core['day'])!r})\n"
        "print(ds.read('orders').to_pandas().shape[0])"
    )
    assert int(_run([bin_dir / "python", "-c", code], cwd=tmp_path, env=env)) > 0


# --------------------------------------------------------------------------------------------------------- extras
@pytest.fixture(scope="session")
def full(install: Callable[..., Path]) -> Path:
    """One environment with every extra: they are tested together, as a user with ``[notebooks,dask]`` has them."""
    return install(*EXTRAS)


def test_extra_notebooks_runs_a_notebook_with_papermill(full: Path, core: dict[str, Path], tmp_path: Path) -> None:
    """papermill executes a notebook on the installed kernel: it opens the day through the notebooks' set-up line
    and imports shap (notebook 03). The project's own notebooks run in the checkout (make test-notebooks)."""
    import nbformat

    env = _env(full, core["data"])
    assert _run([full / "newretail", "--version"], cwd=tmp_path, env=env).strip() == f"newretail {VERSION}"
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell("dataset = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import shap\n"
            "from newretail.notebook import open_day\n"
            "ds, out = open_day(notebook='smoke', dataset=dataset)\n"
            "assert ds.read('visits').height > 0"
        ),
    ]
    source = tmp_path / "smoke.ipynb"
    nbformat.write(notebook, source)
    _run([full / "papermill", source, tmp_path / "executed.ipynb", "-k", "python3", "--no-progress-bar",
          "-p", "dataset", str(core["day"])], cwd=tmp_path, env=env)  # fmt: skip
    executed = json.loads((tmp_path / "executed.ipynb").read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_extra_paper_typesets_a_pdf(full: Path, tmp_path: Path) -> None:
    (tmp_path / "main.typ").write_text("= newretail\nThe paper extra typesets offline.\n")
    code = (
        "import typst, pypdf\n"
        "typst.compile('main.typ', output='main.pdf')\n"
        "print(pypdf.PdfReader('main.pdf').pages[0].extract_text())"
    )
    out = _run([full / "python", "-c", code], cwd=tmp_path, env=_env(full, tmp_path / "data"))
    assert "typesets offline" in out


def test_extra_dask_generates_the_same_bytes(full: Path, core: dict[str, Path]) -> None:
    out = core["work"].parent / "dask-day"
    _run([full / "newretail", "generate", "--scale", SCALE, "--seed", SEED, "--engine", "dask", "--workers", "1",
          "--quiet", "--out", out], cwd=out.parent, env=_env(full, core["data"]))  # fmt: skip

    def digests(folder: Path) -> dict[str, str]:
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))
        }

    assert digests(out) == digests(core["day"]) != {}
