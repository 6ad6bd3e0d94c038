"""Hema and the Sanjiang pilot: the delivery promise, how many households the catchments reach, and the offline-store
uplift of the pilot stores, estimated the way a careful analyst would and set against the generator's truth.

Distances are in km, times in minutes, sales in RMB per store and day; effects on sales are on the log scale
(0.08 is about +8%). The pilot starts on ``day`` 0, the event day.

- :func:`delivery_promise`: share of orders within the radius delivered within the promise, by fleet and hour.
- :func:`household_coverage`: households within the catchments; its ``plot`` draws the city map.
- :func:`store_panel`, :func:`pilot_synthetic_control`: the pilot's panel for :mod:`newretail.methods` (DiD,
  EventStudy, SyntheticControl), which estimate the uplift.
- :func:`net_uplift`: store uplift less the online orders the pilot's catchment moved into the stores.
- :func:`staggered_rollout`: a rollout in waves (``behaviour.stores.rollout_waves``): TWFE against Callaway &
  Sant'Anna's group-time DiD, with the truth (:func:`rollout_truth`).
- :func:`newretail.studies.store_failures.failure_modes` (a study, not here: it re-simulates the city): the
  estimators on fresh cities where pilots were chosen on growth or take sales from nearby control stores.

The estimators read only observed tables (``stores``, ``store_days``, ``households``, ``orders``); the functions
that read ``truth_*`` say so in their name (:func:`pilot_truth`, :func:`rollout_truth`) or in an argument
(``staggered_rollout(..., truth=True)``).
"""

from __future__ import annotations

from newretail.analyses.stores._store_tables import FLEETS as FLEETS
from newretail.analyses.stores._store_tables import Source as Source
from newretail.analyses.stores.cannibalisation import NetUplift, net_uplift
from newretail.analyses.stores.catchments import Coverage, household_coverage
from newretail.analyses.stores.delivery import DeliveryPromise, delivery_promise
from newretail.analyses.stores.pilot import PILOT_UNIT as PILOT_UNIT
from newretail.analyses.stores.pilot import PilotTruth, pilot_synthetic_control, pilot_truth, store_panel
from newretail.analyses.stores.rollout import RolloutTruth, StaggeredRollout, rollout_truth, staggered_rollout
from newretail.analyses.stores.service import (
    DeliveryP95,
    delivery_measure,
    delivery_p95,
    finish_delivery_p95,
    finish_pilots,
    pilot_stores,
    pilot_tallies,
    pilots_measure,
    store_tallies,
)

__all__ = [
    "Coverage",
    "DeliveryP95",
    "DeliveryPromise",
    "NetUplift",
    "PilotTruth",
    "RolloutTruth",
    "StaggeredRollout",
    "delivery_measure",
    "delivery_p95",
    "delivery_promise",
    "finish_delivery_p95",
    "finish_pilots",
    "household_coverage",
    "net_uplift",
    "pilot_stores",
    "pilot_synthetic_control",
    "pilot_tallies",
    "pilot_truth",
    "pilots_measure",
    "rollout_truth",
    "staggered_rollout",
    "store_panel",
    "store_tallies",
]
