"""Three figures a reader meets in the notebooks read at notebook width (issue 28): the claims forest plot, the stress
tornado chart and the synthetic control's plot. Each is drawn on inputs made here (every claim of the registry, the
paper grid's one-at-a-time studies, a small panel) and checked with the shared readability check
(``tests/readability.py``: at least 10 pt, words not identifiers or field paths, nothing cut off, no overlapping
ticks, a takeaway title), and for what it promises besides: legends off the data, bars and labels inside the axes,
the labels the caller gave.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import polars as pl
import pytest
from readability import DOTTED, SNAKE, assert_inside_axes, assert_legends_clear_of_data, assert_readable

matplotlib.use("Agg")

import matplotlib.pyplot as plt


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


# ------------------------------------------------------------------------------------------------- claims forest
def _claims_table(failing: tuple[str, ...] = ("gmv_rmb", "chatbot_share")) -> object:
    """Every claim of the registry at 2-7% off its target with a 5% interval; ``failing`` ones miss it."""
    from newretail.claims import REGISTRY, ClaimResult, ClaimsTable

    rows = []
    for i, claim in enumerate(REGISTRY.values()):
        value = 1.0 + (0.02 + 0.01 * (i % 6)) * (-1) ** i
        low, high = (value * 0.95, value * 1.05) if claim.id not in failing else (1.12, 1.2)
        rows.append(
            ClaimResult(id=claim.id, statement=claim.statement, target=1.0, reproduced=value, ci_low=low,
                        ci_high=high, unit=claim.unit, holds=claim.id not in failing, kind=claim.kind,
                        direction=claim.direction, tolerance=0.0, definition="", source="", note="", details={})
        )  # fmt: skip
    return ClaimsTable(tuple(rows), (), "made up", "singles_day_2017", 0, 1e-5)


def test_every_claim_has_a_label_in_words() -> None:
    from newretail.claims import REGISTRY

    for claim in REGISTRY.values():
        assert claim.label and claim.label != claim.id, claim.id
        assert not SNAKE.search(claim.label) and not DOTTED.search(claim.label), claim.label
    assert len({c.label for c in REGISTRY.values()}) == len(REGISTRY)  # no two claims read alike


def test_the_claims_forest_plot_reads_in_words() -> None:
    from newretail.claims import REGISTRY

    table = _claims_table()
    fig = table.plot()  # type: ignore[attr-defined]
    assert_readable(fig)
    assert_legends_clear_of_data(fig)
    ax = fig.axes[0]
    shown = [t.get_text() for t in ax.get_yticklabels()]
    assert shown == [c.label[:1].upper() + c.label[1:] for c in REGISTRY.values()]  # report figures, then press
    # the takeaway counts what the rows say
    report = [c for c in REGISTRY.values() if c.kind == "report"]
    press = [c for c in REGISTRY.values() if c.kind == "press"]
    title = fig._suptitle.get_text()
    assert f"{len(report) - 1} of {len(report)} report figures" in title
    assert f"{len(press) - 1} of {len(press)} press figures" in title


# ------------------------------------------------------------------------------------------------------- tornado
def _sweep_table(studies: list) -> pl.DataFrame:
    """A made-up one-at-a-time sweep: the reported reading at its target at the base point; each assumption's ends
    move it by up to a third (one study's first assumption by ten times, its last not at all); the lower ends fail."""
    from newretail.stress.checks import CHECKS

    rows = []
    for st in studies:
        reading = CHECKS[st.claim].readings[0]
        bias = reading.direction == "covers-truth"
        base = 0.01 if bias else 1.0
        same = {"study": st.name, "claim": st.claim, "reading": reading.name, "reported": True,
                "target": 0.0 if bias else 1.0}  # fmt: skip
        ends = [(0, "", base, True)]
        for k, axis in enumerate(st.axes):
            for j, _ in enumerate(axis.values):
                swing = 0.0 if k == len(st.axes) - 1 and st.name == "ctr_oat" else (k + 1) / (3 * len(st.axes))
                if st.name == "growth_oat" and k == 0:
                    swing = 10.0  # far out: the bar must still end inside the axis
                ends.append((len(ends), axis.field, base + (swing if j else -swing) * max(abs(base), 0.05), j == 1))
        for point, varied, value, holds in ends:
            rows.append({**same, "point": point, "varied": varied, "value": value,
                         "truth": 0.0 if bias else value, "holds": holds, "holds_truth": holds})  # fmt: skip
    return pl.DataFrame(rows)


def test_the_tornado_reads_in_words_and_keeps_its_bars_on_the_axis() -> None:
    from newretail.stress.grid import load_grid
    from newretail.stress.plots import ASSUMPTION_NAMES, tornado

    studies = [st for st in load_grid("paper").studies if st.design == "oat"]
    fig = tornado(_sweep_table(studies), studies, judge="truth")
    assert_readable(fig)
    assert_legends_clear_of_data(fig)
    for ax, st in zip(fig.axes, studies, strict=True):
        assert_inside_axes(ax)  # bars, end labels and "no effect"
        assert sorted(t.get_text() for t in ax.get_yticklabels()) == sorted(ASSUMPTION_NAMES[a.field] for a in st.axes)
    ctr = fig.axes[[st.name for st in studies].index("ctr_oat")]
    assert "no effect" in [t.get_text().strip() for t in ctr.texts]
    changes = sum(len(a.values) for st in studies for a in st.axes) - 2  # ctr_oat's last assumption: no bar
    assert fig._suptitle.get_text().startswith(f"{changes // 2} of {changes} single changes")


def test_an_assumption_without_a_name_reads_as_words() -> None:
    from newretail.stress.plots import assumption_name

    assert assumption_name("behaviour.stores.prep_min") == "prep min"
    assert assumption_name("calibration.shoppers.value_log_sd") == "value log sd (x solved)"


# --------------------------------------------------------------------------------------------- synthetic control
def _panel() -> pl.DataFrame:
    """Twelve stores over 30 days; store 0 gains 0.5 from day 20."""
    rng = np.random.default_rng(4)
    stores, days = np.repeat(np.arange(12), 30), np.tile(np.arange(30), 12)
    level = rng.normal(5, 1, 12)[stores] + 0.02 * days + rng.normal(0, 0.1, stores.size)
    return pl.DataFrame({"store_id": stores, "day": days, "log_sales": level + 0.5 * ((stores == 0) & (days >= 20))})


def test_the_synthetic_control_plot_says_what_its_axes_and_lines_are() -> None:
    from newretail.methods import SyntheticControl

    sc = SyntheticControl("store_id", "day", "log_sales", 0, 20, treated_label="the new store").fit(_panel())
    fig = sc.plot(outcome_label="log daily sales", time_label="days since opening", truth=0.5)
    assert_readable(fig)
    assert_legends_clear_of_data(fig)
    top, bottom = fig.axes[:2]
    assert top.get_ylabel() == "log daily sales" and bottom.get_xlabel() == "days since opening"
    assert "log daily sales" in bottom.get_ylabel()
    labels = [t.get_text() for t in top.get_legend().get_texts()] + [t.get_text() for t in fig.legends[0].texts]
    assert "the new store" in labels and "true effect" in labels
    assert all(t.get_fontsize() >= 10 for t in top.get_legend().get_texts())
    title = fig._suptitle.get_text()
    assert title.startswith("The new store ran") and "above" in title and f"{sc.p_value_:.2f}" in title
    assert f"{sc.effect_:.3g}" in title and math.isfinite(sc.effect_)


def test_the_synthetic_control_plot_reads_its_columns_as_words_by_default() -> None:
    from newretail.methods import SyntheticControl

    fig = SyntheticControl("store_id", "day", "log_sales", 0, 20, placebos=0).fit(_panel()).plot()
    assert_readable(fig)
    top, bottom = fig.axes[:2]
    assert top.get_ylabel() == "log sales" and bottom.get_xlabel() == "day"
    assert "placebo" not in fig._suptitle.get_text()  # no placebos, no p-value
    with pytest.raises(TypeError, match="outcome_label"):
        SyntheticControl("store_id", "day", "log_sales", 0, 20, placebos=0).fit(_panel()).plot(outcome_label=3)
