"""One dataset folder: NEWRETAIL_DATA or the per-user data folder; the same folder name for make and load."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
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
    import newretail.generate.run
    import newretail.tables

    seen: dict[str, Path] = {}
    monkeypatch.setattr(newretail.generate.run, "generate", lambda name, **kw: seen.setdefault("out", Path(kw["out"])))
    monkeypatch.setattr(newretail.tables, "open_dataset", lambda folder: seen.setdefault("opened", Path(folder)))
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
