"""The paper's sections, the limits of its figures and tables, and which section a notebook or a claim belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newretail.fmt import CI_LEVEL as CI_LEVEL  # the level of every interval the notebooks and the claims report
from newretail.notebook import KEY_PACKAGES as NOTEBOOK_PACKAGES

FORMAT = 1

REPO = Path(__file__).resolve().parents[2]
KEY_PACKAGES = (*NOTEBOOK_PACKAGES, "papermill", "typst")  # the notebooks' versions cell, plus the paper's tools
TEXT_WIDTH_CM = 15.0
MAX_FIGURE_HEIGHT_CM = 9.0
MAX_TABLE_ROWS = 40
MAX_TABLE_COLUMNS = 9
CLAIMS_COLUMNS = frozenset({"id", "target", "reproduced", "holds"})


@dataclass(frozen=True)
class Section:
    """A section of the paper: the claims it recreates and the notebooks (by words in their file stem) it shows."""

    key: str
    title: str
    claims: tuple[str, ...] = ()
    match: tuple[str, ...] = ()


SECTIONS: tuple[Section, ...] = (
    Section("day", "The synthetic sales day and its assumptions", match=("quickstart",)),
    Section("gmv", "Gross merchandise value in 24 hours", ("gmv_usd", "gmv_yoy_growth"), ("gmv",)),
    Section("banners", "Lu Ban's AI banners", ("ai_banners", "ai_banner_ctr_ratio"), ("banner", "lu_ban")),
    Section(
        "personalization",
        "Personalized pages",
        ("personalized_pages", "personalized_page_conversion"),
        ("personal",),
    ),
    Section(
        "chatbot",
        "Ali Xiaomi, the customer-service chatbot",
        ("chatbot_inquiries", "chatbot_share", "chatbot_efficiency_ratio"),
        ("chatbot", "xiaomi"),
    ),
    Section(
        "stores",
        "Hema and the Sanjiang pilot",
        ("hema_delivery_minutes", "sanjiang_pilot_stores", "sanjiang_delivery_minutes"),
        ("hema", "store", "offline", "sanjiang"),
    ),
    Section("stress", "Stress tests and robustness", match=("stress", "robust")),
    Section("methods", "The methods on real data", match=("methods", "real_data")),
    Section("other", "Further analyses"),
)
"""The paper's sections in order; a notebook whose stem matches none lands in "Further analyses"."""


def _section_of_notebook(stem: str) -> str:
    words = stem.lower()
    for section in SECTIONS:
        if any(word in words for word in section.match):
            return section.key
    return "other"


def _section_of_claim(row: dict[str, Any]) -> str:
    if row.get("kind") == "press":
        return "day"
    for section in SECTIONS:
        if row.get("id") in section.claims:
            return section.key
    return "other"
