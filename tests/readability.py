"""Shared checks that a figure reads at notebook width: every text at least 10 pt and in words (no snake_case
identifier, no dotted field path), nothing cut off, no two tick labels of an axis overlapping, a one-line takeaway
title; and, for the figures that need them, legends clear of the data and bars inside their axes.

Imported by the figure tests (``from readability import assert_readable``): pytest puts ``tests/`` on the path.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

SNAKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
DOTTED = re.compile(r"\b[a-z]\w*(?:\.[a-z]\w*){2,}\b")  # behaviour.banners.novelty_decay; not "e.g." nor "0.5"
MIN_POINTS = 10


def _hidden_ticks(fig: Any) -> set[int]:
    """Labels of ticks outside the view: matplotlib keeps them but does not draw them."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            outside = [t for t in axis.get_major_ticks() if not low - 1e-9 <= t.get_loc() <= high + 1e-9]
            hidden |= {id(t.label1) for t in outside} | {id(t.label2) for t in outside}
    return hidden


def assert_readable(fig: Any) -> None:
    """Every text of ``fig`` at least 10 pt, in words (no snake_case identifier or dotted field path), inside the
    figure, and no two tick labels of an axis overlapping; the figure carries a one-line takeaway (a title)."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox.expanded(1.01, 1.01)
    hidden = _hidden_ticks(fig)
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in hidden]
    for t in texts:
        assert t.get_fontsize() >= MIN_POINTS, f"{t.get_text()!r} is {t.get_fontsize():.1f} pt"
        assert not SNAKE.search(t.get_text()), f"{t.get_text()!r} is an identifier, not words"
        assert not DOTTED.search(t.get_text()), f"{t.get_text()!r} is a dotted field path, not words"
        box = t.get_window_extent(renderer)
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), f"{t.get_text()!r} is cut off"
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            shown = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text() and id(t) not in hidden]
            boxes = [t.get_window_extent(renderer) for t in shown]
            for a, b in itertools.pairwise(boxes):
                assert not a.overlaps(b), f"tick labels overlap: {[t.get_text() for t in axis.get_ticklabels()]}"
    titles = [fig._suptitle] if fig._suptitle is not None else [ax.title for ax in fig.axes]
    assert any(t is not None and t.get_text().strip() for t in titles), "no takeaway title"


def _data_points(ax: Any) -> list[tuple[float, float]]:
    """Display coordinates of the axes' plotted points: line vertices, scatter offsets, bar corners."""
    points: list[tuple[float, float]] = []
    for line in ax.get_lines():
        xy = line.get_xydata()
        points += [tuple(p) for p in ax.transData.transform(xy[~(xy != xy).any(axis=1)])]
    for coll in ax.collections:
        offsets = coll.get_offsets()
        if len(offsets):
            points += [tuple(p) for p in coll.get_offset_transform().transform(offsets)]
    for patch in ax.patches:
        box = patch.get_window_extent()
        points += [(box.x0, box.y0), (box.x1, box.y1), (box.x0, box.y1), (box.x1, box.y0)]
    return points


def assert_legends_clear_of_data(fig: Any) -> None:
    """No legend covers a plotted point: an axes' legend holds none of its points; a figure legend overlaps no
    axes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent(renderer)
        inside = [p for p in _data_points(ax) if box.contains(*p)]
        assert not inside, f"the legend covers {len(inside)} plotted points"
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), "a figure legend overlaps an axes"


def assert_inside_axes(ax: Any) -> None:
    """Every bar of ``ax`` and every text placed in its data lies within the axes (nothing runs off it)."""
    fig = ax.get_figure()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer).expanded(1.001, 1.001)
    for patch in ax.patches:
        box = patch.get_window_extent(renderer)
        assert frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1), "a bar runs off the axes"
    for text in ax.texts:
        if text.get_visible() and text.get_text().strip():
            box = text.get_window_extent(renderer)
            inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
            assert inside, f"{text.get_text().strip()!r} runs off the axes"
