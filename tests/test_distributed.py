"""The Dask engine: the same bytes as the local engine, on a LocalCluster it starts or on one given by address."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newretail.claims import evaluate
from newretail.claims.partials import PARTIAL_IDS, SINGLE_PASS_IDS, evaluate_partials
from newretail.generate import GenerateError, generate, run
from newretail.generate import distributed as engine
from newretail.scenario import scenario_text
from newretail.tables import Dataset, open_dataset

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


# ----------------------------------------------------------------------------------------------------------------
# claims from per-partition partial aggregates

CLAIM_TABLES = ("orders", "baseline_orders", "visits", "banner_impressions", "inquiries")


@pytest.fixture(scope="module")
def fine(tmp_path_factory: pytest.TempPathFactory, sharded: Path) -> Dataset:
    """A small dataset cut into several partitions in every table the claims read (smaller row limits per
    partition than the shipped ones; generated in this process, so the limits apply)."""
    out = tmp_path_factory.mktemp("fine") / "ds"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run, "ROWS_PER_PARTITION", 25_000)
        mp.setattr(run, "ROWS_PER_PARTITION_BY_GROUP", {"inquiries": 2_000})
        generate(sharded, scale=2e-5, seed=SEED, out=out, workers=1)
    return open_dataset(out)


def _same(single: dict[str, tuple[float, float, float]], partial: dict[str, tuple[float, float, float]]) -> None:
    for claim, expected in single.items():
        assert all(math.isfinite(v) for v in expected), claim  # two NaNs would agree on nothing
        assert partial[claim] == pytest.approx(expected, rel=1e-9, abs=1e-12), claim


def test_fine_dataset_has_several_partitions_per_claim_table(fine: Dataset) -> None:
    for table in CLAIM_TABLES:
        assert len(fine.files(table)) >= 3, table


def test_partial_aggregates_on_dask_equal_the_single_pass(fine: Dataset, scheduler_address: str) -> None:
    table = evaluate(fine)
    single = {c: (table[c].reproduced, table[c].ci_low, table[c].ci_high) for c in PARTIAL_IDS}
    partial = evaluate_partials(fine, engine="dask", scheduler=scheduler_address)
    assert set(partial) == set(PARTIAL_IDS)
    assert set(PARTIAL_IDS) | set(SINGLE_PASS_IDS) == set(table.ids)
    _same(single, {c: (e.value, e.ci_low, e.ci_high) for c, e in partial.items()})
    assert table["gmv_usd"].reproduced > 1e10  # a real figure, not zeros on both sides


def test_partial_aggregates_in_process_equal_the_single_pass_under_the_lift_reading(fine: Dataset) -> None:
    table = evaluate(fine, conversion_reading="lift")
    single = {c: (table[c].reproduced, table[c].ci_low, table[c].ci_high) for c in PARTIAL_IDS}
    partial = evaluate_partials(fine, engine="local", conversion_reading="lift")
    _same(single, {c: (e.value, e.ci_low, e.ci_high) for c, e in partial.items()})
    assert partial["personalized_page_conversion"].value > 1.0  # a lift, not the 20% rate


def test_partial_aggregates_refuse_an_unknown_engine(fine: Dataset) -> None:
    with pytest.raises(ValueError, match="engine = 'spark'"):
        evaluate_partials(fine, engine="spark")
