"""Synthetic sales-day generation: calibration, partitioned drawing, and the dataset manifest."""

from newretail.generate.calibrate import Calibration, CalibrationError, calibrate
from newretail.generate.errors import RunFailed
from newretail.generate.run import GenerateError, Plan, generate, plan

__all__ = ["Calibration", "CalibrationError", "GenerateError", "Plan", "RunFailed", "calibrate", "generate", "plan"]
