"""Data-agnostic estimators: the only implementation of each method the analyses, claims and stress tests use.

Every estimator takes a polars or pandas frame and the names of its columns, validates them (one-line errors naming
the column, see :class:`MethodInputError`) and follows scikit-learn's conventions: ``__init__`` stores keyword
arguments, ``fit(df)`` returns ``self``, results end in ``_``.
"""

from __future__ import annotations

from newretail.methods._frames import MethodInputError

__all__ = ["MethodInputError"]
from newretail.methods.resampling import Clustered, bootstrap_interval, group_totals, multiway_interval

__all__ += ["Clustered", "bootstrap_interval", "group_totals", "multiway_interval"]
