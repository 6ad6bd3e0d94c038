"""Stress grids: which assumptions a sweep varies, over which values, in which mode, for which claim.

A grid is a TOML file (the shipped ones are in ``newretail/stress/grids/``)::

    name = "paper"
    scale = 1e-5          # share of the full event generated at each point
    seeds = 1             # datasets per point (seed, seed + 1, ...)

    [[study]]
    name = "ctr_fixed"
    claim = "ai_banner_ctr_ratio"
    mode = "fixed"        # or "recalibrated"
    design = "grid"       # full factorial; "oat" one at a time around the base; "lhs" Latin hypercube
    [study.axes]
    "behaviour.banners.novelty_decay" = [0.0, 0.15, 0.3, 0.45, 0.6]
    "behaviour.banners.placement_allocation_skew" = [0.0, 1.0, 2.0]

Modes (see the package docstring): ``recalibrated`` changes the scenario and solves the generator again, so the
observed figure is reproduced and what moves is what it means; ``fixed`` keeps the parameters solved for the base
scenario and changes only the named assumptions, so the observed figure itself moves. In ``fixed`` mode an axis
must be an assumption the generator reads (:data:`FIXED_LEVERS`) or a solved parameter scaled by a factor
(``calibration.<group>.<parameter>``, e.g. ``calibration.baseline.visits = [0.9, 1.1]`` for a 2016 event 10%
smaller or larger than the calibrated one).
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from newretail.scenario import Scenario
from newretail.stress.design import CALIBRATION_GROUPS as CALIBRATION_GROUPS
from newretail.stress.design import DESIGNS as DESIGNS
from newretail.stress.design import FIXED_LEVERS as FIXED_LEVERS
from newretail.stress.design import MAX_POINTS as MAX_POINTS
from newretail.stress.design import MODES as MODES
from newretail.stress.design import Axis as Axis
from newretail.stress.design import Design as Design
from newretail.stress.design import Grid as Grid
from newretail.stress.design import GridError as GridError
from newretail.stress.design import Mode as Mode
from newretail.stress.design import Point as Point
from newretail.stress.design import Study as Study
from newretail.stress.design import Value as Value
from newretail.stress.design import _check_point
from newretail.stress.design import base_value as base_value

__all__ = [
    "DESIGNS",
    "FIXED_LEVERS",
    "MODES",
    "Axis",
    "Grid",
    "GridError",
    "Point",
    "Study",
    "available_grids",
    "load_grid",
]


def check_point(
    scenario: Scenario, *, claim: str, changes: dict[str, Value], mode: str, scale: float, seed: int
) -> Point:
    """A single validated point outside any grid (see :func:`newretail.stress.point`)."""
    from newretail.stress.checks import CHECKS

    if claim not in CHECKS:
        raise GridError(f"claim = {claim!r}: must be one of {', '.join(CHECKS)}")
    if mode not in MODES:
        raise GridError(f"mode = {mode!r}: must be one of {', '.join(MODES)}")
    if not (_number(scale) and 0 < scale <= 1):
        raise GridError(f"scale = {scale!r}: must be a number in (0, 1]")
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise GridError(f"seed = {seed!r}: must be a whole number from 0 to 2**63 - 1")
    values: list[tuple[str, Value]] = []
    for field, value in changes.items():
        _check_field("changes", field, mode)
        if isinstance(value, str):
            values.append((field, value))
        elif _number(value):
            values.append((field, float(value)))
        else:
            raise GridError(f"changes[{field!r}] = {value!r}: must be a finite number or a string")
    study = Study("point", claim, mode, "grid", ())  # type: ignore[arg-type]
    _check_point("point()", study, tuple(values), scenario)
    return Point("point", 0, claim, mode, tuple(values), "", seed, float(scale))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------------- loading
def available_grids() -> list[str]:
    """Names of the grids shipped with the package."""
    folder = resources.files("newretail") / "stress" / "grids"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def _read(name_or_path: str | Path) -> tuple[str, str]:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file() or len(candidate.parts) > 1:
        if not candidate.is_file():
            raise GridError(f"grid {candidate}: no such file")
        return candidate.read_text(encoding="utf-8"), str(candidate)
    name = str(name_or_path)
    if name not in available_grids():
        raise GridError(f"grid {name!r}: not a shipped grid ({', '.join(available_grids())}) nor a TOML file")
    return (resources.files("newretail") / "stress" / "grids" / f"{name}.toml").read_text(encoding="utf-8"), name


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_keys(where: str, data: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise GridError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")
    for key in required:
        if key not in data:
            raise GridError(f"{where}: required key {key!r} is missing")


def _param_classes() -> dict[str, type]:
    from newretail.generate.baseline import BaselineParams
    from newretail.generate.city import CityParams
    from newretail.generate.impressions import BannerParams
    from newretail.generate.inquiries import InquiryParams
    from newretail.generate.shoppers import ShopperParams

    return {
        "shoppers": ShopperParams,
        "banners": BannerParams,
        "inquiries": InquiryParams,
        "city": CityParams,
        "baseline": BaselineParams,
    }


def _check_field(where: str, field: str, mode: str) -> None:
    if field.startswith("calibration."):
        parts = field.split(".")
        if mode != "fixed":
            raise GridError(f"{where}: {field}: calibration.* axes scale a solved parameter and need mode = 'fixed'")
        classes = _param_classes()
        if len(parts) != 3 or parts[1] not in classes:
            raise GridError(
                f"{where}: {field}: must be calibration.<group>.<parameter>, group one of {', '.join(classes)}"
            )
        params = {f.name for f in dataclasses.fields(classes[parts[1]]) if f.type in ("float", float)}
        if parts[2] not in params:
            raise GridError(f"{where}: {field}: no parameter {parts[2]!r} in {parts[1]} ({', '.join(sorted(params))})")
        return
    if field not in scenario_fields():
        raise GridError(
            f"{where}: {field}: not a scenario field (see 'newretail scenario show'; write it dotted, "
            "e.g. behaviour.banners.novelty_decay)"
        )
    if not field.startswith("behaviour."):
        raise GridError(f"{where}: {field}: only behaviour.* assumptions can be varied")
    if mode == "fixed" and field not in FIXED_LEVERS:
        raise GridError(
            f"{where}: {field}: the parameters solved for the base scenario absorb it, so it has no effect in mode "
            "'fixed'; use mode 'recalibrated' (fixed-mode assumptions: see newretail.stress.FIXED_LEVERS)"
        )


def scenario_fields() -> set[str]:
    """Every dotted leaf field of a scenario, e.g. ``behaviour.banners.novelty_decay``."""
    from pydantic import BaseModel

    fields: set[str] = set()

    def walk(prefix: str, model: type[BaseModel]) -> None:
        for key, info in model.model_fields.items():
            kind = info.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                walk(f"{prefix}{key}.", kind)
            else:
                fields.add(f"{prefix}{key}")

    walk("", Scenario)
    return fields


def _axes(where: str, raw: Any, design: str, mode: str) -> tuple[Axis, ...]:
    if not isinstance(raw, dict) or not raw:
        raise GridError(f"{where}: axes must be a table of field = [values] with at least one field")
    axes = []
    for field, values in raw.items():
        at = f"{where}: axes.{field!r}"
        _check_field(f"{where}: axes", field, mode)
        if not isinstance(values, list) or not values:
            raise GridError(f"{at}: must be a non-empty list of values")
        kinds = {type(v) for v in values}
        if all(_number(v) for v in values):
            clean: tuple[Value, ...] = tuple(float(v) for v in values)
        elif kinds == {str}:
            clean = tuple(values)
        else:
            raise GridError(f"{at} = {values!r}: values must be all finite numbers or all strings")
        if design == "lhs":
            low, high = (*clean, None, None)[:2]
            if len(clean) != 2 or not (isinstance(low, float) and isinstance(high, float) and low < high):
                raise GridError(f"{at} = {values!r}: a Latin hypercube axis is [low, high] with low < high")
        if len(set(clean)) != len(clean):
            raise GridError(f"{at} = {values!r}: values repeat")
        if field.startswith("calibration.") and not all(isinstance(v, float) and v > 0 for v in clean):
            raise GridError(f"{at} = {values!r}: factors of a solved parameter must be positive numbers")
        axes.append(Axis(field, clean))
    return tuple(axes)


def _study(where: str, raw: Any, claims: tuple[str, ...]) -> Study:
    if not isinstance(raw, dict):
        raise GridError(f"{where}: must be a table")
    _check_keys(
        where,
        raw,
        ("name", "title", "claim", "mode", "design", "axes", "points", "seeds", "scale"),
        ("name", "claim", "mode", "design", "axes"),
    )
    name = raw["name"]
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise GridError(f"{where}: name = {name!r}: must be letters, digits, '_' or '-'")
    where = f"{where} {name!r}"
    if raw["claim"] not in claims:
        raise GridError(f"{where}: claim = {raw['claim']!r}: must be one of {', '.join(claims)}")
    if raw["mode"] not in MODES:
        raise GridError(f"{where}: mode = {raw['mode']!r}: must be one of {', '.join(MODES)}")
    if raw["design"] not in DESIGNS:
        raise GridError(f"{where}: design = {raw['design']!r}: must be one of {', '.join(DESIGNS)}")
    axes = _axes(where, raw["axes"], raw["design"], raw["mode"])
    points = raw.get("points", 0)
    if raw["design"] == "lhs":
        if not (isinstance(points, int) and not isinstance(points, bool) and 2 <= points <= MAX_POINTS):
            raise GridError(f"{where}: points = {points!r}: a Latin hypercube needs 2 to {MAX_POINTS} points")
    elif "points" in raw:
        raise GridError(f"{where}: points: only for design = 'lhs'")
    n = (
        points
        if raw["design"] == "lhs"
        else (
            math.prod(len(a.values) for a in axes) if raw["design"] == "grid" else 1 + sum(len(a.values) for a in axes)
        )
    )
    if n > MAX_POINTS:
        raise GridError(f"{where}: {n} points: at most {MAX_POINTS} per study")
    seeds = raw.get("seeds")
    if seeds is not None and not (isinstance(seeds, int) and not isinstance(seeds, bool) and 1 <= seeds <= 100):
        raise GridError(f"{where}: seeds = {seeds!r}: must be a whole number from 1 to 100")
    scale = raw.get("scale")
    if scale is not None and not (_number(scale) and 0 < scale <= 1):
        raise GridError(f"{where}: scale = {scale!r}: must be a number in (0, 1]")
    title = raw.get("title", "")
    if not isinstance(title, str):
        raise GridError(f"{where}: title = {title!r}: must be a string")
    return Study(
        name=name,
        claim=raw["claim"],
        mode=raw["mode"],
        design=raw["design"],
        axes=axes,
        title=title,
        points=int(points),
        seeds=seeds,
        scale=None if scale is None else float(scale),
    )


def load_grid(name_or_path: str | Path | Grid) -> Grid:
    """Load and validate a grid from a shipped name (``"paper"``, ``"dense"``, ``"smoke"``) or a TOML path.

    Raises
    ------
    GridError
        With one line naming the file, the study and the first bad key, its value and what is allowed.
    """
    if isinstance(name_or_path, Grid):
        return name_or_path
    from newretail.stress.checks import CHECKS

    text, source = _read(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"grid {source}: not valid TOML ({exc})") from None
    where = f"grid {source}"
    _check_keys(where, data, ("name", "description", "scale", "seeds", "lhs_seed", "study"), ("scale", "study"))
    scale = data["scale"]
    if not (_number(scale) and 0 < scale <= 1):
        raise GridError(f"{where}: scale = {scale!r}: must be a number in (0, 1], the share of the full event")
    seeds = data.get("seeds", 1)
    if not (isinstance(seeds, int) and not isinstance(seeds, bool) and 1 <= seeds <= 100):
        raise GridError(f"{where}: seeds = {seeds!r}: must be a whole number from 1 to 100")
    lhs_seed = data.get("lhs_seed", 0)
    if not (isinstance(lhs_seed, int) and not isinstance(lhs_seed, bool) and lhs_seed >= 0):
        raise GridError(f"{where}: lhs_seed = {lhs_seed!r}: must be a whole number, 0 or more")
    studies_raw = data["study"]
    if not isinstance(studies_raw, list) or not studies_raw:
        raise GridError(f"{where}: study: needs at least one [[study]] table")
    studies = tuple(_study(f"{where}: study {i + 1}", raw, tuple(CHECKS)) for i, raw in enumerate(studies_raw))
    names = [s.name for s in studies]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise GridError(f"{where}: study name {dup!r} is used twice")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise GridError(f"{where}: name = {name!r}: must be a string")
    description = data.get("description", "")
    return Grid(name, float(scale), int(seeds), studies, str(description), int(lhs_seed))
