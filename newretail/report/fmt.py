"""The paper's number formatting, which is :mod:`newretail.fmt` (one formatter for every number a person reads);
this module keeps the old import path working."""

from newretail.fmt import SHARE_UNITS, format_cell, format_interval, format_stated, format_value, unit_label

__all__ = ["SHARE_UNITS", "format_cell", "format_interval", "format_stated", "format_value", "unit_label"]
