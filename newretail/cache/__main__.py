"""``python -m newretail.cache build``: compute the shipped cache entries again (the calibration and the break-even
frontiers of every bundled scenario) and write them into ``newretail/scenarios/cache/``.

Run it after a change of the code those values depend on (:data:`newretail.cache.SOURCES`): the shipped entries'
keys then no longer match, so the package would compute them on first use; ``tests/test_cache.py`` compares the
shipped entries with a fresh computation. ``python -m newretail.cache path`` prints the per-user cache folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from newretail import cache
from newretail.claims.ledger import GRID
from newretail.generate.calibrate import solve
from newretail.scenario import available_scenarios, load_scenario
from newretail.stress.frontier import scenario_frontiers


def build(names: Sequence[str] | None = None, *, echo: bool = True) -> list[Path]:
    """Compute and write the shipped entries of the bundled scenarios ``names`` (default: all); returns the files."""
    written: list[Path] = []
    for name in names or available_scenarios():
        sc = load_scenario(name)
        start = time.perf_counter()
        calibration = cache.store("calibration", sc, solve(sc).to_dict(), shipped=True)
        found = scenario_frontiers(sc, grid=GRID, refresh=True)
        frontiers = cache.store("frontiers", sc, found, shipped=True, params={"grid": GRID})
        written += [p for p in (calibration, frontiers) if p is not None]
        if echo:
            print(f"{name}: calibration and frontiers in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newretail.cache", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="compute the bundled scenarios' entries again and write them into the package")
    b.add_argument("scenarios", nargs="*", help="bundled scenario names (default: all)")
    sub.add_parser("path", help="print the per-user cache folder")
    args = parser.parse_args(argv)
    if args.command == "path":
        print(cache.folder())
        return 0
    for path in build(args.scenarios or None):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
