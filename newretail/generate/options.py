"""The options of a generation run, checked before anything is calibrated or written (one line naming the bad one)."""

from __future__ import annotations

import math
import os
from typing import Any

from newretail.generate.errors import GenerateError

__all__ = ["ENGINES", "GROUP_TABLES", "check_options"]

ENGINES = ("local", "dask")
GROUP_TABLES = {
    "shoppers": ("users", "visits", "page_views", "orders", "truth_visits"),
    "banners": ("banner_impressions", "truth_banner_impressions"),
    "inquiries": ("inquiries", "truth_inquiries"),
    "city": ("stores", "store_days", "truth_store_days", "orders", "households"),
    "baseline": ("baseline_visits", "baseline_orders"),
}


def check_options(
    *,
    scale: Any,
    seed: Any,
    workers: Any = None,
    engine: Any = "local",
    scheduler: Any = None,
    groups: Any = None,
    calibration: Any = None,
) -> int:
    """Refuse, in one line naming it, any option of :func:`generate` that cannot work, before anything is
    calibrated or written; returns the number of workers (default: the machine's cores).

    Raises
    ------
    GenerateError
        For a bad value.
    newretail.extras.MissingExtraError
        For ``engine = "dask"`` without the ``dask`` extra installed.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and 0 < scale <= 1):
        raise GenerateError(f"scale = {scale!r}: must be a number in (0, 1], the share of the full event")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise GenerateError(f"seed = {seed!r}: must be a whole number from 0 to 2**63 - 1")
    if engine not in ENGINES:
        raise GenerateError(f"engine = {engine!r}: must be 'local' or 'dask'")
    if scheduler is not None and (engine != "dask" or not isinstance(scheduler, str) or not scheduler.strip()):
        raise GenerateError(f"scheduler = {scheduler!r}: an address such as tcp://10.0.0.5:8786, with engine 'dask'")
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise GenerateError(f"workers = {workers!r}: must be a whole number >= 1")
    if groups is not None:
        chosen = [groups] if isinstance(groups, str) else list(groups) if isinstance(groups, (list, tuple)) else None
        unknown = [g for g in chosen or [] if g not in GROUP_TABLES]
        if not chosen or unknown:
            raise GenerateError(f"groups = {groups!r}: must be a non-empty list of {', '.join(GROUP_TABLES)}")
    if calibration is not None and type(calibration).__name__ != "Calibration":
        raise GenerateError(f"calibration: expected a Calibration, got {type(calibration).__name__}")
    if engine == "dask":
        from newretail.generate.distributed import require_dask

        require_dask()
    return int(workers)
