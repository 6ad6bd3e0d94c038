"""The plots of ``newretail.methods``' results show the results' own numbers.

For every result with ``.plot``: ``plot(ax=...)`` draws on the axes it is given and returns their figure, ``plot()``
makes a figure of its own; the points and interval bars read back from the axes are the result's estimates and
interval ends (an Effect's, a DiD's, an event study's by event time, a staggered DiD's by event time, a synthetic
control's paths and gap); the labels name the outcome in words; a plot with several series has a legend. Small
fitted results are built once (module scope); the Agg backend draws, every figure is closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest
from matplotlib.colors import to_hex
from matplotlib.container import ErrorbarContainer
from readability import assert_legends_clear_of_data, assert_readable

import newretail.methods as methods

OUTCOME = "sales_per_day"  # an outcome column with underscores: every plot shows it in words
SPACED = "sales per day"


def _panel(units: int = 12, periods: int = 8, seed: int = 1) -> pl.DataFrame:
    """Units 0-2 treated from period 5 (effect 2), the rest never; unit and time effects."""
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)
    treated = (unit < 3) & (time >= 5)
    y = rng.normal(size=units)[unit] + 0.3 * time + 2.0 * treated + rng.normal(0, 0.5, unit.size)
    return pl.DataFrame({"unit": unit, "week_no": time, OUTCOME: y, "d": treated})


def _staggered(units: int = 30, periods: int = 10, seed: int = 2) -> pl.DataFrame:
    """Three cohorts (first treated in period 4, 6, never), absorbing treatment, effect 1."""
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)
    start = np.where(unit % 3 == 0, 4, np.where(unit % 3 == 1, 6, periods + 1))[unit]
    y = rng.normal(size=units)[unit] + 0.2 * time + 1.0 * (time >= start) + rng.normal(0, 0.3, unit.size)
    return pl.DataFrame({"unit": unit, "week_no": time, OUTCOME: y, "d": time >= start})


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    panel = _panel()
    return {
        "did": methods.DiD("unit", "week_no", OUTCOME, "d").fit(panel),
        "event": methods.EventStudy("unit", "week_no", OUTCOME, "d").fit(panel),
        "staggered": methods.StaggeredDiD("unit", "week_no", OUTCOME, "d").fit(_staggered()),
        "synth": methods.SyntheticControl("unit", "week_no", OUTCOME, 0, 5, placebos=4).fit(panel),
        "effect": methods.difference_in_means(panel, outcome=OUTCOME, treatment="d", cluster="unit"),
    }


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    plt.close("all")


def _errorbars(ax: Any) -> list[dict[str, Any]]:
    """Each error bar of ``ax`` read back: its point (x, y), its bar's two ends, its caps and colour."""
    out = []
    for c in ax.containers:
        if not isinstance(c, ErrorbarContainer):
            continue
        line, caps, bars = c.lines
        xs, ys = line.get_xdata(), line.get_ydata()
        segments = bars[0].get_segments()
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            seg = np.asarray(segments[i])
            out.append({"x": float(x), "y": float(y), "ends": seg, "caps": caps, "color": to_hex(line.get_color())})
    return out


