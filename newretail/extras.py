"""Optional dependencies: what each extra of ``pip install newretail[...]`` brings, and one error that names the
extra to install when a feature needs a package that is not there.

The core install draws, reads, measures and judges; the extras add what only some users need: ``dask`` (a Dask
cluster for generation and the claims' partial aggregates), ``explain`` (SHAP values of the conversion model, with
shap's numba/llvmlite chain), ``notebooks`` (JupyterLab, papermill) and ``paper`` (typst, pypdf).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "has_extra", "require"]

EXTRAS = {
    "dask": "distributed",
    "explain": "shap",
    "notebooks": "papermill",
    "paper": "typst",
}
"""Extra name to the module whose presence shows it is installed."""


class MissingExtraError(ImportError):
    """A feature needs an optional dependency that is not installed; the message names the extra to install."""

    exit_code = 2  # the command cannot run as asked in this environment


def has_extra(extra: str) -> bool:
    """Whether the extra's key module can be imported (found on the path; not imported)."""
    return importlib.util.find_spec(EXTRAS[extra]) is not None


def require(module: str, extra: str, *, purpose: str) -> ModuleType:
    """Import ``module``, or refuse in one line naming the extra that brings it.

    Parameters
    ----------
    module : the module to import, e.g. ``"shap"``.
    extra : the extra of newretail that installs it, e.g. ``"explain"``.
    purpose : what needs it, for the message (``"SHAP values"``).

    Raises
    ------
    MissingExtraError
        ``"<purpose> needs <module>, in the <extra> extra: pip install 'newretail[<extra>]'"``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the module is there but one of its own dependencies is not: a broken install, shown as is
        raise MissingExtraError(
            f"{purpose} needs {module}, in the {extra} extra: pip install 'newretail[{extra}]'"
        ) from None
