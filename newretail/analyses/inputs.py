"""Input checks every analysis shares."""

from __future__ import annotations

from typing import Any

from newretail.tables import Dataset

__all__ = ["check_dataset"]


def check_dataset(ds: Any) -> None:
    """Refuse anything but a :class:`~newretail.tables.Dataset` with one line naming the argument.

    Raises
    ------
    TypeError
        ``ds: a Dataset expected, got <type>``.
    """
    if not isinstance(ds, Dataset):
        raise TypeError(f"ds: a Dataset expected, got {type(ds).__name__}")