def _all_plots(fitted: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every object with ``.plot`` (the results and the estimators' shortcuts) and the axes it draws on."""
    return [
        ("Effect", fitted["effect"]),
        ("Effect of StaggeredDiD", fitted["staggered"].att_),
        ("DiDSummary", fitted["did"].summary()),
        ("EventStudySummary", fitted["event"].summary()),
        ("EventStudy", fitted["event"]),
        ("StaggeredSummary", fitted["staggered"].summary()),
        ("StaggeredDiD", fitted["staggered"]),
        ("SyntheticControlSummary", fitted["synth"].summary()),
        ("SyntheticControl", fitted["synth"]),
    ]


def test_every_result_with_a_plot_is_listed(fitted: dict[str, Any]) -> None:
    listed = {type(obj).__name__ for _, obj in _all_plots(fitted)}
    plottable = {
        n for n in methods.__all__ if isinstance(getattr(methods, n), type) and hasattr(getattr(methods, n), "plot")
    }
    from newretail.methods._panel_summaries import DiDSummary, EventStudySummary
    from newretail.methods.staggered import StaggeredSummary

    plottable |= {c.__name__ for c in (DiDSummary, EventStudySummary, StaggeredSummary)}
    assert plottable <= listed, plottable - listed


def test_plot_draws_on_the_axes_it_is_given_and_makes_its_own_without(fitted: dict[str, Any]) -> None:
    for name, obj in _all_plots(fitted):
        two = name.startswith("SyntheticControl")
        fig, ax = plt.subplots(2 if two else 1, 1)
        before = len(plt.get_fignums())
        got = obj.plot(ax)
        assert got is fig, name  # the given axes' figure, not a new one
        assert len(plt.get_fignums()) == before, f"{name}: plot(ax) opened another figure"
        for a in np.atleast_1d(ax):
            assert a.has_data(), f"{name}: nothing drawn on the given axes"
        own = obj.plot()
        assert own is not fig and own.axes and all(a.has_data() for a in own.axes), name
        plt.close("all")


def test_every_interval_bar_ends_in_visible_caps(fitted: dict[str, Any]) -> None:
    for name, obj in _all_plots(fitted):
        if name.startswith("SyntheticControl"):
            continue
        bars = [b for a in obj.plot().axes for b in _errorbars(a)]
        assert bars, name
        for b in bars:
            assert len(b["caps"]) == 2 and all(c.get_markersize() > 0 for c in b["caps"]), name


@pytest.mark.parametrize("which", ["effect", "att", "did"])
def test_a_single_estimate_is_drawn_at_its_value_with_its_interval(fitted: dict[str, Any], which: str) -> None:
    result = {"effect": fitted["effect"], "att": fitted["staggered"].att_, "did": fitted["did"].summary()}[which]
    ax = result.plot().axes[0]
    (bar,) = _errorbars(ax)
    assert bar["x"] == pytest.approx(result.estimate, rel=1e-12)
    assert sorted(bar["ends"][:, 0]) == pytest.approx([result.ci_low, result.ci_high], rel=1e-12)
    assert np.all(bar["ends"][:, 1] == bar["y"])  # a horizontal bar
    label = ax.get_xlabel()
    assert "effect" in label
    if which == "did":
        assert SPACED in label and OUTCOME not in label, label
        assert f"{result.estimate:+.4g}" in ax.get_title() and f"{result.ci_low:+.4g}" in ax.get_title()
    else:
        assert [t.get_text() for t in ax.get_yticklabels()] == [result.name]


def test_a_single_estimate_with_references_has_a_legend_naming_them(fitted: dict[str, Any]) -> None:
    ax = fitted["effect"].plot(reference={"truth": 2.0, "peer": 1.5}).axes[0]
    legend = ax.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["truth", "peer"]
    lines = {line.get_label(): line.get_xdata()[0] for line in ax.get_lines()}
    assert lines["truth"] == 2.0 and lines["peer"] == 1.5
    ax = fitted["did"].summary().plot(truth=2.0).axes[0]
    assert ax.get_legend() is not None and [t.get_text() for t in ax.get_legend().get_texts()] == ["truth"]


def test_event_study_points_and_bars_are_its_coefficients(fitted: dict[str, Any]) -> None:
    s = fitted["event"].summary()
    fig = s.plot(truth=2.0)
    ax = fig.axes[0]
    bars = _errorbars(ax)
    c = s.coefs.sort("event_time")
    assert [b["x"] for b in bars] == c["event_time"].to_list()
    assert [b["y"] for b in bars] == pytest.approx(c["estimate"].to_list(), rel=1e-12)
    for b, lo, hi in zip(bars, c["ci_low"], c["ci_high"], strict=True):
        assert sorted(b["ends"][:, 1]) == pytest.approx([lo, hi], rel=1e-12, abs=1e-12)
        assert np.all(b["ends"][:, 0] == b["x"])  # a vertical bar at its event time
    ref = next(b for b in bars if b["x"] == s.reference)
    assert ref["y"] == 0 and np.all(ref["ends"][:, 1] == 0)
    assert SPACED in ax.get_ylabel() and OUTCOME not in ax.get_ylabel()
    assert f"{s.reference} = reference" in ax.get_xlabel()
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"estimate, 95% interval", "true effect"}
    assert f"{s.pretrend_p:.2g}" in ax.get_title()
    assert_legends_clear_of_data(fig)


def test_staggered_points_are_its_event_time_effects_pre_periods_set_apart(fitted: dict[str, Any]) -> None:
    s = fitted["staggered"].summary()
    truth = {0: 1.0, 1: 1.0}
    fig = s.plot(truth=truth)
    ax = fig.axes[0]
    bars = _errorbars(ax)
    e = s.event
    assert [b["x"] for b in bars] == e["event_time"].to_list()
    assert [b["y"] for b in bars] == pytest.approx(e["estimate"].to_list(), rel=1e-12)
    for b, lo, hi in zip(bars, e["ci_low"], e["ci_high"], strict=True):
        assert sorted(b["ends"][:, 1]) == pytest.approx([lo, hi], rel=1e-12)
    pre = {b["color"] for b in bars if b["x"] < 0}
    post = {b["color"] for b in bars if b["x"] >= 0}
    assert len(pre) == 1 and len(post) == 1 and pre != post, (pre, post)  # one colour each side of the event
    assert any(line.get_xdata()[0] == -0.5 and line.get_linestyle() == ":" for line in ax.get_lines())
    crosses = [c for c in ax.collections if c.get_label() == "truth"]
    assert crosses and crosses[0].get_offsets().tolist() == [[0.0, 1.0], [1.0, 1.0]]
    assert ax.get_legend() is not None and "truth" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert SPACED in ax.get_ylabel() and OUTCOME not in ax.get_ylabel()
    a = s.att
    assert f"{a.estimate:+.4g}" in ax.get_title() and f"{a.ci_high:+.4g}" in ax.get_title()


def test_synthetic_control_draws_its_paths_gap_and_placebos_in_words(fitted: dict[str, Any]) -> None:
    s = fitted["synth"].summary()
    fig = s.plot(truth=2.0)
    top, bottom = fig.axes
    g = s.gap
    lines = {line.get_label(): line for line in top.get_lines()}
    assert lines["0"].get_ydata() == pytest.approx(g["actual"].to_numpy(), rel=1e-12)
    assert lines["its synthetic control"].get_ydata() == pytest.approx(g["synthetic"].to_numpy(), rel=1e-12)
    assert top.get_legend() is not None and len(top.get_legend().get_texts()) == 2
    gaps = [line for line in bottom.get_lines() if line.get_label() == "0 minus synthetic"]
    assert len(gaps) == 1
    assert gaps[0].get_xdata() == pytest.approx(g["time"].to_numpy())
    assert gaps[0].get_ydata() == pytest.approx((g["actual"] - g["synthetic"]).to_numpy(), rel=1e-9, abs=1e-12)
    placebo_paths = [line for line in bottom.get_lines() if line.get_color() == "grey" and line.get_alpha()]
    by_unit = list(s.placebo_gaps.group_by("unit", maintain_order=True))
    assert len(placebo_paths) == len(by_unit) == 4
    for line, (_, p) in zip(placebo_paths, by_unit, strict=True):
        assert line.get_ydata() == pytest.approx(p["gap"].to_numpy(), rel=1e-12)
    assert SPACED in top.get_ylabel() and SPACED in bottom.get_ylabel() and OUTCOME not in top.get_ylabel()
    assert bottom.get_xlabel() == "week no"
    legend = fig.legends[0]
    assert {t.get_text() for t in legend.get_texts()} >= {"0 minus synthetic", "true effect"}
    assert f"{abs(s.effect):.3g}" in fig._suptitle.get_text() and f"{s.p_value:.2f}" in fig._suptitle.get_text()
    assert_readable(fig)
    assert_legends_clear_of_data(fig)


def test_synthetic_control_on_given_axes_keeps_its_legend_there(fitted: dict[str, Any]) -> None:
    fig, axes = plt.subplots(2, 1)
    s = fitted["synth"].summary()
    assert s.plot(axes, outcome_label="sales, dollars", time_label="week") is fig
    assert not fig.legends and axes[1].get_legend() is not None
    assert "sales, dollars" in axes[0].get_ylabel() and axes[1].get_xlabel() == "week"
