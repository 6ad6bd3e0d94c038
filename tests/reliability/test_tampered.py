"""A manifest that cannot lie: an edited sampling fraction, an edited target and a file path leaving the dataset
folder are each refused, naming the field or file, by ``verify`` (the function and the command), by opening the
dataset (``open_dataset``, and ``open_audited`` as claims and notebooks do) and by ``newretail claims``; an edit
whose hashes were recomputed to match (a forgery) is still refused, because the fractions and the calibration are
recomputed from the scenario, scale and seed. Real files in a temp folder."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from newretail.cli import app
from newretail.generate import generate
from newretail.generate.audit import open_audited
from newretail.tables import DatasetError, open_dataset, verify
from newretail.tables.manifest import manifest_digest, scenario_sha256

SCALE = 1e-6
SEED = 4
RUNNER = CliRunner()
Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pristine") / "ds"
    generate("singles_day_2017", scale=SCALE, seed=SEED, out=out, workers=1)
    return out


def _copy_and_edit(pristine: Path, tmp_path: Path, edit: Edit, *, forge: bool) -> Path:
    """A copy of the day with ``edit`` applied to its manifest; ``forge`` recomputes the hashes that would show it."""
    ds = tmp_path / "ds"
    shutil.copytree(pristine, ds)
    manifest = json.loads((ds / "manifest.json").read_text())
    edit(manifest)
    if forge:
        manifest["scenario_sha256"] = scenario_sha256(manifest["scenario"])
        manifest["digest"] = manifest_digest(manifest)
    (ds / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return ds


def _halve_orders_fraction(m: dict[str, Any]) -> None:
    m["tables"]["orders"]["files"][0]["fraction"] /= 2  # GMV read twice as large


def _raise_gmv_target(m: dict[str, Any]) -> None:
    m["scenario"]["targets"]["gmv_usd"] = 31e9  # judged against a figure the data were not drawn for


def _path_to(target: str) -> Edit:
    def edit(m: dict[str, Any]) -> None:
        m["tables"]["users"]["files"][0]["path"] = target

    return edit


def _cli(*args: str | Path) -> Any:
    """The command in this process (the scenario's calibration is then solved once for the whole file)."""
    return RUNNER.invoke(app, [str(a) for a in args])


def _refused_everywhere(ds: Path, expected: str, *, by_tables: bool) -> None:
    """Refused by open_audited, by ``newretail verify`` and ``newretail claims`` (exit 1, one line, no traceback),
    and, when the edit is visible without the generator (``by_tables``), by open_dataset and verify() too."""
    with pytest.raises(DatasetError, match=expected):
        open_audited(ds)
    if by_tables:
        with pytest.raises(DatasetError, match=expected):
            open_dataset(ds)
        with pytest.raises(DatasetError, match=expected):
            verify(ds)
    for command in (["verify", ds], ["claims", ds, "--json", "-c", "gmv_usd"]):
        done = _cli(*command)
        assert done.exit_code == 1, (command, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("newretail: error: "), done.stderr
        assert re.search(expected, lines[0]), (expected, lines[0])
        assert "Traceback" not in done.stderr
        assert done.stdout == ""


def test_the_pristine_day_is_believed(pristine: Path, tmp_path: Path) -> None:
    ds = _copy_and_edit(pristine, tmp_path, lambda m: None, forge=False)
    assert open_audited(ds).seed == SEED
    done = _cli("verify", ds)
    assert done.exit_code == 0 and "ok" in done.stdout, done.stderr


def test_the_command_refuses_in_one_line_from_a_fresh_process(pristine: Path, tmp_path: Path) -> None:
    """The installed command as a user runs it: exit 1, one line on stderr, no traceback, nothing on stdout."""
    ds = _copy_and_edit(pristine, tmp_path, _halve_orders_fraction, forge=True)
    done = subprocess.run([sys.executable, "-m", "newretail.cli", "verify", str(ds)], capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"newretail: error: {ds}: orders/part-00000.parquet: fraction 5e-07 in the manifest, but the generator samples "
        "it at 1e-06 (the manifest was edited)"
    ]


def test_an_edited_fraction_is_refused(pristine: Path, tmp_path: Path) -> None:
    ds = _copy_and_edit(pristine, tmp_path, _halve_orders_fraction, forge=False)
    _refused_everywhere(ds, r"edited after it was written", by_tables=True)


def test_a_forged_fraction_is_refused(pristine: Path, tmp_path: Path) -> None:
    ds = _copy_and_edit(pristine, tmp_path, _halve_orders_fraction, forge=True)
    _refused_everywhere(ds, r"orders/part-00000\.parquet: fraction .* but the generator samples it at", by_tables=False)


def test_an_edited_target_is_refused(pristine: Path, tmp_path: Path) -> None:
    ds = _copy_and_edit(pristine, tmp_path, _raise_gmv_target, forge=False)
    _refused_everywhere(ds, r"edited after it was written|the scenario was edited", by_tables=True)


def test_a_forged_target_is_refused(pristine: Path, tmp_path: Path) -> None:
    """Target and hashes edited together: the calibration the scenario implies no longer matches the manifest's."""
    ds = _copy_and_edit(pristine, tmp_path, _raise_gmv_target, forge=True)
    _refused_everywhere(
        ds, r"calibration\.\S+: differs from the calibration of the manifest's scenario", by_tables=False
    )


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "users/../../outside.parquet", "users\\..\\x"])
@pytest.mark.parametrize("forge", [False, True])
def test_a_path_leaving_the_folder_is_refused(pristine: Path, tmp_path: Path, target: str, forge: bool) -> None:
    ds = _copy_and_edit(pristine, tmp_path, _path_to(target), forge=forge)
    expected = "edited after it was written" if not forge else "is not users/part-NNNNN.parquet inside the dataset"
    _refused_everywhere(ds, expected, by_tables=True)


