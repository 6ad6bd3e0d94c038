"""The package deletes only what it wrote: a user's files beside a dataset survive ``generate --overwrite`` and
``datasets.load(path=)``, which refuse with one line naming the first entry that is not the package's; a dataset
being replaced stays whole until its replacement is complete. Every case on a real file system in a temp folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from newretail import datasets
from newretail.generate import GenerateError, generate
from newretail.tables import open_dataset, verify

SCALE = 1e-6  # about 75k page views: seconds per day


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day") / "ds"
    generate("singles_day_2017", scale=SCALE, seed=1, out=out, workers=1)
    return out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _with_user_files(day: Path, tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    shutil.copytree(day, out)
    (out / "thesis.tex").write_text("\\section{mine}")
    (out / "NOTES.md").write_text("my notes")
    (out / "my_results").mkdir()
    (out / "my_results" / "fit.csv").write_text("a,b\n1,2\n")
    return out


def _cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newretail.cli", *map(str, args)], capture_output=True, text=True, env=env
    )


def test_overwrite_refuses_a_folder_holding_user_files(day: Path, tmp_path: Path) -> None:
    out = _with_user_files(day, tmp_path)
    before = _snapshot(out)
    done = _cli("generate", "--scale", SCALE, "--seed", 2, "--out", out, "--overwrite", "--workers", 1, "--quiet")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"newretail: error: out = {str(out)!r}: holds 'NOTES.md', which newretail did not write; choose another "
        "--out (nothing was changed)"
    ]
    assert "Traceback" not in done.stderr
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no staging folder was made either


def test_load_into_a_folder_holding_user_files_refuses(day: Path, tmp_path: Path) -> None:
    """The issue's case: another seed's day plus NOTES.md and my_results/ at ``path``; nothing is deleted."""
    out = _with_user_files(day, tmp_path)
    (out / "NOTES.md").unlink()
    before = _snapshot(out)
    with pytest.raises(GenerateError, match=r"holds 'my_results', which newretail did not write") as err:
        datasets.load("singles_day_2017", scale=SCALE, seed=3, path=out, workers=2)
    assert "\n" not in str(err.value)
    assert _snapshot(out) == before


def test_load_replaces_only_its_own_files(day: Path, tmp_path: Path) -> None:
    """Another day of the package at ``path`` is replaced; the folder then holds exactly the new day."""
    out = tmp_path / "ds"
    shutil.copytree(day, out)
    ds = datasets.load("singles_day_2017", scale=SCALE, seed=3, path=out, workers=1)
    assert ds.seed == 3 and verify(out).ok
    listed = {rec["path"] for t in ds.tables for rec in ds.files(t)}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert on_disk == listed | {"manifest.json", ".run-spec.json"}  # the run's marker stays, listing the same
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_a_users_own_manifest_is_not_taken_for_ours(tmp_path: Path) -> None:
    """A web project's manifest.json is the user's: generate and load refuse instead of replacing it."""
    out = tmp_path / "site"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"name": "my app", "icons": []}))
    with pytest.raises(GenerateError, match=r"holds 'manifest\.json'"):
        generate("singles_day_2017", scale=SCALE, seed=1, out=out, workers=1, overwrite=True)
    with pytest.raises(GenerateError, match=r"holds 'manifest\.json'"):
        datasets.load("singles_day_2017", scale=SCALE, seed=1, path=out)
    assert json.loads((out / "manifest.json").read_text())["name"] == "my app"


def test_a_symbolic_link_in_the_folder_is_never_ours(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    shutil.copytree(day, out)
    elsewhere = tmp_path / "precious"
    elsewhere.mkdir()
    (elsewhere / "data.csv").write_text("keep")
    (out / "users" / "part-00001.parquet").symlink_to(elsewhere / "data.csv")
    with pytest.raises(GenerateError, match=r"holds 'users/part-00001\.parquet'"):
        generate("singles_day_2017", scale=SCALE, seed=4, out=out, workers=1, overwrite=True)
    assert (elsewhere / "data.csv").read_text() == "keep"


def test_overwrite_keeps_the_old_day_until_the_new_one_is_complete(day: Path, tmp_path: Path) -> None:
    """Killed in the middle of --overwrite, the folder still holds the old day, intact; the same command again
    resumes the new day beside it and swaps it in."""
    import signal
    import time

    out = tmp_path / "ds"
    shutil.copytree(day, out)
    before = _snapshot(out)
    command = [sys.executable, "-m", "newretail.cli", "generate", "--scale", str(SCALE), "--seed", "5",
               "--out", str(out), "--overwrite", "--workers", "1", "--quiet"]  # fmt: skip
    staging = tmp_path / ".ds.newretail-new"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(staging.glob("*/part-*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = _snapshot(out)
    after.pop(".lock", None)  # the killed run's lock (taken over by the next run: its pid is gone)
    assert after == before
    assert open_dataset(out).seed == 1
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert open_dataset(out).seed == 5 and verify(out).ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert not (out / ".lock").exists()


def test_a_read_only_data_folder_is_one_line(tmp_path: Path) -> None:
    """NEWRETAIL_DATA on a read-only file system: exit 2, one line naming the folder."""
    mount = tmp_path / "ro"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1M", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {proc.stderr.decode().strip()}")
    try:
        env = {**os.environ, "NEWRETAIL_DATA": str(mount / "data")}
        done = _cli("generate", "--scale", SCALE, "--seed", 1, "--quiet", env=env)
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("newretail: error: out = ") and f"{mount} is not writable" in line
        done = _cli("generate", "--scale", SCALE, "--seed", 1, "--quiet", "--out", mount, env=env)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
