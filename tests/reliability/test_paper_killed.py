"""``make paper`` killed (SIGKILL to the whole make process group) at random points: the next ``make paper``
finishes the build, its results.json and figures byte-identical to an uninterrupted build's, and no paper.pdf
is ever left from a build that did not finish."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from newretail.tables import Dataset

ROOT = Path(__file__).resolve().parents[2]


def _make(dataset: Dataset, notebooks: Path, build: Path) -> list[str]:
    return [
        "make", "-C", str(ROOT), "--no-print-directory", "paper",
        "-o", ".venv/bin/.installed", "-o", f"{dataset.path}/manifest.json",
        f"DATA={dataset.path}", f"NOTEBOOK_DIR={notebooks}", f"BUILD={build}",
        f"SCALE={dataset.scale:g}", f"SEED={dataset.seed}",
    ]  # fmt: skip


def _executed(build: Path) -> list[Path]:
    return sorted((build / "notebooks").glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("kill_seed", [3])
def test_killed_make_paper_resumes_to_the_same_bytes(small_dataset: Dataset, tmp_path: Path, kill_seed: int) -> None:
    from test_paper import stand_ins

    notebooks = tmp_path / "notebooks"
    stand_ins(notebooks)
    if not (ROOT / ".venv/bin/python").is_file():
        pytest.skip("needs the project's .venv (make setup)")
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run(_make(small_dataset, notebooks, reference), check=True, capture_output=True)

    # the claims step is not what is killed here (the kills land while notebooks run): the killed build starts
    # with the reference's claims.json, newer than everything it depends on, so make keeps it and the test spends
    # its time on the notebooks and the paper
    killed.mkdir()
    shutil.copy(reference / "claims.json", killed / "claims.json")

    rng = np.random.default_rng(kill_seed)
    kills = 0
    for round_ in range(2):
        proc = subprocess.Popen(
            _make(small_dataset, notebooks, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        # kill while the build is under way: first after one notebook has been executed, then while the second
        # notebook's kernel runs (a kernel takes several seconds to start and run a stand-in)
        deadline = time.monotonic() + 300
        while round_ == 0 and not _executed(killed) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.5, 2.0)))
        assert proc.poll() is None, "make paper finished before it could be killed: the test did not test a kill"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        if not (killed / "results.json").exists():
            assert not (killed / "paper.pdf").exists()  # no PDF from an unfinished build
    assert kills == 2
    assert not (killed / "paper.pdf").exists(), "the killed builds already finished the paper"
    subprocess.run(_make(small_dataset, notebooks, killed), check=True, capture_output=True)

    assert (killed / "results.json").read_bytes() == (reference / "results.json").read_bytes()
    pngs = sorted(p.relative_to(reference) for p in (reference / "figures").glob("*.png"))
    assert pngs and pngs == sorted(p.relative_to(killed) for p in (killed / "figures").glob("*.png"))
    for rel in pngs:
        assert (killed / rel).read_bytes() == (reference / rel).read_bytes()
    assert (killed / "paper.pdf").is_file()
