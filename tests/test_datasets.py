"""One dataset folder: NEWRETAIL_DATA or the per-user data folder; the same folder name for make and load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from processes import alive, descendants
from typer.testing import CliRunner

from newretail import datasets
from newretail.cli import app
from newretail.datasets import data_home, dataset_path

ROOT = Path(__file__).resolve().parents[1]


def test_data_home_is_newretail_data_when_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWRETAIL_DATA", str(tmp_path / "mine"))
    assert data_home() == tmp_path / "mine"


def test_data_home_relative_setting_is_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWRETAIL_DATA", "rel")
    assert data_home() == tmp_path / "rel"


def test_data_home_default_follows_the_xdg_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Unset (or empty), on Linux: $XDG_DATA_HOME/newretail, the XDG base-directory rule."""
    if not Path("/proc").is_dir():
        pytest.skip("the XDG rule is the Linux one")
    monkeypatch.setenv("NEWRETAIL_DATA", "")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "newretail"


def test_dataset_path_names_scenario_scale_and_seed(tmp_path: Path) -> None:
    assert dataset_path("singles_day_2017", scale=1e-5, seed=0, root=tmp_path) == tmp_path / "singles_day_2017-1e-05-s0"
    assert dataset_path(tmp_path / "mine.toml", scale=0.5, seed=3, root="r") == Path("r/mine-0.5-s3")


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"scale": 0.0}, "scale"), ({"scale": float("nan")}, "scale"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed")],
)
def test_dataset_path_refuses_bad_arguments_naming_them(kwargs: dict[str, Any], word: str) -> None:
    args = {"scale": 1e-4, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=f"^{word} = ") as err:
        dataset_path("singles_day_2017", **args)
    assert "\n" not in str(err.value)


