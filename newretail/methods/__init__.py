"""Data-agnostic estimators: the only implementation of each method the analyses, claims and stress tests use.

Every estimator takes a polars or pandas frame and the names of its columns, validates them (one-line errors naming
the column, see :class:`MethodInputError`) and follows scikit-learn's conventions: ``__init__`` stores keyword
arguments, ``fit(df)`` returns ``self``, results end in ``_``.
"""

from __future__ import annotations

from newretail.methods._frames import MethodInputError
from newretail.methods.panel import DiD, EventStudy
from newretail.methods.synth import SyntheticControl

__all__ = ["MethodInputError"]
__all__ += ["DiD", "EventStudy", "SyntheticControl"]  # panel methods
