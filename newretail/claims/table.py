"""Evaluating claims on a dataset: the claims table, the checks of which figures can hold together, and its plot."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from newretail.claims import ledger, verdicts
from newretail.claims.metrics import Context
from newretail.claims.registry import PRESS_IDS, REGISTRY, REPORT_IDS, Claim
from newretail.fmt import format_stated, format_value
from newretail.scenario import PRESS_KEYS, TARGET_KEYS, Scenario
from newretail.tables import Dataset, DatasetError, open_dataset, verify

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ClaimResult", "ClaimsTable", "Consistency", "evaluate", "format_value"]

JSON_KEYS = ("id", "statement", "target", "reproduced", "ci_low", "ci_high", "unit", "holds")
READINGS = ("rate", "lift")
Frontiers = Mapping[str, Sequence[Mapping[str, Any]]]  # break-even frontiers by claim id


def _finite_or_none(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, in nested dicts too."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class ClaimResult:
    """One row of the claims table."""

    id: str
    statement: str
    target: float
    reproduced: float
    ci_low: float
    ci_high: float
    unit: str
    holds: bool
    kind: str
    direction: str
    tolerance: float
    definition: str
    source: str
    note: str
    details: dict[str, float]
    holds_exact: bool = False  # the exact target inside the interval (``holds`` reads the stated precision)
    evidence: str = "data"  # "data" or "construction" (see newretail.claims.ledger)
    evidence_note: str = ""
    stated_range: tuple[float, float] = (math.nan, math.nan)
    implied: tuple[dict[str, Any], ...] = ()
    break_even: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready dict: the keys of ``JSON_KEYS`` first, then the ledger's (evidence,
        stated_range, implied, break_even, holds_exact), then kind, definition and the rest."""
        row: dict[str, Any] = {key: getattr(self, key) for key in JSON_KEYS}
        row.update(
            evidence=self.evidence,
            stated_range=list(self.stated_range),
            implied=[dict(i) for i in self.implied],
            break_even=[dict(b) for b in self.break_even],
            holds_exact=self.holds_exact,
            evidence_note=self.evidence_note,
            kind=self.kind,
            direction=self.direction,
            tolerance=self.tolerance,
            definition=self.definition,
            source=self.source,
            note=self.note,
            details=self.details,
        )
        return {k: _finite_or_none(v) for k, v in row.items()}


@dataclass(frozen=True)
class Consistency:
    """Whether some figures can all hold at once under the definitions used, and why (or why not)."""

    id: str
    figures: tuple[str, ...]
    holds: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "figures": list(self.figures), "holds": self.holds, "why": self.why}


