"""Every error is one line with its documented exit status and no traceback (README, "Exit status"): 2 for bad
input (options, scenario, folders, a missing extra), 1 for damaged data or a run that failed, 130 for Ctrl-C; and
``--debug`` shows the traceback. Each case is the installed command in a fresh process, in a temp folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import alive, descendants
from typer.testing import CliRunner

from newretail.cli import app

SCALE = "1e-6"
RUNNER = CliRunner()


def _cli(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[int, list[str]]:
    """The installed command in a fresh process, as a user runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "newretail.cli", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stderr.strip().splitlines()


def _in_process(*args: str | Path) -> tuple[int, list[str]]:
    """The same command group in this process (typer's runner): the same error handling, without a fresh
    interpreter's start-up for every case."""
    result = RUNNER.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stderr.strip().splitlines()


def _one_line(code: int, lines: list[str], expected_code: int, *needles: str) -> None:
    assert code == expected_code, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("newretail: error: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["generate", "--scale", "abc"], "'--scale'"),
        (["generate", "--scale", "0"], "scale = 0.0"),
        (["generate", "--seed", "-3"], "seed = -3"),
        (["generate", "--workers", "0"], "workers = 0"),
        (["generate", "--engine", "spark"], "engine = 'spark'"),
        (["generate", "--scheduler", "tcp://10.0.0.5:8786"], "scheduler = "),
        (["generate", "--scenario", "nope"], "scenario 'nope'"),
        (["generate", "--bogus"], "--bogus"),
        (["generate", "--scenario", "tests/scenarios/nope.toml"], "no such file"),
        (["claims", "/no/such/day"], "no such dataset folder"),
        (["verify", "/no/such/day"], "no such dataset folder"),
        (["scenario", "show", "nope"], "scenario 'nope'"),
        (["stress", "--grid", "nope"], "nope"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    code, lines = _in_process(*args, "--out", tmp_path / "ds") if args[0] == "generate" else _in_process(*args)
    _one_line(code, lines, 2, needle)
    assert not (tmp_path / "ds").exists()


def test_bad_input_from_a_fresh_process(tmp_path: Path) -> None:
    for args, needle in ((["--scale", "abc"], "'--scale'"), (["--workers", "0"], "workers = 0")):
        code, lines = _cli("generate", *args, "--out", tmp_path / "ds")
        _one_line(code, lines, 2, needle)


def test_out_that_is_a_file_or_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    for out in (tmp_path / "notes.txt", tmp_path / "notes.txt" / "ds"):
        code, lines = _in_process("generate", "--scale", SCALE, "--out", out)
        _one_line(code, lines, 2, f"out = {str(out)!r}", "is a file")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_out_read_only(tmp_path: Path) -> None:
    """A read-only folder (a read-only mount, as root may write anywhere else; chmod for other users)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1M", "tmpfs", str(folder)], capture_output=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs as root: {proc.stderr.decode().strip()}")
        mounted = True
    else:
        folder.chmod(0o555)
    try:
        code, lines = _in_process("generate", "--scale", SCALE, "--out", folder / "ds")
        _one_line(code, lines, 2, f"{folder} is not writable")
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        else:
            folder.chmod(0o755)


def test_a_missing_extra_names_it_before_calibrating(tmp_path: Path) -> None:
    """``--engine dask`` where the dask extra is not installed (a stand-in ``distributed`` that cannot be imported
    shadows the real one): one line naming the extra, exit 2, nothing written (that it comes before calibrating is
    test_generate.py's test_a_missing_extra_is_named_before_calibrating)."""
    fake = tmp_path / "site" / "distributed"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'distributed'\", name='distributed')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])}
    code, lines = _cli("generate", "--scale", SCALE, "--engine", "dask", "--out", tmp_path / "ds", env=env)
    _one_line(code, lines, 2, "pip install 'newretail[dask]'")
    assert not (tmp_path / "ds").exists()


def test_damaged_data_is_exit_1(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "manifest.json").write_text("{not json")
    for verb in ("verify", "claims"):
        code, lines = _in_process(verb, ds)
        _one_line(code, lines, 1, "damaged manifest")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "newretail.cli", "--debug", "generate", "--workers", "0", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "Traceback" in done.stderr and "workers = 0" in done.stderr


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_ctrl_c_is_one_line_exit_130_and_leaves_no_process(tmp_path: Path, engine: str) -> None:
    """SIGINT to the run's process group, as a terminal's Ctrl-C sends it: the workers ignore it, the command
    stops them, prints one line and exits 130; a rerun resumes."""
    out = tmp_path / "ds"
    command = [sys.executable, "-m", "newretail.cli", "generate", "--scale", "2e-5", "--seed", "3", "--out", str(out),
               "--workers", "2", "--engine", engine, "--quiet"]  # fmt: skip
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(out.glob("*/part-*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    children = descendants(proc.pid)
    assert len(children) >= 2, children
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["newretail: interrupted (a generate or stress run resumes where it stopped)"]
    assert stdout == ""
    deadline = time.monotonic() + 10
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(children)
