"""The disk filling up mid-run: a clear error, no partial file left, and a clean resume once there is room.

Uses a small tmpfs mount (needs root, as on the project's machines and CI); skipped where mounting is refused.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from newretail.generate import GenerateError, generate
from newretail.tables import verify

SCALE = 1e-5


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_the_up_front_check_refuses_first(small_disk: Path) -> None:
    with pytest.raises(GenerateError, match="GB free"):
        generate("singles_day_2017", scale=SCALE, seed=9, out=small_disk / "ds", workers=1)
    assert not list(small_disk.rglob("*.parquet"))


def test_disk_full_then_resume(tmp_path: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The up-front estimate passes (say another program fills the disk meanwhile), then a write fails."""
    from newretail.generate import run

    monkeypatch.setattr(run, "_check_disk", lambda p, out: None)
    reference = generate("singles_day_2017", scale=SCALE, seed=9, out=tmp_path / "ref", workers=1)
    out = small_disk / "ds"
    with pytest.raises(GenerateError, match="disk filled up") as err:
        generate("singles_day_2017", scale=SCALE, seed=9, out=out, workers=1)
    assert "run the same command again" in str(err.value)
    assert not (out / "manifest.json").exists()
    assert not list(out.glob("*/.part-*"))  # the half-written partition was removed
    subprocess.run(["mount", "-o", "remount,size=64M", str(small_disk)], check=True)
    resumed = generate("singles_day_2017", scale=SCALE, seed=9, out=out, workers=2)
    assert resumed.read_bytes() == reference.read_bytes()
    assert verify(out).ok
