"""Households within the stores' catchments, and the city map."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.stores._store_tables import Source, _tables

# ---------------------------------------------------------------------------------------------------------------
# households and catchments


@dataclass(frozen=True)
class Coverage:
    """Households within ``radius_km`` of a store, by catchment.

    ``table``: one row per catchment (Hema stores, the pilot stores, all Sanjiang stores, Hema or pilot), with the
    stores, the households covered and their share of the city's households. ``overlap_share``: of the households
    within a pilot's catchment, the share within two or more pilot catchments. ``stores`` and ``blocks`` keep what
    the map needs.
    """

    radius_km: float
    households: int
    table: pl.DataFrame
    overlap_share: float
    stores: pl.DataFrame = field(repr=False)
    blocks: pl.DataFrame = field(repr=False)

    def share(self, catchment: str) -> float:
        """Share of the city's households in ``catchment`` (a value of ``table["catchment"]``)."""
        row = self.table.filter(pl.col("catchment") == catchment)
        if row.height != 1:
            raise ValueError(f"catchment = {catchment!r}: must be one of {self.table['catchment'].to_list()}")
        return float(row["share"][0])

    def plot(self) -> Figure:
        """Map of the city: household density, stores by type, and the catchments of Hema and pilot stores."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Circle

        fig, ax = plt.subplots(figsize=(8.5, 6.6), constrained_layout=True)
        b = self.blocks
        hb = ax.hexbin(
            b["x_km"].to_numpy(),
            b["y_km"].to_numpy(),
            C=b["households"].to_numpy(),
            reduce_C_function=np.sum,
            gridsize=36,
            cmap="Greys",
            mincnt=1,
            linewidths=0.1,
        )
        fig.colorbar(hb, ax=ax, shrink=0.7, label="households per hexagon")
        style = {
            "hema": ("#1f77b4", "s", "Hema"),
            "sanjiang": ("#ff7f0e", "o", "Sanjiang (not in the pilot)"),
            "pilot": ("#d62728", "*", "Sanjiang pilot"),
            "other": ("#2ca02c", "^", "other supermarket"),
        }
        s = self.stores.with_columns(
            kind=pl.when(pl.col("pilot")).then(pl.lit("pilot")).otherwise(pl.col("store_type").cast(pl.String))
        )
        for kind, (colour, marker, label) in style.items():
            k = s.filter(pl.col("kind") == kind)
            ax.scatter(
                k["x_km"],
                k["y_km"],
                c=colour,
                marker=marker,
                s=90 if kind == "pilot" else 28,
                edgecolors="white",
                linewidths=0.5,
                label=label,
                zorder=3,
            )
            if kind in ("hema", "pilot"):
                for x, y in zip(k["x_km"].to_list(), k["y_km"].to_list(), strict=True):
                    ax.add_patch(Circle((x, y), self.radius_km, fill=False, ec=colour, lw=1.0, alpha=0.8, zorder=2))
        ax.set_aspect("equal")
        xs = np.concatenate([b["x_km"].to_numpy(), s["x_km"].to_numpy()])
        ys = np.concatenate([b["y_km"].to_numpy(), s["y_km"].to_numpy()])
        ax.set_xlim(min(0.0, xs.min()) - 1, xs.max() + 1)
        ax.set_ylim(min(0.0, ys.min()) - 1, ys.max() + 1)
        ax.set(xlabel="west-east, km", ylabel="south-north, km")
        ax.set_title(f"Stores, households and the {self.radius_km:g} km catchments of Hema and pilot stores")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=4, fontsize=8, frameon=False)
        return fig


def household_coverage(source: Source, *, radius_km: float) -> Coverage:
    """Households within ``radius_km`` (km, straight line) of Hema stores, pilot stores and all Sanjiang stores."""
    if not (isinstance(radius_km, (int, float)) and radius_km > 0):
        raise ValueError(f"radius_km = {radius_km!r}: must be a positive distance in km")
    tb = _tables(source, ("stores", "households"))
    stores, blocks = tb["stores"], tb["households"]
    sx, sy = stores["x_km"].to_numpy(), stores["y_km"].to_numpy()
    bx, by = blocks["x_km"].to_numpy(), blocks["y_km"].to_numpy()
    hh = blocks["households"].to_numpy().astype(np.int64)
    within = np.hypot(sx[:, None] - bx[None, :], sy[:, None] - by[None, :]) <= radius_km  # stores x blocks
    kind = stores["store_type"].cast(pl.String).to_numpy()
    pilot = stores["pilot"].to_numpy()
    masks = {
        "Hema": kind == "hema",
        "Sanjiang pilot": pilot,
        "all Sanjiang": kind == "sanjiang",
        "Hema or pilot": (kind == "hema") | pilot,
    }
    total = int(hh.sum())
    rows = []
    for name, mask in masks.items():
        covered = within[mask].any(axis=0)
        rows.append(
            {
                "catchment": name,
                "stores": int(mask.sum()),
                "households_covered": int(hh[covered].sum()),
                "share": float(hh[covered].sum() / total),
            }
        )
    pilot_hits = within[pilot].sum(axis=0)
    in_pilot = int(hh[pilot_hits >= 1].sum())
    overlap = float(hh[pilot_hits >= 2].sum() / in_pilot) if in_pilot else float("nan")
    return Coverage(float(radius_km), total, pl.DataFrame(rows), overlap, stores, blocks)
