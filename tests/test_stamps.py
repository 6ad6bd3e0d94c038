"""Verification stamps (newretail.tables.stamps): an unchanged file is not read again, and any edit through the file
system is still caught, even one that restores the file's size and modification time."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

import newretail.tables.dataset as dataset_module
from newretail.generate import generate
from newretail.generate.audit import open_audited
from newretail.generate.output import write_partition
from newretail.tables import DatasetError, open_dataset, polars_schema, verify
from newretail.tables import stamps as stamps_module
from newretail.tables.stamps import MARGIN_NS, Stamps, file_state

SCALE = 1e-5


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of this test's own, so its stamps are its own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("NEWRETAIL_CACHE", str(folder))
    return folder


@pytest.fixture
def no_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stamps count at once (a tiny dataset is checked within the 2 s a stamp otherwise waits for)."""
    monkeypatch.setattr(stamps_module, "MARGIN_NS", 0)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The files verify hashes and the files it reads as tables, as they happen."""
    seen: dict[str, list[str]] = {"hashed": [], "read": []}

    def counting(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
            seen[name].append(Path(path).as_posix())
            return fn(path, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(dataset_module, "hash_with_state", counting("hashed", dataset_module.hash_with_state))
    monkeypatch.setattr(dataset_module.pl, "read_parquet", counting("read", pl.read_parquet))
    return seen


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stamps") / "ds"
    generate("singles_day_2017", scale=SCALE, seed=4, out=out, workers=1)
    return out


def _copy(day: Path, tmp_path: Path) -> Path:
    """A copy of the day: new inodes, so no stamp of the original applies to it."""
    out = tmp_path / "copy"
    shutil.copytree(day, out)
    return out


def _files(out: Path) -> list[str]:
    manifest = json.loads((out / "manifest.json").read_text())
    return [rec["path"] for table in manifest["tables"].values() for rec in table["files"]]


def test_a_second_open_reads_no_file(day: Path, tmp_path: Path, no_margin: None, reads: dict[str, list[str]]) -> None:
    out = _copy(day, tmp_path)
    open_dataset(out)
    assert len(reads["hashed"]) == len(_files(out))  # a copy: every file is hashed once
    reads["hashed"].clear()
    open_dataset(out)
    assert verify(out).ok  # the schemas were not validated yet: every file is read once, not hashed again
    assert reads["hashed"] == [] and len(reads["read"]) == len(_files(out))
    reads["read"].clear()
    assert open_audited(out).hashes_checked
    report = verify(out)
    assert report.ok and report.files_checked == len(_files(out))
    assert reads == {"hashed": [], "read": []}


def test_an_edit_with_the_mtime_restored_is_caught(
    day: Path, tmp_path: Path, no_margin: None, reads: dict[str, list[str]]
) -> None:
    out = _copy(day, tmp_path)
    assert verify(out).ok
    victim = out / "visits/part-00000.parquet"
    before = victim.stat()
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same mtime: only ctime moved
    assert victim.stat().st_size == before.st_size and victim.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(DatasetError, match=r"visits/part-00000\.parquet: content differs from the manifest"):
        open_dataset(out)
    report = verify(out)
    assert not report.ok and "visits/part-00000.parquet" in (report.problem or "")
    with pytest.raises(DatasetError, match=r"visits/part-00000\.parquet"):
        open_audited(out)


def test_a_file_replaced_by_an_identical_copy_is_hashed_again(
    day: Path, tmp_path: Path, no_margin: None, reads: dict[str, list[str]]
) -> None:
    out = _copy(day, tmp_path)
    open_dataset(out)
    victim = out / "orders/part-00000.parquet"
    shutil.copy2(victim, tmp_path / "aside")
    os.replace(tmp_path / "aside", victim)  # same bytes and times, another inode
    reads["hashed"].clear()
    open_dataset(out)
    assert reads["hashed"] == [victim.as_posix()]


def test_the_generator_stamps_what_it_wrote(tmp_path: Path, no_margin: None, reads: dict[str, list[str]]) -> None:
    out = tmp_path / "ds"
    generate("singles_day_2017", scale=SCALE, seed=5, out=out, workers=2)
    report = verify(out)  # claims' check: sha256, schema and rules, all vouched for by the generator's stamps
    assert report.ok and report.files_checked == len(_files(out))
    assert reads == {"hashed": [], "read": []}
    assert verify(out, reuse=False).ok  # reuse=False reads everything, whatever the stamps say
    assert len(reads["hashed"]) == len(_files(out)) and len(reads["read"]) == len(_files(out))


def test_a_file_changed_just_before_its_stamp_is_checked_again(tmp_path: Path) -> None:
    """The racing-edit rule: a stamp taken less than MARGIN_NS after the file's last change does not count."""
    path = tmp_path / "f"
    path.write_bytes(b"x")
    st = path.stat()
    stamps = Stamps(tmp_path, "d" * 64)
    stamps.put("f", file_state(st), "a" * 64, "schema", taken=st.st_ctime_ns + MARGIN_NS - 1)
    assert not stamps.covers("f", st, "a" * 64, "sha256")
    stamps.put("f", file_state(st), "a" * 64, "schema", taken=st.st_ctime_ns + MARGIN_NS)
    assert stamps.covers("f", st, "a" * 64, "schema")
    assert not stamps.covers("f", st, "b" * 64, "sha256")  # another manifest record: not this stamp's bytes
    stamps.put("f", file_state(st), "a" * 64, "sha256", taken=st.st_ctime_ns + MARGIN_NS)  # a lesser check
    assert stamps.covers("f", st, "a" * 64, "schema")  # ... of the same state keeps what was found before


