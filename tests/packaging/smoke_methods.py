"""A methods call on a small frame, run by tests/packaging/ with the installed wheel in an empty folder.

Each check uses ``newretail.methods`` only through its public names and is skipped (and listed as skipped) when the
installed package does not have that name yet, so the list can grow with the subpackage: add a function to CHECKS.
Prints one ``ok NAME`` / ``skip NAME`` line per check; any failure is an exception (non-zero exit).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import polars as pl

import newretail.methods as methods

RNG = np.random.default_rng(0)
EFFECT = 2.0  # true effect of the treatment in the panel below


def panel() -> pl.DataFrame:
    """40 units x 6 periods, half treated from period 3 on, outcome = unit + period + EFFECT * treated*post."""
    unit, period = np.meshgrid(np.arange(40), np.arange(6), indexing="ij")
    treated = (unit < 20).astype(int)
    post = (period >= 3).astype(int)
    y = unit * 0.1 + period * 0.5 + EFFECT * treated * post + RNG.normal(0, 0.01, unit.shape)
    return pl.DataFrame(
        {
            "unit": unit.ravel(),
            "period": period.ravel(),
            "treated": treated.ravel(),
            "post": post.ravel(),
            "y": y.ravel(),
        }
    )


def check_input_error() -> None:
    """A frame missing a column is refused with one line naming it (pandas in, like a user's frame)."""
    from newretail.methods._frames import require_columns

    frame = panel().drop("y").to_pandas()
    assert isinstance(frame, pd.DataFrame)
    try:
        require_columns(pl.from_pandas(frame), ["unit", "y"])
    except methods.MethodInputError as exc:
        message = str(exc)
        assert "y" in message and "\n" not in message, message
    else:
        raise AssertionError("a missing column was accepted")


CHECKS: dict[str, Callable[[], None]] = {
    "MethodInputError": check_input_error,
    # "DiD": check_did,  # e.g. methods.DiD(...).fit(panel()) recovers EFFECT within its interval
}


def main() -> None:
    for name, check in CHECKS.items():
        if not hasattr(methods, name):
            print(f"skip {name} (not in newretail.methods {methods.__name__})")
            continue
        check()
        print(f"ok {name}")


if __name__ == "__main__":
    main()
