"""Shared fixtures: one small dataset per test session, and a headless notebook runner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from newretail.generate import generate
from newretail.tables import Dataset, open_dataset

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SMALL_SCALE = 2e-5  # about 1.5 million page views, 160k visits, 15k inquiries
SMALL_SEED = 7

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# `make mutation` runs the fuzz tests once per mutant: a few examples each keep one mutant within seconds
settings.register_profile(
    "mutation", max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The shipped scenario at ``SMALL_SCALE``, generated once per session."""
    out = tmp_path_factory.mktemp("data") / "small"
    generate("singles_day_2017", scale=SMALL_SCALE, seed=SMALL_SEED, out=out, workers=2)
    return open_dataset(out)


def run_notebook(name: str, parameters: dict[str, Any], out_dir: Path) -> Path:
    """Execute ``notebooks/<name>.ipynb`` headless with papermill; return the executed copy's path."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(target),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
    )
    return target
