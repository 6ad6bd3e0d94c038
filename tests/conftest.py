"""Shared fixtures: one small dataset per test session, and a headless notebook runner."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from processes import SESSION_MARK, left_behind

from newretail.generate import generate
from newretail.tables import Dataset, DatasetError, open_dataset

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SMALL_SCALE = 2e-5  # about 1.5 million page views, 160k visits, 15k inquiries
SMALL_SEED = 7

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# calibrations of the many scenarios the tests make go to a folder of this run, not the user's cache (the entries
# shipped with the package for the bundled scenario are read as usual)
_OWN_CACHE = "NEWRETAIL_TEST_OWN_CACHE"  # the cache folder a session made itself (not given by a user or the caller)
if "NEWRETAIL_CACHE" not in os.environ:
    os.environ["NEWRETAIL_CACHE"] = os.environ[_OWN_CACHE] = tempfile.mkdtemp(prefix="newretail-cache-")


def pytest_configure(config: pytest.Config) -> None:
    """Mark the session's environment (the controller's, which xdist's workers and every process a test starts
    inherit), so that :func:`pytest_sessionfinish` can find what the suite left running, wherever it was reparented."""
    if not hasattr(config, "workerinput"):  # the controller, or a run without xdist; a nested session marks anew
        os.environ[SESSION_MARK] = f"{os.getpid()}-{time.time_ns()}"
        # each session its own cache folder (xdist's workers share the controller's) and empty memos: a process that
        # runs several sessions (mutmut forks one per mutant) must not hand a later session the values an earlier one
        # computed with other code under the same key. Told apart by the environment, which outlives a re-import of
        # this module.
        if os.environ.get("NEWRETAIL_CACHE") == os.environ.get(_OWN_CACHE):
            os.environ["NEWRETAIL_CACHE"] = os.environ[_OWN_CACHE] = tempfile.mkdtemp(prefix="newretail-cache-")
        _forget_memoized()


def _forget_memoized() -> None:
    """Empty the package's in-process memos (``functools.cache``/``lru_cache``: the calibrations, the references),
    so that a session starts as a fresh process would, whatever an earlier session in this process computed."""
    import sys

    for name, module in list(sys.modules.items()):
        if name == "newretail" or name.startswith("newretail."):
            for value in list(vars(module).values()):
                clear = getattr(value, "cache_clear", None)
                if callable(clear):
                    clear()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a process the suite started still runs 20 s after the last test (listed, then killed): a
    killed or interrupted command must leave none behind (issue 31)."""
    if hasattr(session.config, "workerinput") or SESSION_MARK not in os.environ:
        return
    left = left_behind(os.environ[SESSION_MARK])
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            reporter.write_sep("=", f"{len(left)} process(es) started by the suite still ran after it ended", red=True)
            for line in left:
                reporter.write_line(f"killed {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# `make mutation` runs the fuzz tests once per mutant: a few examples each keep one mutant within seconds
settings.register_profile(
    "mutation", max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


def _memoize_frontiers(folder: Path) -> None:
    """Keep each break-even search's answer on disk, keyed by its arguments (``make mutation``: the claims ledger's
    mutants then run in seconds; a mutant that changes what the ledger asks for misses the memo and searches)."""
    import hashlib
    import pickle

    from newretail.stress import frontier

    search = frontier.find_frontiers

    def memo(*args: Any, **kwargs: Any) -> Any:
        # a pydantic model pickles its set of fields set, in an order that changes between processes: key on JSON
        stable = [a.model_dump_json() if hasattr(a, "model_dump_json") else a for a in (*args, *kwargs.values())]
        key = hashlib.sha256(pickle.dumps((stable, sorted(kwargs)))).hexdigest()
        path = folder / f"{key}.pickle"
        if path.is_file():
            return pickle.loads(path.read_bytes())
        out = search(*args, **kwargs)
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}")
        partial.write_bytes(pickle.dumps(out))
        partial.replace(path)
        return out

    frontier.find_frontiers = memo  # type: ignore[assignment]


if os.environ.get("NEWRETAIL_TEST_DATA"):
    _memoize_frontiers(Path(os.environ["NEWRETAIL_TEST_DATA"]) / "frontiers")


Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval


def sigmas(estimate: Any, truth: float) -> float:
    """How many standard errors ``estimate`` lies from ``truth`` (a signed number).

    The standard error is read from the estimate's 95% interval: its half-width on the side where ``truth`` lies,
    over 1.96 (the side matters for the asymmetric intervals of ratios, counts, quantiles and bootstraps). The
    statistical tests assert ``abs(sigmas(...)) < z`` with ``z`` and its false-failure rate stated in their
    docstrings (docs/statistical_tests.md lists them with the measurements behind each rate).

    ``estimate``: an object with ``value`` (or ``estimate``, ``reproduced``, ``ratio``), ``ci_low`` and ``ci_high``;
    a mapping with those keys (or ``share``); or a ``(value, ci_low, ci_high)`` tuple.
    """
    if isinstance(estimate, tuple):
        value, low, high = (float(v) for v in estimate)
    else:
        get = estimate.get if isinstance(estimate, dict) else lambda name: getattr(estimate, name, None)
        value = next(v for v in map(get, ("value", "estimate", "reproduced", "ratio", "share")) if v is not None)
        value, low, high = float(value), float(get("ci_low")), float(get("ci_high"))
    half = value - low if truth < value else high - value
    if not half > 0:
        return 0.0 if value == truth else float("inf")
    return (value - truth) * Z95 / half


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` (other processes wait)."""
    import fcntl

    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Dataset:
    """The shipped scenario at ``SMALL_SCALE``, generated once per test run.

    Under pytest-xdist the workers share it: the first generates it into the run's common temporary folder while
    the others wait on a lock (the same scenario, scale and seed give the same bytes, so any worker may). With
    ``NEWRETAIL_TEST_DATA`` set, it is kept in that folder across runs instead (for code that does not generate it).
    """
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # the run's folder, above each worker's own
    if os.environ.get("NEWRETAIL_TEST_DATA"):  # kept across runs (make mutation: one dataset for every mutant)
        root = Path(os.environ["NEWRETAIL_TEST_DATA"])
        root.mkdir(parents=True, exist_ok=True)
    out = root / "shared-data" / "small"
    with _exclusive(root / "shared-data.lock"):
        try:
            open_dataset(out)
        except DatasetError:  # not there yet, damaged, or in another version's manifest format: made again
            generate("singles_day_2017", scale=SMALL_SCALE, seed=SMALL_SEED, out=out, workers=2, overwrite=True)
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