@dataclass(frozen=True)
class ClaimsTable:
    """The claims evaluated on one dataset: ``rows`` (report figures first, then press figures) and
    ``consistency`` (which figures can hold together)."""

    rows: tuple[ClaimResult, ...]
    consistency: tuple[Consistency, ...]
    dataset: str
    scenario: str
    seed: int
    scale: float

    def __getitem__(self, claim_id: str) -> ClaimResult:
        for row in self.rows:
            if row.id == claim_id:
                return row
        raise KeyError(f"{claim_id!r}: not in this table ({', '.join(r.id for r in self.rows)})")

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rows)

    def all_hold(self, *, kind: str = "report") -> bool:
        """True when every row of ``kind`` (``"report"``, ``"press"`` or ``"all"``) holds."""
        if kind not in ("report", "press", "all"):
            raise ValueError(f"kind = {kind!r}: must be 'report', 'press' or 'all'")
        return all(r.holds for r in self.rows if kind in ("all", r.kind))

    def summary(self) -> dict[str, Any]:
        """Figures the data recreate, figures true by construction, implausible ones (see
        :func:`newretail.claims.ledger.ledger_summary`)."""
        return ledger.ledger_summary(self.to_dicts())

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (see :meth:`ClaimResult.to_dict`)."""
        return [row.to_dict() for row in self.rows]

    def to_json(self, *, indent: int | None = 1) -> str:
        """The rows as a JSON list."""
        return json.dumps(self.to_dicts(), indent=indent, allow_nan=False)

    def to_polars(self) -> pl.DataFrame:
        """The rows as a polars frame, one row per claim."""
        return pl.DataFrame(self.to_dicts(), infer_schema_length=None)

    def consistency_frame(self) -> pl.DataFrame:
        """The consistency checks as a polars frame."""
        return pl.DataFrame([c.to_dict() for c in self.consistency], infer_schema_length=None)

    def plot(self) -> Figure:
        """Forest plot: each claim's reproduced value over its target, with the 95% interval (1 = the target), the
        claims named in words (:attr:`Claim.label`) and the count that hold in the title."""
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D

        rows = [r for kind in ("report", "press") for r in self.rows if r.kind == kind]
        fig, ax = plt.subplots(figsize=(7.5, 0.34 * len(rows) + 1.9), layout="constrained")
        for y, r in enumerate(rows):
            ratio = [v / r.target if r.target and v is not None and math.isfinite(v) else math.nan
                     for v in (r.reproduced, r.ci_low, r.ci_high)]  # fmt: skip
            color = PLOT_COLORS[r.holds]
            ax.plot(ratio[1:], [y, y], color=color, linewidth=2.2, solid_capstyle="butt")
            ax.plot(ratio[0], y, marker=PLOT_MARKERS[r.kind], color=color, markersize=7, linestyle="none", zorder=3)
        ax.axvline(1.0, color="0.3", linewidth=0.8)
        ax.set_yticks(range(len(rows)), [_plot_label(r) for r in rows], fontsize=10)
        ax.set_ylim(len(rows) - 0.4, -0.6)  # the first claim on top
        ax.grid(axis="x", color="0.9")
        ax.tick_params(axis="x", labelsize=10)
        reports = sum(r.kind == "report" for r in rows)
        if 0 < reports < len(rows):  # the press figures below a rule
            ax.axhline(reports - 0.5, color="0.6", linewidth=0.8)
        ax.set_xlabel("reproduced over the figure (1 = the figure), 95% interval", fontsize=10)
        handles = [Line2D([], [], color=PLOT_COLORS[h], linewidth=2.2, label=w) for h, w in PLOT_VERDICTS.items()]
        handles += [Line2D([], [], color="0.3", marker=PLOT_MARKERS[k], linestyle="none", label=f"{k} figure")
                    for k in ("report", "press")]  # fmt: skip
        fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False, fontsize=10)
        fig.suptitle(_plot_takeaway(rows), fontsize=12)
        return fig


PLOT_COLORS = {True: "#1f77b4", False: "#d62728"}
PLOT_VERDICTS = {True: "holds", False: "does not hold"}
PLOT_MARKERS = {"report": "o", "press": "s"}


def _plot_label(row: ClaimResult) -> str:
    """The claim's plain name: its registry label, first letter capitalised (the marker tells a press figure)."""
    claim = REGISTRY.get(row.id)
    words = claim.label if claim is not None else row.id.replace("_", " ")
    return words[:1].upper() + words[1:]


def _plot_takeaway(rows: Sequence[ClaimResult]) -> str:
    """'The data recreate 12 of 12 report figures and 5 of 6 press figures', from the rows shown."""
    parts = []
    for kind in ("report", "press"):
        of_kind = [r for r in rows if r.kind == kind]
        if of_kind:
            parts.append(f"{sum(r.holds for r in of_kind)} of {len(of_kind)} {kind} figures")
    return "The data recreate " + " and ".join(parts)


