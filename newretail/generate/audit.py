"""Whether a dataset's manifest says what the generator would have written: the check a manifest cannot pass by
being edited consistently with itself.

:func:`newretail.tables.open_dataset` refuses a manifest whose digest or scenario hash does not match (an edit) and any
file path that leaves the folder. A forger can recompute those; what cannot be forged without also forging the
generator is what the generator derives from the scenario, scale and seed. :func:`audit` recomputes it: the plan
(:func:`newretail.generate.run.plan`: which partition files exist and the sampling fraction of each) and, for a day
drawn from its own scenario, the calibration (:func:`newretail.generate.calibrate.calibrate`, cached per scenario), and
compares them with the manifest. So a halved fraction (GMV doubled) or an edited target (judged against a figure the
data were not drawn for) is refused, naming the file or the field.

It lives here rather than in ``tables`` because it needs the generator; ``newretail verify``, ``newretail claims``,
:func:`newretail.datasets.load` and :func:`newretail.notebook.open_day` run it through :func:`open_audited`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from newretail.generate import baseline, city, impressions, inquiries, shoppers
from newretail.generate.calibrate import Calibration, CalibrationError
from newretail.generate.errors import GenerateError
from newretail.generate.run import part_path, plan
from newretail.tables import Dataset, DatasetError, open_dataset

__all__ = ["audit", "open_audited"]

REL_TOL = 1e-9  # calibrations solved on another machine may differ in the last digits; an edit moves them far more


def _calibration_from(record: Any) -> Calibration:
    """A calibration rebuilt from its manifest record (for a day drawn from a given calibration)."""
    if not isinstance(record, dict):
        raise TypeError("not a mapping")
    return Calibration(
        shoppers=shoppers.ShopperParams(**record["shoppers"]),
        banners=impressions.BannerParams(**record["banners"]),
        inquiries=inquiries.InquiryParams(**record["inquiries"]),
        city=city.CityParams(**record["city"]),
        baseline=baseline.BaselineParams(**record["baseline"]),
        expected={k: float(v) for k, v in record["expected"].items()},
    )


def _first_difference(stored: Any, solved: Any, where: str) -> str | None:
    """Dotted name of the first value that differs between two JSON trees (numbers to ``REL_TOL``), or None."""
    if isinstance(solved, dict):
        if not isinstance(stored, dict) or stored.keys() != solved.keys():
            return where
        for key in solved:
            found = _first_difference(stored[key], solved[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(solved, list):
        if not isinstance(stored, list) or len(stored) != len(solved):
            return where
        diffs = (_first_difference(a, b, f"{where}[{i}]") for i, (a, b) in enumerate(zip(stored, solved, strict=True)))
        return next((d for d in diffs if d), None)
    numbers = (int, float)
    if isinstance(solved, numbers) and isinstance(stored, numbers) and not isinstance(stored, bool):
        both_nan = math.isnan(stored) and math.isnan(solved)
        return None if both_nan or math.isclose(stored, solved, rel_tol=REL_TOL, abs_tol=1e-12) else where
    return None if stored == solved else where


def _files(ds: Dataset) -> dict[str, float]:
    return {rec["path"]: rec["fraction"] for table in ds.tables for rec in ds.files(table)}


def audit(ds: Dataset) -> str | None:
    """The first thing in ``ds``'s manifest that the generator would not have written for the manifest's own
    scenario, scale and seed, in one line; None when it all matches.

    Compared: the sampling fractions (per table group and per file), the set of partition files, and, unless the
    day was drawn from a given calibration, the calibration itself, solved again from the scenario.
    """
    m = ds.manifest
    given = m.get("calibration_source") == "given"
    try:
        cal = _calibration_from(m.get("calibration")) if given else None
        p = plan(ds.scenario, scale=m["scale"], seed=m["seed"], calibration=cal, groups=m.get("groups"))
    except (KeyError, TypeError, ValueError) as exc:
        return f"calibration: not a record of the generator's parameters ({exc})"
    except (GenerateError, CalibrationError) as exc:
        return f"the generator would not make this dataset: {exc}"
    if m.get("sampling") != p.fractions:
        stored: dict[str, Any] = m["sampling"] if isinstance(m.get("sampling"), dict) else {}
        key = next(k for k in sorted(stored.keys() | p.fractions.keys()) if stored.get(k) != p.fractions.get(k))
        return (
            f"sampling.{key}: {stored.get(key)!r} in the manifest, but the generator samples {p.fractions.get(key)!r} "
            "for this scenario and scale (the manifest was edited)"
        )
    planned = {part_path(t, n): task.fraction for task in p.tasks for t, n in task.parts}
    listed = _files(ds)
    for rel in sorted(planned.keys() | listed.keys()):
        if rel not in listed:
            return f"{rel}: a partition of this scenario, scale and seed that the manifest does not list"
        if rel not in planned:
            return f"{rel}: listed in the manifest but not a partition of this scenario, scale and seed"
        if listed[rel] != planned[rel]:
            return (
                f"{rel}: fraction {listed[rel]!r} in the manifest, but the generator samples it at {planned[rel]!r} "
                "(the manifest was edited)"
            )
    if not given:
        solved = json.loads(json.dumps(p.calibration.to_dict()))
        where = _first_difference(m.get("calibration"), solved, "calibration")
        if where:
            return (
                f"{where}: differs from the calibration of the manifest's scenario (the scenario or the calibration "
                "was edited, or another version of the generator made it: generate it again)"
            )
    return None


def open_audited(path: str | Path, *, check: bool = True) -> Dataset:
    """:func:`~newretail.tables.open_dataset`, then :func:`audit`: the way to open a dataset whose manifest is to
    be believed (claims, notebooks, ``datasets.load``).

    Raises
    ------
    DatasetError
        Naming the manifest or file and what is wrong, in one line.
    """
    ds = open_dataset(path, check=check)
    problem = audit(ds)
    if problem:
        raise DatasetError(f"{ds.path}: {problem}")
    return ds
