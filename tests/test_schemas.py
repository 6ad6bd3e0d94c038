"""Schemas are declared once: the data dictionary is generated from them and the data match them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from newretail.generate.run import GROUP_TABLES
from newretail.tables import MANIFEST, SCHEMAS, Dataset, data_dictionary, load_manifest, polars_schema, save_manifest
from newretail.tables.manifest import ManifestError

ROOT = Path(__file__).resolve().parents[1]


def test_data_dictionary_is_up_to_date() -> None:
    """``make docs`` writes the output of ``python -m newretail.tables``; the committed file must equal it."""
    committed = (ROOT / "docs/data_dictionary.md").read_text()
    printed = subprocess.run(
        [sys.executable, "-m", "newretail.tables"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert printed == committed == data_dictionary(), "run `make docs` to regenerate docs/data_dictionary.md"


def test_manifest_lists_tables_in_schema_order_and_reads_back(tmp_path: Path) -> None:
    rec = {"path": "users/part-00000.parquet", "rows": 3, "bytes": 10, "sha256": "0" * 64, "fraction": 0.5}
    files = {"visits": [dict(rec, path="visits/part-00000.parquet", rows=4)], "users": [rec, dict(rec, rows=2)]}
    fields = {"name": "x", "scenario": {}, "scale": 0.5, "seed": 1}
    path = save_manifest(tmp_path, fields, files)
    raw = json.loads(path.read_text())
    assert list(raw) == ["format", "name", "scenario", "scale", "seed", "tables", "digest"]
    assert list(raw["tables"]) == ["users", "visits"]  # the schemas' order, not the order given
    assert raw["tables"]["users"]["rows"] == 5
    assert load_manifest(tmp_path) == raw
    with pytest.raises(ValueError, match="no schema for table"):
        save_manifest(tmp_path, fields, {"nope": [rec]})


def test_damaged_manifest_is_refused_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=f"no {re.escape(MANIFEST)}"):
        load_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text('{"tables": {}}')
    with pytest.raises(ManifestError, match=r"damaged manifest.*scenario"):
        load_manifest(tmp_path)


def test_every_generated_table_has_a_schema_with_descriptions() -> None:
    generated = {t for tables in GROUP_TABLES.values() for t in tables}
    assert generated == set(SCHEMAS)
    for table, schema in SCHEMAS.items():
        for name, col in schema.columns().items():
            assert col.description, f"{table}.{name} has no description"


def test_partitions_match_their_schema(small_dataset: Dataset) -> None:
    for table in small_dataset.tables:
        frame = small_dataset.read(table)
        assert frame.schema == polars_schema(table), table
        assert SCHEMAS[table].is_valid(frame), table


def test_units_in_column_names(small_dataset: Dataset) -> None:
    orders = small_dataset.scan("orders").collect_schema()
    assert {"gmv_usd", "gmv_rmb", "distance_km", "delivery_min", "ts_us"} <= set(orders.names())
    assert orders["ts_us"] == pl.Int64