def _consistency(ctx: Context, rows: Mapping[str, ClaimResult]) -> tuple[Consistency, ...]:
    t = ctx.targets
    fx = ctx.ds.scenario.behaviour.traffic.fx_rmb_per_usd
    checks = []
    stated = {k: format_stated(v, REGISTRY[k].unit) for k, v in t.items() if k in REGISTRY}  # the figures as written
    per_page_orders = t["personalized_page_conversion"] * t["personalized_pages"]
    checks.append(
        Consistency(
            "conversion_per_page_view",
            ("personalized_page_conversion", "personalized_pages", "payment_transactions"),
            per_page_orders <= t["payment_transactions"],
            f"read per page view, {stated['personalized_page_conversion']} of {stated['personalized_pages']} pages "
            f"would be {format_value(per_page_orders, 'count')} orders against {stated['payment_transactions']} "
            "payment transactions, so the claims read conversion per visit",
        )
    )
    if ctx.conversion_reading == "rate":
        conv = t["personalized_page_conversion"]
        # orders of personalized visits cannot exceed all orders, which bounds pages per personalized visit below
        floor = t["personalized_pages"] * conv / t["payment_transactions"]
        seen = (
            rows["personalized_pages"].details.get("pages_per_personalized_visit")
            if "personalized_pages" in rows
            else None
        )
        checks.append(
            Consistency(
                "pages_per_visit",
                ("personalized_pages", "personalized_page_conversion", "payment_transactions"),
                seen is None or seen >= floor,  # without the data the figures alone can always be met
                f"read per visit, {stated['personalized_pages']} pages at {stated['personalized_page_conversion']} "
                f"conversion with at most {stated['payment_transactions']} orders need at least "
                f"{format_value(floor, 'count')} pages per personalized visit"
                + (f"; the data have {format_value(seen, 'count')}" if seen is not None else ""),
            )
        )
    usd_low, usd_high = verdicts.stated_range(t["gmv_usd"], "USD")  # the values that round to the USD figure
    low, high = usd_low * fx, usd_high * fx
    exact = t["gmv_usd"] * fx
    rmb = [format_value(x, "count", digits=4) for x in (exact, low, high)]
    checks.append(
        Consistency(
            "gmv_rmb_vs_usd",
            ("gmv_usd", "gmv_rmb"),
            low <= t["gmv_rmb"] <= high,
            f"at {format_stated(fx, 'ratio')} RMB/USD the report's USD {stated['gmv_usd']} is RMB {rmb[0]} "
            f"({rmb[1]} to {rmb[2]} given its rounding); the press says RMB {stated['gmv_rmb']}, "
            f"{t['gmv_rmb'] / exact - 1:+.1%}. The data take the USD figure as exact, so the gmv_rmb row measures "
            "the gap",
        )
    )
    parcels = t["delivery_orders"] / t["payment_transactions"]
    checks.append(
        Consistency(
            "parcels_within_orders",
            ("delivery_orders", "payment_transactions"),
            t["delivery_orders"] <= t["payment_transactions"],
            f"{stated['delivery_orders']} parcel orders among {stated['payment_transactions']} paid orders "
            f"({format_value(parcels, 'share')})",
        )
    )
    peaks = t["peak_payments_per_second"] / t["peak_orders_per_second"]
    checks.append(
        Consistency(
            "payments_peak_below_orders_peak",
            ("peak_payments_per_second", "peak_orders_per_second"),
            t["peak_payments_per_second"] <= t["peak_orders_per_second"],
            "payments follow orders after a delay, so their peak is lower and later: "
            f"{format_value(peaks, 'share')} of the orders' peak",
        )
    )
    return tuple(checks)


def _check_files(ds: Dataset) -> None:
    """Refuse a dataset whose files are missing, damaged or of another schema, naming the file ("path: what is
    wrong"): :func:`newretail.tables.verify`, the table layer's one check (sizes, sha256 against the manifest,
    parquet schemas and each table's rules; files on disk the manifest does not list)."""
    report = verify(ds.path)
    if report.problem is not None:
        raise DatasetError(report.problem)


def _frontiers(sc: Scenario, break_even: bool | Frontiers | None, every_claim: bool) -> Frontiers:
    """The break-even frontiers the rows carry: given, read from the cache, or none (see :func:`evaluate`)."""
    if isinstance(break_even, Mapping):
        unknown = [k for k in break_even if k not in REGISTRY]
        if unknown:
            raise ValueError(f"break_even: {unknown[0]!r} is not a claim id")
        return break_even
    if break_even is False or (break_even is None and not every_claim):
        return {}
    found = ledger.frontiers(sc)
    if found is not None:
        return found
    how = (
        "compute them once with newretail.stress.frontier.scenario_frontiers(scenario) or `newretail claims DIR` "
        "(about a minute; kept by content afterwards)"
    )
    if break_even is True:
        raise ledger.FrontiersMissing(f"break_even: the frontiers of scenario {sc.name!r} are not computed yet; {how}")
    warnings.warn(
        f"the break-even frontiers of scenario {sc.name!r} are not computed yet, so no row carries any; {how}",
        stacklevel=3,
    )
    return {}