def test_load_defaults_to_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without path or root, load generates into <NEWRETAIL_DATA>/<name>-<scale>-s<seed> whatever the cwd."""
    import newretail.generate.audit
    import newretail.generate.run

    seen: dict[str, Path] = {}
    monkeypatch.setattr(newretail.generate.run, "generate", lambda name, **kw: seen.setdefault("out", Path(kw["out"])))
    monkeypatch.setattr(
        newretail.generate.audit, "open_audited", lambda folder: seen.setdefault("opened", Path(folder))
    )
    monkeypatch.setenv("NEWRETAIL_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    datasets.load("singles_day_2017", scale=2e-5, seed=7)
    assert seen["out"] == seen["opened"] == tmp_path / "data" / "singles_day_2017-2e-05-s7"


def test_make_data_uses_the_folder_load_uses(tmp_path: Path) -> None:
    """``make data`` and ``datasets.load`` name one folder for the same scenario, scale and seed."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    for scale, seed in (("1e-4", "20171111"), ("2e-5", "7")):
        made = subprocess.run(
            ["make", "-s", "--no-print-directory", "data-path", f"SCALE={scale}", f"SEED={seed}",
             f"NEWRETAIL_DATA={tmp_path}"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert Path(made) == dataset_path("singles_day_2017", scale=float(scale), seed=int(seed), root=tmp_path)


def test_make_defaults_to_the_checkouts_data_folder() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k != "NEWRETAIL_DATA"}
    made = subprocess.run(["make", "-s", "--no-print-directory", "data-path"], cwd=ROOT, capture_output=True,
                          text=True, check=True, env=env).stdout  # fmt: skip
    assert Path(made.strip()).parent == ROOT / "data" / "synthetic"


def test_doctor_names_the_data_folder_and_checks_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEWRETAIL_DATA", str(tmp_path / "d"))
    monkeypatch.chdir(ROOT)
    out = CliRunner().invoke(app, ["doctor", "--scale", "1e-6"], env={"COLUMNS": "250"}).output
    rows = {line.split("\u2502")[1].strip(): line for line in out.splitlines() if line.count("\u2502") > 3}
    assert f"{tmp_path / 'd'} (from NEWRETAIL_DATA)" in rows["data"]
    assert f"{tmp_path} is writable" in rows["output"]  # the folder it would write to, not the working folder


def _readme_example() -> str:
    """The README's Python example, as written there (the block after "From Python:")."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("From Python:", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "load(" in block
    return block


def test_the_readme_example_runs_as_a_plain_script(tmp_path: Path) -> None:
    """Saved as a script with no ``if __name__ == "__main__":`` guard and run from an empty folder: the worker
    processes that generate the day never run the script again (before, each one did and the pool broke)."""
    work = tmp_path / "empty"
    work.mkdir()
    script = work / "example.py"
    script.write_text(_readme_example().replace("scale=1e-5", "scale=1e-6") + "print('rows', visits.height)\n")
    env = {**os.environ, "NEWRETAIL_DATA": str(tmp_path / "data")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        [sys.executable, script.name], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    children: set[int] = set()
    while proc.poll() is None:  # the processes it starts, to check none outlives it
        children |= set(descendants(proc.pid))
        time.sleep(0.05)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert out.count("rows ") == 1 and int(out.split("rows ")[1]) > 0, out  # the script ran once
    assert [p.name for p in work.iterdir()] == ["example.py"]  # nothing written where the user stands
    assert len(children) >= 2  # it did use worker processes
    assert not alive(children)


def test_load_opens_a_day_on_disk_without_generating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A day already there, made for the same scenario (content hash), scale, seed and version, is opened as it
    is: not generated again and its manifest not rewritten."""
    import newretail.generate.run

    first = datasets.load("singles_day_2017", scale=1e-6, seed=2, root=tmp_path, workers=1)
    manifest = first.path / "manifest.json"
    stamp = manifest.stat().st_mtime_ns

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("generated again")

    monkeypatch.setattr(newretail.generate.run, "generate", refuse)
    again = datasets.load("singles_day_2017", scale=1e-6, seed=2, root=tmp_path)
    assert again.path == first.path and manifest.stat().st_mtime_ns == stamp


def test_load_replaces_a_day_of_another_version(tmp_path: Path) -> None:
    """The manifest records the package version: a day made by another version is generated again."""
    from newretail.tables.manifest import manifest_digest

    first = datasets.load("singles_day_2017", scale=1e-6, seed=2, root=tmp_path, workers=1)
    manifest = json.loads((first.path / "manifest.json").read_text())
    manifest["package_version"] = "0.0.1"
    manifest["digest"] = manifest_digest(manifest)
    (first.path / "manifest.json").write_text(json.dumps(manifest))
    again = datasets.load("singles_day_2017", scale=1e-6, seed=2, root=tmp_path, workers=1)
    from newretail import __version__

    assert again.manifest["package_version"] == __version__


def test_doctor_outside_the_checkout_reads_no_other_projects_lock(tmp_path: Path) -> None:
    """Inside another project whose requirements.lock pins other versions, doctor judges newretail's own
    declared ranges and never that lock."""
    other = tmp_path / "their_project"
    other.mkdir()
    (other / "requirements.lock").write_text("numpy==1.0.0\npolars==0.1.0\n")
    out = subprocess.run(
        [sys.executable, "-m", "newretail.cli", "doctor", "--scale", "1e-6", "--out", str(tmp_path / "d")],
        cwd=other, capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"},
    )  # fmt: skip
    rows = {line.split("\u2502")[1].strip(): line for line in out.stdout.splitlines() if line.count("\u2502") > 3}
    assert "within newretail's declared ranges" in rows["packages"], out.stdout
    assert "1.0.0" not in out.stdout and str(other) not in out.stdout


def test_coverage_records_newretails_commit_not_the_working_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run inside another git repository, ``newretail coverage`` writes newretail's own version and commit (the
    study itself is replaced by the stored rows of docs/coverage.parquet: only the header is under test)."""
    import polars as pl

    import newretail.studies.coverage as coverage
    from newretail import __version__
    from newretail.report.provenance import provenance

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    rows = pl.read_parquet(ROOT / "docs/coverage.parquet")
    monkeypatch.setattr(coverage, "study", lambda *args, **kwargs: rows)
    other = tmp_path / "their_repo"
    other.mkdir()
    for command in (["init", "-q"], ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty",
                                     "-m", "theirs"]):  # fmt: skip
        subprocess.run(["git", "-C", str(other), *command], check=True, capture_output=True)
    theirs = subprocess.run(["git", "-C", str(other), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    monkeypatch.chdir(other)
    result = CliRunner().invoke(app, ["coverage", "--seeds", "2", "--out", str(tmp_path / "coverage.md"), "--quiet"])
    assert result.exit_code == 0, result.output
    commit = coverage.parse_header((tmp_path / "coverage.md").read_text())["commit"]
    ours = provenance()["commit"]
    assert theirs.strip()[:12] not in commit
    assert commit == f"{ours[:12] if ours else 'unknown'} (newretail {__version__})"
