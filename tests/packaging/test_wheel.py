"""The package as a researcher gets it: the sdist and wheel built from this checkout, the wheel installed into fresh
virtual environments (core, then each extra), every command run in an empty folder far from the checkout.

Slow (building and installing, a few minutes): skipped unless ``NEWRETAIL_PACKAGING=1``, which ``make package`` and
``.ci/run`` set. Installs use uv with ``requirements.lock`` as constraints, so they come from uv's cache when warm.
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
EXTRAS = ("notebooks", "paper", "dask")
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
    requires = set(re.findall(r"^Requires-Dist: ([^;\n]+?)\s*$", meta, flags=re.M))
    assert set(PYPROJECT["project"]["dependencies"]) <= requires
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
def install(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A fresh virtual environment with the wheel and one extra ("" for none); returns its bin folder."""
    made: dict[str, Path] = {}

    def make(extra: str) -> Path:
        if extra not in made:
            venv = tmp_path_factory.mktemp(f"venv-{extra or 'core'}") / "venv"
            _run([_uv(), "venv", "--quiet", "--python", sys.executable, venv])
            target = f"{wheel}[{extra}]" if extra else str(wheel)
            _run([_uv(), "pip", "install", "--quiet", "--python", venv / "bin/python", target,
                  "--constraint", ROOT / "requirements.lock"])  # fmt: skip
            made[extra] = venv / "bin"
        return made[extra]

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
def core(install: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The core install, an empty working folder and a data folder, with a tiny day generated there by default."""
    bin_dir = install("")
    work, data = tmp_path_factory.mktemp("empty"), tmp_path_factory.mktemp("data")
    _run([bin_dir / "newretail", "generate", "--scale", SCALE, "--seed", SEED, "--workers", "1", "--quiet"],
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


def test_generate_writes_into_the_data_folder_and_load_reuses_it(core: dict[str, Path]) -> None:
    """``newretail generate`` without --out and ``datasets.load`` name the same folder under NEWRETAIL_DATA."""
    manifest = core["day"] / "manifest.json"
    assert manifest.is_file()
    before = manifest.stat().st_mtime_ns
    path = _python(core, f"from newretail.datasets import load; print(load(scale={SCALE}, seed={SEED}).path)")
    assert Path(path.strip()) == core["day"]
    assert manifest.stat().st_mtime_ns == before  # opened, not generated again
    assert not any(core["work"].iterdir())  # nothing written where the user stands


def test_claims_run_on_the_installed_package(core: dict[str, Path]) -> None:
    out = _run([core["bin"] / "newretail", "claims", core["day"], "--json"], cwd=core["work"],
               env=_env(core["bin"], core["data"]))  # fmt: skip
    rows = json.loads(out)
    assert any(r["id"] == "gmv_usd" for r in rows), rows


def test_methods_on_a_small_frame(core: dict[str, Path], tmp_path: Path) -> None:
    script = tmp_path / "smoke_methods.py"
    shutil.copy(Path(__file__).with_name("smoke_methods.py"), script)
    out = _run([core["bin"] / "python", script], cwd=core["work"], env=_env(core["bin"], core["data"]))
    assert "ok MethodInputError" in out, out


def test_doctor_shows_the_data_folder(core: dict[str, Path]) -> None:
    out = _run([core["bin"] / "newretail", "doctor", "--scale", SCALE], cwd=core["work"],
               env=_env(core["bin"], core["data"]))  # fmt: skip
    assert str(core["data"]) in out and "from NEWRETAIL_DATA" in out, out


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


# --------------------------------------------------------------------------------------------------------- extras
def test_extra_notebooks_runs_the_quickstart_with_papermill(
    install: Callable[[str], Path], core: dict[str, Path], tmp_path: Path
) -> None:
    bin_dir = install("notebooks")
    env = _env(bin_dir, core["data"])
    assert _run([bin_dir / "newretail", "--version"], cwd=tmp_path, env=env).strip() == f"newretail {VERSION}"
    notebook = tmp_path / "00_quickstart.ipynb"
    shutil.copy(ROOT / "notebooks" / "00_quickstart.ipynb", notebook)
    parameters = ["-p", "dataset", str(core["day"]), "-p", "scale", SCALE, "-p", "seed", SEED]
    _run([bin_dir / "papermill", notebook, tmp_path / "executed.ipynb", "-k", "python3", "--no-progress-bar",
          *parameters], cwd=tmp_path, env=env)  # fmt: skip
    executed = json.loads((tmp_path / "executed.ipynb").read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_extra_paper_typesets_a_pdf(install: Callable[[str], Path], tmp_path: Path) -> None:
    bin_dir = install("paper")
    (tmp_path / "main.typ").write_text("= newretail\nThe paper extra typesets offline.\n")
    code = (
        "import typst, pypdf\n"
        "typst.compile('main.typ', output='main.pdf')\n"
        "print(pypdf.PdfReader('main.pdf').pages[0].extract_text())"
    )
    out = _run([bin_dir / "python", "-c", code], cwd=tmp_path, env=_env(bin_dir, tmp_path / "data"))
    assert "typesets offline" in out


def test_extra_dask_generates_the_same_bytes(install: Callable[[str], Path], core: dict[str, Path]) -> None:
    bin_dir = install("dask")
    out = core["work"].parent / "dask-day"
    _run([bin_dir / "newretail", "generate", "--scale", SCALE, "--seed", SEED, "--engine", "dask", "--workers", "1",
          "--quiet", "--out", out], cwd=out.parent, env=_env(bin_dir, core["data"]))  # fmt: skip

    def digests(folder: Path) -> dict[str, str]:
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))
        }

    assert digests(out) == digests(core["day"]) != {}
