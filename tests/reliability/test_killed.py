"""``newretail generate`` killed (SIGKILL) at random points: a rerun resumes and ends byte-identical to an
uninterrupted run, and no partial file is ever listed in a manifest."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from newretail.generate import generate
from newretail.scenario import scenario_text
from newretail.tables import verify

SCALE = 1e-5
KILL_SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "sharded.toml"
    path.write_text(
        scenario_text("singles_day_2017").replace("users_per_partition = 20000", "users_per_partition = 500")
    )
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, sharded: Path) -> bytes:
    out = tmp_path_factory.mktemp("reference") / "ds"
    return generate(sharded, scale=SCALE, seed=17, out=out, workers=1).read_bytes()


@pytest.mark.parametrize("kill_seed", KILL_SEEDS)
def test_killed_generate_resumes_byte_identical(
    tmp_path: Path, sharded: Path, reference: bytes, kill_seed: int
) -> None:
    rng = np.random.default_rng(kill_seed)
    out = tmp_path / "ds"
    command = [
        sys.executable, "-m", "newretail.cli", "generate", "--scenario", str(sharded), "--scale", str(SCALE),
        "--seed", "17", "--out", str(out), "--workers", str(int(rng.integers(1, 3))), "--quiet",
    ]  # fmt: skip
    kills = 0
    for _ in range(int(rng.integers(1, 3))):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(float(rng.uniform(1.0, 4.0)))  # start-up and calibration take about two seconds
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        manifest = out / "manifest.json"
        if manifest.exists():  # a finished run: every listed file is complete
            listed = [f["path"] for t in json.loads(manifest.read_text())["tables"].values() for f in t["files"]]
            assert all((out / rel).is_file() for rel in listed)
    subprocess.run(command, check=True, capture_output=True)
    assert (out / "manifest.json").read_bytes() == reference
    assert verify(out).ok
    assert not list(out.glob("*/.part-*"))
