"""Schemas are declared once: the data dictionary is generated from them and the data match them."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from newretail.dataset import Dataset
from newretail.generate.run import GROUP_TABLES
from newretail.schemas import SCHEMAS, data_dictionary, polars_schema

ROOT = Path(__file__).resolve().parents[1]


def test_data_dictionary_is_up_to_date() -> None:
    committed = (ROOT / "docs/data_dictionary.md").read_text()
    assert committed == data_dictionary(), "run `make docs` to regenerate docs/data_dictionary.md"


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
