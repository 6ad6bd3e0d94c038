"""Damaged datasets are refused, naming the file: truncated or flipped files, a deleted partition, a manifest
from another dataset, a partition rewritten with another schema."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from newretail.cli import app
from newretail.generate import generate
from newretail.tables import sha256_file, verify
from newretail.tables.manifest import manifest_digest

SCALE = 1e-5
RUNNER = CliRunner()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pristine") / "ds"
    generate("singles_day_2017", scale=SCALE, seed=21, out=out, workers=1)
    return out


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("other") / "ds"
    generate("singles_day_2017", scale=SCALE, seed=22, out=out, workers=1)
    return out


def _truncate(ds: Path, rel: str) -> None:
    path = ds / rel
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(ds: Path, rel: str, where: float) -> None:
    path = ds / rel
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x40
    path.write_bytes(bytes(data))


def _delete(ds: Path, rel: str) -> None:
    (ds / rel).unlink()


def _rewrite_schema(ds: Path, rel: str) -> None:
    """Drop a column and re-hash (the file's sha256 and the manifest's own digest), so only the schema check can
    notice."""
    path = ds / rel
    pl.read_parquet(path).drop(pl.first()).write_parquet(path)
    manifest = json.loads((ds / "manifest.json").read_text())
    for table in manifest["tables"].values():
        for rec in table["files"]:
            if rec["path"] == rel:
                rec["sha256"], rec["bytes"] = sha256_file(path), path.stat().st_size
    manifest["digest"] = manifest_digest(manifest)
    (ds / "manifest.json").write_text(json.dumps(manifest))


CASES: list[tuple[str, Callable[[Path, str], None]]] = [
    ("truncated", _truncate),
    ("flipped-start", lambda ds, rel: _flip(ds, rel, 0.05)),
    ("flipped-middle", lambda ds, rel: _flip(ds, rel, 0.5)),
    ("flipped-footer", lambda ds, rel: _flip(ds, rel, 0.98)),
    ("deleted", _delete),
    ("schema", _rewrite_schema),
]
VICTIMS = ["visits/part-00000.parquet", "inquiries/part-00000.parquet", "stores/part-00000.parquet"]


@pytest.mark.parametrize("victim", VICTIMS)
@pytest.mark.parametrize(("case", "damage"), CASES, ids=[c for c, _ in CASES])
def test_verify_refuses_and_names_the_file(
    tmp_path: Path, pristine: Path, case: str, damage: Callable[[Path, str], None], victim: str
) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(pristine, ds)
    damage(ds, victim)
    report = verify(ds)
    assert not report.ok
    assert victim in (report.problem or ""), report.problem
    result = RUNNER.invoke(app, ["verify", str(ds)])
    assert result.exit_code == 1
    assert victim in result.output
    table = victim.split("/")[0]
    claim = {"visits": "personalized_page_conversion", "inquiries": "chatbot_share", "stores": "sanjiang_pilot_stores"}
    result = RUNNER.invoke(app, ["claims", str(ds), "--json", "-c", claim[table]])
    assert result.exit_code == 1, result.output
    assert victim in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_manifest_from_another_dataset(tmp_path: Path, pristine: Path, other: Path) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(pristine, ds)
    shutil.copy(other / "manifest.json", ds / "manifest.json")
    report = verify(ds)
    assert not report.ok and "differs from the manifest" in (report.problem or "")
    result = RUNNER.invoke(app, ["claims", str(ds), "--json"])
    assert result.exit_code == 1 and "differs from the manifest" in result.output


def test_damaged_manifest(tmp_path: Path, pristine: Path) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(pristine, ds)
    (ds / "manifest.json").write_text((ds / "manifest.json").read_text()[:500])
    result = RUNNER.invoke(app, ["verify", str(ds)])
    assert result.exit_code == 1 and "damaged manifest" in result.output


def test_pristine_copy_verifies(tmp_path: Path, pristine: Path) -> None:
    ds = tmp_path / "ds"
    shutil.copytree(pristine, ds)
    assert verify(ds).ok


@pytest.mark.notebook
def test_a_notebook_refuses_a_damaged_dataset(tmp_path: Path, pristine: Path) -> None:
    import papermill as pm
    from conftest import run_notebook

    ds = tmp_path / "ds"
    shutil.copytree(pristine, ds)
    _flip(ds, "orders/part-00000.parquet", 0.5)
    with pytest.raises(pm.PapermillExecutionError) as err:
        run_notebook("01_sales_day_gmv", {"dataset": str(ds), "scale": SCALE, "seed": 21}, tmp_path / "nb")
    assert "DatasetError" in err.value.ename
    assert "orders/part-00000.parquet" in err.value.evalue
