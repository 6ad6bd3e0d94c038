"""The content cache (newretail.cache): what it keys on, that it never serves a stale or damaged entry, that the
calibration it returns is the solver's bit for bit, and that the entries shipped with the package are what a fresh
computation gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from newretail import cache
from newretail.generate.calibrate import Calibration, calibrate, solve
from newretail.scenario import load_scenario

BASE = load_scenario("singles_day_2017")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private per-user cache folder (``$NEWRETAIL_CACHE``), and no shipped entries."""
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "SHIPPED", tmp_path / "shipped")
    return tmp_path / "cache"


def test_the_key_follows_the_scenario_the_version_and_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    key = cache.entry_key("calibration", BASE)
    assert key == cache.entry_key("calibration", load_scenario("singles_day_2017"))  # the same content
    assert key != cache.entry_key("calibration", BASE.with_changes({"targets.gmv_usd": 26e9}))
    assert key != cache.entry_key("frontiers", BASE)
    assert cache.entry_key("frontiers", BASE, grid="paper") != cache.entry_key("frontiers", BASE, grid="dense")
    monkeypatch.setattr("newretail.__version__", "9.9.9")
    assert cache.entry_key("calibration", BASE) != key
    monkeypatch.undo()
    monkeypatch.setitem(cache.SOURCES, "calibration", ("scenario.py",))
    cache.code_digest.cache_clear()
    try:
        assert cache.entry_key("calibration", BASE) != key  # another set of source files, another digest
    finally:
        monkeypatch.undo()
        cache.code_digest.cache_clear()
    assert cache.entry_key("calibration", BASE) == key


def test_a_change_of_a_source_file_changes_the_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The digest reads the files' bytes: an edit during development never reads an entry of the old code."""
    package = tmp_path / "newretail"
    (package / "generate").mkdir(parents=True)
    (package / "scenario.py").write_text("A = 1\n")
    (package / "generate" / "calibrate.py").write_text("B = 1\n")
    monkeypatch.setattr(cache, "PACKAGE", package)
    cache.code_digest.cache_clear()
    try:
        before = cache.code_digest("calibration")
        (package / "generate" / "calibrate.py").write_text("B = 2\n")
        cache.code_digest.cache_clear()
        assert cache.code_digest("calibration") != before
        (package / "stress").mkdir()
        (package / "stress" / "frontier.py").write_text("C = 1\n")  # not a source of the calibration
        cache.code_digest.cache_clear()
        again = cache.code_digest("calibration")
        (package / "stress" / "frontier.py").write_text("C = 2\n")
        cache.code_digest.cache_clear()
        assert cache.code_digest("calibration") == again
    finally:
        cache.code_digest.cache_clear()


def test_frontiers_do_not_depend_on_how_rows_are_cut_into_files() -> None:
    cut = BASE.with_changes({"sampling.users_per_partition": 7})
    assert cache.entry_key("frontiers", cut, grid="paper") == cache.entry_key("frontiers", BASE, grid="paper")
    assert cache.entry_key("calibration", cut) != cache.entry_key("calibration", BASE)  # keyed on all of it


def test_a_value_is_computed_once_then_read(folder: Path) -> None:
    calls: list[int] = []

    def compute() -> dict[str, float]:
        calls.append(1)
        return {"x": 0.1 + 0.2}

    assert cache.cached("calibration", BASE, compute) == {"x": 0.1 + 0.2}
    assert cache.cached("calibration", BASE, compute) == {"x": 0.1 + 0.2}  # the same float, read back
    assert len(calls) == 1
    files = list(folder.glob("calibration-*.json"))
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == oct(0o644)
    assert not list(folder.glob(".*tmp"))  # written through a temporary file, renamed into place
    assert cache.cached("calibration", BASE, compute, refresh=True) == {"x": 0.1 + 0.2} and len(calls) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # a write cut short
        lambda text: "not json",
        lambda text: json.dumps({**json.loads(text), "key": "0" * 64}),  # another scenario's entry in its place
        lambda text: json.dumps({**json.loads(text), "value": {"x": "a string"}}),  # does not decode
        lambda text: json.dumps([1, 2, 3]),
    ],
)
def test_a_damaged_entry_is_computed_again_and_replaced(folder: Path, damage) -> None:  # type: ignore[no-untyped-def]
    def decode(stored: dict[str, float]) -> float:
        if not isinstance(stored["x"], float):
            raise ValueError("x: not a number")
        return stored["x"]

    assert cache.cached("calibration", BASE, lambda: 1.5, encode=lambda v: {"x": v}, decode=decode) == 1.5
    (entry,) = folder.glob("calibration-*.json")
    entry.write_text(damage(entry.read_text()))
    assert cache.cached("calibration", BASE, lambda: 2.5, encode=lambda v: {"x": v}, decode=decode) == 2.5
    assert cache.cached("calibration", BASE, lambda: 3.5, encode=lambda v: {"x": v}, decode=decode) == 2.5


