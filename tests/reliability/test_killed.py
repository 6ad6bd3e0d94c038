"""``newretail generate`` killed (SIGKILL) at random points: a rerun resumes and ends byte-identical to an
uninterrupted run, and no partial file is ever listed in a manifest."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from processes import alive, descendants

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


def _parts(out: Path) -> list[Path]:
    """Finished partition files (temporary files excluded)."""
    return sorted(out.glob("*/part-*.parquet"))


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
        # kill once the run has written some partitions but not all: wait for a random number of new files
        before = len(_parts(out))
        wanted = before + int(rng.integers(1, 4))
        deadline = time.monotonic() + 120
        while len(_parts(out)) < wanted and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed: the test did not test a kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        assert not (out / "manifest.json").exists(), "a killed run left a manifest"
    assert kills >= 1
    partial = {path: path.stat().st_mtime_ns for path in _parts(out)}
    assert partial, "nothing was written before the kill"
    subprocess.run(command, check=True, capture_output=True)
    assert len(_parts(out)) > len(partial), "the rerun wrote nothing new: no work was resumed"
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in partial.items()), "finished parts were rewritten"
    assert (out / "manifest.json").read_bytes() == reference
    assert verify(out).ok
    assert not list(out.glob("*/.part-*"))


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_workers_die_with_a_killed_parent(tmp_path: Path, engine: str) -> None:
    """SIGKILL to a 2-worker ``generate`` mid-run: no process it started (workers, a resource tracker) is alive a
    few seconds later. Before the package's own pool, the local engine's two workers and resource tracker were all
    still alive here (issue 31 found them idle 40 minutes after such a kill); Dask's took 4-6 s."""
    import psutil

    out = tmp_path / "ds"
    command = [sys.executable, "-m", "newretail.cli", "generate", "--scale", "2e-5", "--seed", "3", "--out", str(out),
               "--workers", "2", "--engine", engine, "--quiet"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not _parts(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    children = descendants(proc.pid)
    assert len(children) >= 2, children
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(children), [psutil.Process(p).cmdline() for p in alive(children)]
