"""Generation: determinism across worker counts, resume after a kill, verification, refusals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from newretail.generate import GenerateError, generate
from newretail.generate.run import LOCK
from newretail.scenario import scenario_text
from newretail.tables import DatasetError, open_dataset, verify

SCALE = 1e-5


@pytest.fixture(scope="module")
def many_partitions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario file with small user shards, so a tiny dataset has several partitions."""
    path = tmp_path_factory.mktemp("scenario") / "sharded.toml"
    path.write_text(
        scenario_text("singles_day_2017").replace("users_per_partition = 20000", "users_per_partition = 800")
    )
    return path


def _hashes(out: Path) -> dict[str, str]:
    manifest = json.loads((out / "manifest.json").read_text())
    return {f["path"]: f["sha256"] for t in manifest["tables"].values() for f in t["files"]}


def test_same_bytes_whatever_the_workers(tmp_path: Path, many_partitions: Path) -> None:
    one = generate(many_partitions, scale=SCALE, seed=11, out=tmp_path / "w1", workers=1)
    two = generate(many_partitions, scale=SCALE, seed=11, out=tmp_path / "w2", workers=2)
    assert len(_hashes(tmp_path / "w1")) > 10
    assert one.read_bytes() == two.read_bytes()
    for rel in _hashes(tmp_path / "w1"):
        assert (tmp_path / "w1" / rel).read_bytes() == (tmp_path / "w2" / rel).read_bytes()


def test_other_seed_other_bytes(tmp_path: Path) -> None:
    generate("singles_day_2017", scale=SCALE, seed=1, out=tmp_path / "a", workers=1)
    generate("singles_day_2017", scale=SCALE, seed=2, out=tmp_path / "b", workers=1)
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert a.keys() == b.keys()
    assert sum(a[k] != b[k] for k in a) >= len(a) - 1


def test_partitions_follow_the_layout(small_dataset) -> None:  # type: ignore[no-untyped-def]
    ds = small_dataset
    for table in ds.tables:
        for number, rec in enumerate(ds.files(table)):
            assert rec["path"] == f"{table}/part-{number:05d}.parquet"
            assert (ds.path / rec["path"]).is_file()
    manifest = ds.manifest
    assert {"scenario", "seed", "scale", "package_version", "sampling", "calibration", "tables"} <= manifest.keys()
    assert manifest["sampling"]["inquiries"] == pytest.approx(ds.scale * ds.scenario.sampling.inquiry_oversample)


def test_truth_is_kept_apart(small_dataset) -> None:  # type: ignore[no-untyped-def]
    visits = small_dataset.read("visits")
    assert not {"p_convert", "true_uplift", "propensity", "intent_sd"} & set(visits.columns)
    truth = small_dataset.read("truth_visits")
    assert truth.height == visits.height
    assert truth["visit_id"].equals(visits["visit_id"])


def test_keys_are_consistent(small_dataset) -> None:  # type: ignore[no-untyped-def]
    ds = small_dataset
    visits = ds.read("visits")
    pages = ds.read("page_views")
    per_visit = pages.group_by("visit_id").agg(pl.len().alias("n"), pl.col("converted").sum().alias("c"))
    joined = visits.join(per_visit, on="visit_id", how="left")
    assert (joined["n"] == joined["n_pages"]).all()
    assert (joined["c"] == joined["converted"].cast(pl.UInt32)).all()
    online = ds.read("orders").filter(pl.col("channel") == "online")
    assert online.height == visits["converted"].sum()
    assert online.join(visits, on="visit_id", how="anti").height == 0
    assert ds.read("users")["user_id"].n_unique() == ds.read("users").height