def test_a_stamp_store_others_can_write_is_ignored(
    day: Path, tmp_path: Path, own_cache: Path, no_margin: None, reads: dict[str, list[str]]
) -> None:
    out = _copy(day, tmp_path)
    open_dataset(out)
    (store,) = (own_cache / "verified").glob("*.json")
    assert store.stat().st_mode & 0o777 == 0o600
    store.chmod(0o666)
    reads["hashed"].clear()
    open_dataset(out)
    assert len(reads["hashed"]) == len(_files(out))


def test_a_moved_dataset_is_checked_in_full(
    day: Path, tmp_path: Path, no_margin: None, reads: dict[str, list[str]]
) -> None:
    out = _copy(day, tmp_path)
    open_dataset(out)
    moved = tmp_path / "moved"
    out.rename(moved)  # same inodes, another path: stamps are kept per folder
    reads["hashed"].clear()
    open_dataset(moved)
    assert len(reads["hashed"]) == len(_files(moved))


def test_the_writer_keeps_the_declared_schema_and_its_bytes(day: Path, tmp_path: Path) -> None:
    """Every table written by the generator reads back with its declared schema; integers that never decrease (the
    ids of their own table, at least) are delta-encoded, other integers byte-stream-split, floats plain; and the
    same frame gives the same bytes."""
    for rel in _files(day):
        table = rel.split("/")[0]
        frame = pl.read_parquet(day / rel)
        assert frame.schema == polars_schema(table), rel
        columns = pq.ParquetFile(day / rel).metadata.row_group(0)
        for i in range(columns.num_columns):
            column = columns.column(i)
            name = column.path_in_schema
            if frame[name].dtype.is_integer():
                values = frame[name].to_numpy()
                monotone = bool(np.all(np.diff(values) >= 0)) if frame[name].null_count() == 0 else None
                if monotone is not None:
                    expected = "DELTA_BINARY_PACKED" if monotone else "BYTE_STREAM_SPLIT"
                    assert expected in column.encodings, (rel, name, column.encodings)
            elif frame[name].dtype.is_float():
                assert "PLAIN" in column.encodings and "BYTE_STREAM_SPLIT" not in column.encodings, (rel, name)
        own_id = f"{table.removeprefix('truth_').removesuffix('s')}_id"
        if own_id in frame.columns and frame.height:
            assert frame[own_id].is_sorted(), (rel, own_id)  # the table's own ids ascend: delta-encoded
        if frame.height:
            write_partition(frame, table, tmp_path / "again.parquet")
            assert (tmp_path / "again.parquet").read_bytes() == (day / rel).read_bytes(), rel


def test_the_writer_refuses_a_frame_of_another_schema(tmp_path: Path) -> None:
    frame = pl.DataFrame({"user_id": [1, 2]})
    with pytest.raises(ValueError, match="users: the generator drew columns"):
        write_partition(frame, "users", tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()