def test_an_unwritable_folder_computes_without_failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "SHIPPED", tmp_path / "shipped")
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv(cache.ENV, str(blocked / "cache"))
    assert cache.store("calibration", BASE, {"x": 1.0}) is None
    assert cache.cached("calibration", BASE, lambda: {"x": 2.0}) == {"x": 2.0}


def test_the_calibration_read_back_is_the_solvers_bit_for_bit(folder: Path) -> None:
    """A calibration through JSON: every float and int comes back exactly (repr round trip), so generating from a
    cached calibration gives the bytes generating from a solved one would."""
    sc = BASE.with_changes({"targets.chatbot_share": 0.94})  # a scenario nothing else caches
    solved = solve(sc)
    stored = cache.store("calibration", sc, solved.to_dict())
    assert stored is not None and stored.parent == folder
    read = Calibration.from_dict(cache.load("calibration", sc))
    assert read == solved and read.to_dict() == solved.to_dict()
    # in the same order too: a dataset's manifest records the calibration, and its bytes must not depend on the cache
    assert json.dumps(read.to_dict()) == json.dumps(solved.to_dict())
    with pytest.raises(ValueError, match=r"calibration\.city"):
        Calibration.from_dict({**solved.to_dict(), "city": {"speed": 1.0}})


def test_the_user_folder_is_the_per_user_cache_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv(cache.ENV, raising=False)
    assert cache.folder() == Path(platformdirs.user_cache_dir("newretail", appauthor=False))
    monkeypatch.setenv(cache.ENV, "~/somewhere")
    assert cache.folder() == Path(os.path.expanduser("~/somewhere"))


def test_the_shipped_entries_carry_the_key_of_this_code() -> None:
    """The package's entries for the bundled scenario were written by the code as it is (a change of the generator's
    model or of the stress frontiers without ``python -m newretail.cache build`` makes every fresh process solve and
    search again: a minute of claims instead of seconds). The slow test below recomputes them."""
    from newretail.claims.ledger import GRID

    for kind, params in (("calibration", {}), ("frontiers", {"grid": GRID})):
        path = cache.shipped_path(kind, BASE, **params)
        entry = json.loads(path.read_text())
        assert entry["key"] == cache.entry_key(kind, BASE, **params), (
            f"{path.name} is stale: run `python -m newretail.cache build`"
        )


@pytest.mark.slow
def test_the_shipped_entries_are_a_fresh_computation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The package's entries for the bundled scenario have the current key (the code they depend on has not changed
    since they were written) and equal what solving and searching again give. When this fails after a change of the
    generator or the stress frontiers: ``python -m newretail.cache build``."""
    monkeypatch.setenv(cache.ENV, str(tmp_path / "cache"))  # the fresh search is kept here, not beside the package
    from newretail.claims.ledger import GRID
    from newretail.stress.frontier import scenario_frontiers

    for kind, params in (("calibration", {}), ("frontiers", {"grid": GRID})):
        path = cache.shipped_path(kind, BASE, **params)
        entry = json.loads(path.read_text())
        assert entry["key"] == cache.entry_key(kind, BASE, **params), (
            f"{path.name} is stale: run `python -m newretail.cache build`"
        )
    solved = solve(BASE)
    shipped = Calibration.from_dict(cache.load("calibration", BASE))
    assert shipped == solved and json.dumps(shipped.to_dict()) == json.dumps(solved.to_dict())  # order too
    assert calibrate(BASE) == solved
    fresh = scenario_frontiers(BASE, refresh=True)  # searched again, stored in the private folder
    shipped_frontiers = json.loads(cache.shipped_path("frontiers", BASE, grid=GRID).read_text())["value"]
    assert shipped_frontiers == fresh
    for claim, found in fresh.items():  # in the same order, to the key: the claims JSON prints them
        assert json.dumps(shipped_frontiers[claim]) == json.dumps(found), claim