def test_resume_after_kill_ends_with_the_same_bytes(tmp_path: Path, many_partitions: Path) -> None:
    reference = generate(many_partitions, scale=SCALE, seed=5, out=tmp_path / "ref", workers=1)
    out = tmp_path / "killed"
    code = (
        "from newretail.generate import generate; "
        f"generate({str(many_partitions)!r}, scale={SCALE}, seed=5, out={str(out)!r}, workers=1)"
    )
    for attempt in range(3):  # kill at a different point each time
        proc = subprocess.Popen([sys.executable, "-c", code])
        deadline = time.time() + 60
        while time.time() < deadline and len(list(out.glob("*/part-*.parquet"))) <= 2 + 4 * attempt:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (out / "manifest.json").exists() or attempt > 0
    resumed = generate(many_partitions, scale=SCALE, seed=5, out=out, workers=2)
    assert resumed.read_bytes() == reference.read_bytes()
    assert not list(out.glob("*/.part-*"))  # no temporary file left behind
    assert verify(out).ok


def test_verify_names_a_flipped_byte(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    generate("singles_day_2017", scale=SCALE, seed=3, out=out, workers=1)
    assert verify(out).ok
    victim = out / "visits/part-00000.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    report = verify(out)
    assert not report.ok and "visits/part-00000.parquet" in (report.problem or "")
    proc = subprocess.run([sys.executable, "-m", "newretail.cli", "verify", str(out)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "visits/part-00000.parquet" in proc.stderr


def test_verify_names_missing_and_extra_files(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    generate("singles_day_2017", scale=SCALE, seed=3, out=out, workers=1)
    (out / "users/part-00000.parquet").rename(out / "users/part-00099.parquet")
    report = verify(out)
    assert not report.ok and "users/part-00000.parquet" in (report.problem or "")
    (out / "manifest.json").unlink()
    with pytest.raises(DatasetError, match=r"no manifest\.json"):
        open_dataset(out)


def test_refuses_another_dataset_in_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    generate("singles_day_2017", scale=SCALE, seed=3, out=out, workers=1)
    before = _hashes(out)
    with pytest.raises(GenerateError, match="holds another dataset"):
        generate("singles_day_2017", scale=SCALE, seed=4, out=out, workers=1)
    assert _hashes(out) == before
    generate("singles_day_2017", scale=SCALE, seed=4, out=out, workers=1, overwrite=True)
    assert _hashes(out) != before


def test_refuses_a_folder_with_foreign_files(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(GenerateError, match=r"holds 'thesis\.tex', which newretail did not write"):
            generate("singles_day_2017", scale=SCALE, seed=3, out=out, workers=1, overwrite=overwrite)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"] and (out / "thesis.tex").read_text() == "mine"


def test_concurrent_run_refuses(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / LOCK).write_text(str(sleeper.pid))
        with pytest.raises(GenerateError, match="being written by another run"):
            generate("singles_day_2017", scale=SCALE, seed=3, out=out, workers=1)
    finally:
        sleeper.kill()
        sleeper.wait()
    generate("singles_day_2017", scale=SCALE, seed=3, out=out, workers=1)  # a stale lock is taken over
    assert not (out / LOCK).exists()


def _lock_of(pid: int, started: int | None) -> str:
    import socket

    return json.dumps({"newretail_lock": 1, "pid": pid, "host": socket.gethostname(), "started": started})


def test_a_lock_whose_holder_cannot_be_signalled_is_not_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PermissionError from os.kill means a process of another user holds the pid: it is alive, the lock stays."""
    import os

    from newretail.generate.output import Lock

    (tmp_path / LOCK).write_text(_lock_of(424242, None))

    def not_permitted(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", not_permitted)
    with pytest.raises(GenerateError, match=r"being written by another run \(pid 424242\)"):
        Lock(tmp_path).__enter__()
    assert (tmp_path / LOCK).read_text() == _lock_of(424242, None)


def test_a_lock_of_a_reused_pid_is_stale(tmp_path: Path) -> None:
    """A live pid started at another time than the lock records is not the lock's holder: the lock is taken over."""
    import os

    from newretail.generate.output import Lock, _start_ticks

    mine = _start_ticks(os.getpid())
    if mine is None:
        pytest.skip("process start times come from /proc (Linux)")
    (tmp_path / LOCK).write_text(_lock_of(os.getpid(), mine + 1))
    with Lock(tmp_path) as lock:
        assert json.loads((tmp_path / LOCK).read_text())["started"] == mine
        assert lock.path.read_text() == lock.content
    assert not (tmp_path / LOCK).exists()


def test_only_the_holder_removes_the_lock(tmp_path: Path) -> None:
    from newretail.generate.output import Lock

    with Lock(tmp_path):
        (tmp_path / LOCK).write_text(_lock_of(1, None))  # another run's lock now (e.g. it was taken over)
    assert (tmp_path / LOCK).read_text() == _lock_of(1, None)


def test_a_file_named_like_the_lock_is_not_taken_for_one(tmp_path: Path) -> None:
    from newretail.generate.output import Lock

    (tmp_path / LOCK).write_text("my notes")
    with pytest.raises(GenerateError, match="is not a newretail lock"):
        Lock(tmp_path).__enter__()
    assert (tmp_path / LOCK).read_text() == "my notes"


def test_options_are_checked_before_calibrating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every option is refused, naming it, before the scenario is calibrated (which takes seconds) or anything is
    written."""
    import newretail.generate.run as run

    def no_calibration(*args: object, **kwargs: object) -> None:
        raise AssertionError("calibrated before the options were checked")

    monkeypatch.setattr(run, "calibrate", no_calibration)
    bad = [
        ({"workers": 0}, "workers = 0"),
        ({"workers": True}, "workers = True"),
        ({"workers": 1.5}, "workers = 1.5"),
        ({"engine": "spark"}, "engine = 'spark'"),
        ({"scheduler": "tcp://x:1"}, "scheduler = 'tcp://x:1'"),
        ({"scale": 0.0}, "scale = 0.0"),
        ({"scale": "1e-5"}, "scale = '1e-5'"),
        ({"seed": -1}, "seed = -1"),
        ({"groups": ("shoppers", "nope")}, "groups = "),
        ({"out": tmp_path / "file.txt" / "ds"}, "is a file"),
    ]
    (tmp_path / "file.txt").write_text("x")
    for change, message in bad:
        kwargs: dict[str, Any] = {"scale": SCALE, "seed": 3, "out": tmp_path / "ds", "workers": 1, **change}
        with pytest.raises(GenerateError) as err:
            generate("singles_day_2017", **kwargs)
        assert message in str(err.value) and "\n" not in str(err.value), (change, str(err.value))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_a_missing_extra_is_named_before_calibrating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import newretail.generate.run as run
    from newretail.extras import MissingExtraError

    def no_calibration(*args: object, **kwargs: object) -> None:
        raise AssertionError("calibrated before the options were checked")

    monkeypatch.setattr(run, "calibrate", no_calibration)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the dask extra were not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'newretail\[dask\]'"):
        generate("singles_day_2017", scale=SCALE, seed=3, out=tmp_path / "ds", workers=1, engine="dask")
    assert not (tmp_path / "ds").exists()


def test_the_disk_estimate_scales_with_the_dataset(tmp_path: Path) -> None:
    """The estimate covers what is written, with no fixed allowance: a 1e-6 day fits a 20 MB disk."""
    from newretail.generate import plan

    small = plan("singles_day_2017", scale=1e-6, seed=0)
    large = plan("singles_day_2017", scale=1e-4, seed=0)
    out = tmp_path / "tiny"
    generate("singles_day_2017", scale=1e-6, seed=0, out=out, workers=1)
    written = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert written <= small.disk_bytes() < 20e6
    assert large.disk_bytes() > 50 * small.disk_bytes()


def test_refuses_a_scale_that_does_not_fit_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(GenerateError, match="GB free"):
        generate("singles_day_2017", scale=1e-3, seed=3, out=tmp_path / "ds", workers=1)
    assert not (tmp_path / "ds").exists()