def _targets(sc: Scenario, targets: Mapping[str, float] | None) -> dict[str, float]:
    judged = {k: float(v) for k, v in {**sc.targets.model_dump(), **sc.press.model_dump()}.items()}
    for key, value in (targets or {}).items():
        if key not in TARGET_KEYS + PRESS_KEYS:
            raise ValueError(f"targets: {key!r} is not a target or press key ({', '.join(TARGET_KEYS + PRESS_KEYS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise ValueError(f"targets[{key!r}] = {value!r}: must be a positive number")
        judged[key] = float(value)
    return judged


def _row(claim: Claim, ctx: Context, calibration: Any, frontiers: Frontiers) -> ClaimResult:
    """One claim measured on the context's dataset and judged against its target."""
    try:
        measured = claim.compute(ctx)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DatasetError(f"{ctx.ds.path}: claim {claim.id}: cannot read its tables ({exc})") from None
    est, target = measured.estimate, ctx.targets[claim.id]
    statement = claim.statement.format(
        target=format_stated(target, claim.unit), radius=format_stated(ctx.targets["hema_radius_km"], "km")
    )
    judged = (claim.direction, target, est.value, est.ci_low, est.ci_high)
    return ClaimResult(
        id=claim.id,
        statement=statement,
        target=target,
        reproduced=est.value,
        ci_low=est.ci_low,
        ci_high=est.ci_high,
        unit=claim.unit,
        holds=verdicts.holds(*judged, unit=claim.unit, tolerance=claim.tolerance),
        kind=claim.kind,
        direction=claim.direction,
        tolerance=claim.tolerance,
        definition=claim.definition,
        source=claim.source,
        note="; ".join(p for p in (measured.note, claim.tolerance_reason) if p),
        details=dict(measured.details),
        holds_exact=verdicts.holds(*judged, tolerance=claim.tolerance),
        evidence="construction" if claim.id in ledger.CONSTRUCTION else "data",
        evidence_note=ledger.CONSTRUCTION.get(claim.id, ""),
        stated_range=verdicts.stated_range(target, claim.unit, claim.direction),
        implied=tuple(i.to_dict() for i in ledger.implied(claim.id, ctx.ds.scenario, calibration)),
        break_even=tuple(dict(f) for f in frontiers.get(claim.id, ())),
    )


def evaluate(
    dataset: Dataset | str | Path,
    ids: Iterable[str] | None = None,
    *,
    targets: Mapping[str, float] | None = None,
    conversion_reading: str | None = None,
    check_files: bool = True,
    break_even: bool | Frontiers | None = None,
) -> ClaimsTable:
    """Compute claims on a dataset and judge each against its target.

    Parameters
    ----------
    dataset : a :class:`~newretail.tables.Dataset` or its folder.
    ids : claim ids to evaluate (default: every report and press claim, see ``REGISTRY``).
    targets : figures to judge against instead of the dataset's scenario (keys of the scenario's ``targets`` or
        ``press``, e.g. ``{"ai_banner_ctr_ratio": 2.0}``); the rest come from the dataset's manifest.
    conversion_reading : ``"rate"`` or ``"lift"``, to read personalized_page_conversion otherwise than the
        scenario the data were generated from.
    check_files : refuse missing, damaged or re-shaped files before reading (:func:`newretail.tables.verify`).
    break_even : the rows' break-even frontiers (:func:`newretail.claims.ledger.frontiers`). A mapping of claim id
        to frontier dicts gives them; True reads the scenario's from the cache and raises
        :class:`~newretail.claims.ledger.FrontiersMissing` when they are not computed yet; None (default) reads them
        when every claim is evaluated (``ids`` None) and they are computed, and warns when they are not; False
        leaves them out. The stress layer computes them
        (:func:`newretail.stress.frontier.scenario_frontiers`; ``newretail claims`` does it once per scenario).

    ``holds`` judges the interval against the figure's stated precision, ``holds_exact`` against the exact target
    (:func:`newretail.claims.verdicts.holds`).

    Raises
    ------
    ValueError
        For an unknown id, target key or reading, or a target that is not a positive number.
    DatasetError
        When a table the claims read is missing or damaged; the message names the file.
    """
    ds = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    chosen = list(REPORT_IDS + PRESS_IDS) if ids is None else list(dict.fromkeys(ids))
    unknown = [i for i in chosen if i not in REGISTRY]
    if unknown or not chosen:
        raise ValueError(f"ids = {unknown or chosen!r}: claim ids must be among {', '.join(REGISTRY)}")
    sc = ds.scenario
    judged = _targets(sc, targets)
    reading = conversion_reading or sc.behaviour.personalization.conversion_reading
    if reading not in READINGS:
        raise ValueError(f"conversion_reading = {reading!r}: must be one of {', '.join(READINGS)}")
    frontiers = _frontiers(sc, break_even, every_claim=ids is None)
    if check_files:
        _check_files(ds)
    ctx = Context(
        ds=ds, targets=judged, conversion_reading=reading, human_occupancy=sc.behaviour.chatbot.human_occupancy
    )
    calibration = ledger.calibration_of(ds.manifest, sc)
    results = {claim_id: _row(REGISTRY[claim_id], ctx, calibration, frontiers) for claim_id in chosen}
    return ClaimsTable(
        rows=tuple(results.values()),
        consistency=_consistency(ctx, results),
        dataset=str(ds.path),
        scenario=sc.name,
        seed=ds.seed,
        scale=ds.scale,
    )