def test_the_message_does_not_depend_on_whether_the_file_exists(pristine: Path, tmp_path: Path) -> None:
    """Nothing is learnt about the file system outside the folder: an existing and a missing target read alike."""
    (tmp_path / "outside.parquet").write_bytes(b"PAR1 secret")
    messages = []
    for name in ("outside.parquet", "missing.parquet"):
        work = tmp_path / name.split(".")[0]
        work.mkdir()
        ds = _copy_and_edit(pristine, work, _path_to(f"../../{name}"), forge=True)
        with pytest.raises(DatasetError) as err:
            open_dataset(ds)
        messages.append(str(err.value).replace(str(work), "<work>").replace(name, "<name>"))
    assert messages[0] == messages[1]


def test_a_partition_that_is_a_symbolic_link_is_refused(pristine: Path, tmp_path: Path) -> None:
    """A listed file replaced by a link to a copy of itself elsewhere: same bytes, but not in the folder."""
    ds = _copy_and_edit(pristine, tmp_path, lambda m: None, forge=False)
    victim = ds / "users" / "part-00000.parquet"
    outside = tmp_path / "elsewhere.parquet"
    shutil.copy(victim, outside)
    victim.unlink()
    victim.symlink_to(outside)
    for check in (True, False):
        with pytest.raises(DatasetError, match=r"users/part-00000\.parquet: a symbolic link"):
            open_dataset(ds, check=check)
    done = _cli("verify", ds)
    assert done.exit_code == 1 and "a symbolic link" in done.stderr


def test_check_false_still_checks_the_manifest(pristine: Path, tmp_path: Path) -> None:
    """``check=False`` skips re-hashing the files (trusted speed), never the manifest's own checks."""
    ds = _copy_and_edit(pristine, tmp_path, _path_to("/etc/passwd"), forge=True)
    with pytest.raises(DatasetError, match="inside the dataset folder"):
        open_dataset(ds, check=False)
