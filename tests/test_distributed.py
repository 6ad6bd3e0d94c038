"""The Dask engine: the same bytes as the local engine, on a LocalCluster it starts or on one given by address."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newretail.generate import GenerateError, generate
from newretail.generate import distributed as engine
from newretail.scenario import scenario_text

SCALE = 1e-5
SEED = 23


@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped scenario with small user shards, so a tiny dataset has several partitions of every group."""
    path = tmp_path_factory.mktemp("scenario") / "sharded.toml"
    path.write_text(
        scenario_text("singles_day_2017").replace("users_per_partition = 20000", "users_per_partition = 700")
    )
    return path


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory: pytest.TempPathFactory, sharded: Path) -> Path:
    """The dataset made by the local engine (in this process; other worker counts give the same bytes, see
    test_generate.py)."""
    out = tmp_path_factory.mktemp("local") / "ds"
    generate(sharded, scale=SCALE, seed=SEED, out=out, workers=1)
    return out


@pytest.fixture(scope="module")
def scheduler_address() -> Iterator[str]:
    """A 2-worker LocalCluster standing in for a remote cluster: the engine only gets its address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50
    ) as cluster:
        yield cluster.scheduler_address


def _files(out: Path) -> dict[str, str]:
    """sha256 of every parquet file on disk, by path relative to the dataset folder (not the manifest's word)."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("*/*.parquet"))
    }


def test_reference_has_several_partitions_per_table(local_reference: Path) -> None:
    manifest = json.loads((local_reference / "manifest.json").read_text())
    assert len(manifest["tables"]["page_views"]["files"]) >= 5
    assert manifest["tables"]["page_views"]["rows"] > 100_000


def test_dask_local_cluster_writes_the_same_bytes(tmp_path: Path, sharded: Path, local_reference: Path) -> None:
    out = tmp_path / "dask"
    generate(sharded, scale=SCALE, seed=SEED, out=out, workers=2, engine="dask")
    assert (out / "manifest.json").read_bytes() == (local_reference / "manifest.json").read_bytes()
    files = _files(out)
    assert files == _files(local_reference)
    assert len(files) == sum(
        len(t["files"]) for t in json.loads((out / "manifest.json").read_text())["tables"].values()
    )


def test_dask_scheduler_address_from_the_command_line(
    tmp_path: Path, sharded: Path, local_reference: Path, scheduler_address: str
) -> None:
    out = tmp_path / "cli"
    args = ["--scenario", str(sharded), "--scale", str(SCALE), "--seed", str(SEED), "--out", str(out)]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "newretail.cli",
            "generate",
            *args,
            "--engine",
            "dask",
            "--scheduler",
            scheduler_address,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert _files(out) == _files(local_reference)
    assert (out / "manifest.json").read_bytes() == (local_reference / "manifest.json").read_bytes()


def test_dask_finishes_a_dataset_the_local_engine_left_half_done(
    tmp_path: Path, sharded: Path, local_reference: Path, scheduler_address: str
) -> None:
    out = tmp_path / "resumed"
    generate(sharded, scale=SCALE, seed=SEED, out=out, workers=1)
    removed = sorted(out.glob("page_views/*.parquet"))[1::2] + sorted(out.glob("banner_impressions/*.parquet"))
    for file in removed:
        file.unlink()
    (out / "manifest.json").unlink()  # as a killed run leaves it
    generate(sharded, scale=SCALE, seed=SEED, out=out, engine="dask", scheduler=scheduler_address)
    assert removed and all(file.is_file() for file in removed)
    assert _files(out) == _files(local_reference)


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT_S", 1.0)
    out = tmp_path / "nowhere"
    with pytest.raises(GenerateError, match=r"scheduler = 'tcp://127\.0\.0\.1:9'.*LocalCluster"):
        generate("singles_day_2017", scale=SCALE, seed=SEED, out=out, engine="dask", scheduler="tcp://127.0.0.1:9")
    assert not (out / "manifest.json").exists()
    assert not (out / ".lock").exists()


def test_files_not_visible_to_the_client_are_refused(tmp_path: Path) -> None:
    record = {"path": "page_views/part-00000.parquet", "rows": 1, "bytes": 1, "sha256": "0", "fraction": 1.0}
    with pytest.raises(GenerateError, match="shared by the client and every worker"):
        engine._check_shared(tmp_path, [record], "tcp://10.0.0.5:8786")
    (tmp_path / "page_views").mkdir()
    (tmp_path / record["path"]).write_bytes(b"x")
    engine._check_shared(tmp_path, [record], "tcp://10.0.0.5:8786")
