"""The notebooks read as lessons: stripped, ending with the versions cell, importing no generator, little
bookkeeping in the visible code and little code hidden (cells tagged paper or remove-cell hold at most a tenth of
the code lines and draw no figure), each lesson (01-05, 07) with its concepts, a written-out estimator and at least
three exercises; and the redrawn figures read in plain words (at least 10 pt, no identifiers, nothing cut off, no
overlapping ticks, a one-line takeaway). The result recording (``Outputs.result``) is checked against the objects.

Run as a script (``python tests/test_notebooks_lessons.py``) it prints each notebook's visible code lines by kind.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
from readability import assert_readable  # shared with the other figure tests (tests/readability.py)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[0-6]_*.ipynb"))
LESSON_NUMBERS = ("01", "02", "03", "04", "05", "07")
LESSONS = [nb for nb in sorted((ROOT / "notebooks").glob("0*.ipynb")) if nb.name[:2] in LESSON_NUMBERS]
PAPER_TAG = "paper"
BOOKKEEPING_LIMIT = 0.10


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    text = cell["source"]
    return text if isinstance(text, str) else "".join(text)


def tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _kind(node: ast.AST) -> str:
    """``recording`` (hands a number, table or figure to the paper), ``formatting`` (builds prose: f-strings,
    Markdown) or ``analysis``."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "out":
                return "recording"
            if isinstance(func, ast.Name) and func.id == "Outputs":
                return "recording"
    for sub in ast.walk(node):
        if isinstance(sub, ast.JoinedStr):
            return "formatting"
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Name) and func.id == "Markdown":
                return "formatting"
            if isinstance(func, ast.Attribute) and func.attr == "format" and isinstance(func.value, ast.Constant):
                return "formatting"
    return "analysis"


def line_kinds(code: str) -> dict[str, int]:
    """Non-blank, non-comment lines of a code cell, by the kind of the top-level statement they belong to."""
    counts = {"analysis": 0, "recording": 0, "formatting": 0}
    lines = code.splitlines()
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics: count as analysis
        counts["analysis"] = sum(1 for ln in lines if ln.strip() and not ln.strip().startswith("#"))
        return counts
    for stmt in tree.body:
        kind = _kind(stmt)
        for ln in lines[stmt.lineno - 1 : stmt.end_lineno]:
            if ln.strip() and not ln.strip().startswith("#"):
                counts[kind] += 1
    return counts


def visible_counts(path: Path) -> dict[str, int]:
    """Line counts over the visible code cells (those not tagged ``paper``)."""
    total = {"analysis": 0, "recording": 0, "formatting": 0}
    for cell in cells(path):
        if cell["cell_type"] != "code" or PAPER_TAG in tags(cell):
            continue
        for kind, n in line_kinds(source(cell)).items():
            total[kind] += n
    return total


def bookkeeping_share(counts: dict[str, int]) -> float:
    lines = sum(counts.values())
    return (counts["recording"] + counts["formatting"]) / lines if lines else 0.0


def test_counter_tells_kinds_apart():
    code = 'x = df.mean()\nout.number("k", x, unit="")\ntext = f"{x:.1f}"\ndisplay(Markdown("**b**"))\n'
    assert line_kinds(code) == {"analysis": 1, "recording": 1, "formatting": 2}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_bookkeeping_is_at_most_a_tenth_of_visible_code(path: Path):
    counts = visible_counts(path)
    assert bookkeeping_share(counts) <= BOOKKEEPING_LIMIT, f"{path.name}: {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped_and_ends_with_versions(path: Path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name}: not stripped"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert source(code[-1]).strip() == "versions();", f"{path.name}: the last cell is not versions();"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_imports_the_generator(path: Path):
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert not re.search(r"(from|import)\s+newretail\.generate\b", source(cell)), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_paper_cells_are_collapsed(path: Path):
    for cell in cells(path):
        if PAPER_TAG in tags(cell):
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_take_changes_and_recalibrate(path: Path):
    params = next(c for c in cells(path) if "parameters" in tags(c))
    assert "changes = {}" in source(params) and "recalibrate = True" in source(params), path.name


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_concepts_estimator_exercises_and_links(path: Path):
    text = "\n".join(source(c) for c in cells(path))
    number = path.name[:2]
    assert "## Concepts" in text, f"{path.name}: no concepts section"
    by_hand = [source(c) for c in cells(path) if c["cell_type"] == "code" and "_by_hand" in source(c)]
    assert any("assert" in s for s in by_hand), f"{path.name}: no estimator by hand checked against the package"
    exercises = set(re.findall(rf'check\("({number}\.\d+)"', text))
    assert len(exercises) >= 3, f"{path.name}: exercises {sorted(exercises)}"
    assert "docs/glossary.md" in text and "docs/references.md" in text, path.name


def test_versions_reads_installed_metadata():
    from importlib.metadata import version

    from newretail.notebook import versions

    found = versions()
    assert found["newretail"] == version("newretail") and found["polars"] == version("polars")
    assert "\n" not in repr(found) and repr(found).startswith("python ")


def test_in_words_reads_like_prose():
    from newretail.notebook import in_words

    assert in_words(24.9e9, "USD") == "24.9 billion USD"
    assert in_words(0.951, "share") == "95.1%"
    assert in_words(1.98, "ratio") == "1.98" and in_words(4e8, "count") == "400 million"
    assert in_words(float("nan")) == "-" and in_words(None) == "-"


def test_a_result_is_recorded_from_its_object(tmp_path: Path):
    """out.result reads value, interval and unit off each kind of result the notebooks hand it; the written number
    equals the object's own fields, and the printed text is the paper formatter's."""
    import json as json_module
    from types import SimpleNamespace

    import numpy as np

    from newretail.methods.effects import Effect
    from newretail.methods.resampling import Estimate
    from newretail.notebook import Outputs, side_by_side
    from newretail.recorded import ResultError, read_result
    from newretail.report.fmt import format_interval

    claim = SimpleNamespace(id="gmv_usd", reproduced=2.4e10, ci_low=2.3e10, ci_high=2.5e10, unit="USD", note="n")
    claim.target, claim.holds = 2.5e10, True
    fitted = SimpleNamespace(effect_=0.07, ci_=(0.01, 0.13))
    assert read_result(claim) == (2.4e10, 2.3e10, 2.5e10, "USD")
    assert read_result(fitted) == (0.07, 0.01, 0.13, "")
    assert read_result(Estimate(1.7, 1.6, 1.8)) == (1.7, 1.6, 1.8, "")
    assert read_result(Effect(0.03, 0.004, 0.02, 0.04, 100)) == (0.03, 0.02, 0.04, "")
    assert read_result({"share": 0.9, "ci_low": 0.8, "ci_high": 0.95}) == (0.9, 0.8, 0.95, "")
    assert read_result(np.float64(2.5)) == (2.5, None, None, "") and read_result("visits")[0] == "visits"
    with pytest.raises(ResultError, match="'thing'"):
        read_result(object(), name="thing")
    out = Outputs(tmp_path, notebook="99_test", seed=1)
    out.claims(claim)
    out.result("effect", fitted, unit="log", note="DiD")
    rows = [{"label": "USD 1 billion", "minute": 7.0}, {"label": "all of 2016", "minute": 1177.0}]
    out.rows("gmv_minutes_to", rows, key="label", value="minute", ci=None, unit="min")
    numbers = json_module.loads((tmp_path / "results" / "99_test.json").read_text())["numbers"]
    assert numbers["gmv_usd"]["value"] == 2.4e10 and numbers["gmv_usd"]["unit"] == "USD"
    assert (numbers["effect"]["ci_low"], numbers["effect"]["ci_high"], numbers["effect"]["note"]) == (0.01, 0.13, "DiD")
    assert set(numbers) == {"gmv_usd", "effect", "gmv_minutes_to_usd_1_billion", "gmv_minutes_to_all_of_2016"}
    with pytest.raises(ValueError, match="'label'"):
        out.rows("x", [*rows, {"label": "USD-1 billion", "minute": 1.0}], key="label", value="minute", ci=None)
    shown = side_by_side({"GMV": claim, "effect": (fitted, "log")})
    assert shown["estimate"].to_list() == [format_interval(2.4e10, 2.3e10, 2.5e10, "USD")[0], "0.0700 log"]
    assert shown["target"].to_list() == ["25.0 billion USD", ""] and shown["holds"].to_list() == ["yes", ""]


def test_open_day_refuses_bad_arguments(small_dataset):
    from newretail.notebook import NotebookError, open_day, variant_day

    with pytest.raises(NotebookError, match="notebook"):
        open_day(notebook="", dataset=small_dataset.path)
    with pytest.raises(NotebookError, match="changes"):
        open_day(notebook="x", dataset=small_dataset.path, changes={"behaviour.banners.novelty_decay": 0.3})
    with pytest.raises(NotebookError, match="changes"):
        variant_day({}, scale=2e-5, seed=1)
    with pytest.raises(NotebookError, match=r"targets\.gmv_usd"):
        variant_day({"targets.gmv_usd": 1e9}, scale=2e-5, seed=1, recalibrate=False)
    ds, out = open_day(notebook="x", dataset=small_dataset.path)
    assert ds.path == small_dataset.path and out.notebook == "x" and out.build_dir is None


# ------------------------------------------------------------------------------------------------ hidden cells
HIDDEN_TAGS = {"paper", "remove-cell"}
HIDDEN_LIMIT = 0.10
HIDDEN_NOTEBOOKS = [p for p in sorted((ROOT / "notebooks").glob("0*.ipynb")) if p.name[:2] in LESSON_NUMBERS]


def hidden_share(path: Path) -> float:
    """Share of a notebook's non-blank code lines in cells hidden from the reader (tagged ``paper`` or
    ``remove-cell``): the count of /work/shared/hooks/before-stop, over every code cell."""
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    hidden = [c for c in code if HIDDEN_TAGS & set(tags(c))]

    def lines(cs: list[dict]) -> int:
        return sum(1 for c in cs for ln in source(c).splitlines() if ln.strip())

    return lines(hidden) / max(lines(code), 1)


@pytest.mark.parametrize("path", HIDDEN_NOTEBOOKS, ids=lambda p: p.stem)
def test_hidden_cells_hold_at_most_a_tenth_of_the_code(path: Path):
    assert hidden_share(path) <= HIDDEN_LIMIT, f"{path.name}: {hidden_share(path):.0%} of code lines hidden"


def _draws(code: str) -> bool:
    """Whether a cell's code makes a figure (a plot call, a figure, plt.show); saving one with out.figure does not."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name.startswith("plot") or name in {"show", "subplots", "figure", "barplot", "imshow", "scatter"}:
                return True
    return False


@pytest.mark.parametrize("path", HIDDEN_NOTEBOOKS, ids=lambda p: p.stem)
def test_hidden_cells_draw_no_figure_and_end_without_a_value(path: Path):
    for cell in cells(path):
        if cell["cell_type"] != "code" or not HIDDEN_TAGS & set(tags(cell)):
            continue
        code = source(cell)
        assert not _draws(code), f"{path.name}: a hidden cell draws a figure:\n{code}"
        last = ast.parse(code).body[-1] if code.strip() else None
        # a value on the last line would be displayed (out.figure returns the figure: shown twice); the recording
        # calls out.result, out.claims, out.rows and out.table return nothing
        if isinstance(last, ast.Expr):
            call = last.value
            quiet = (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id == "out"
                and call.func.attr in {"result", "claims", "rows", "table"}
            )
            assert quiet, f"{path.name}: a hidden cell ends with a value it would display:\n{code}"


# -------------------------------------------------------------------------------------------------- figures
@pytest.fixture(scope="module")
def lesson_figures(small_dataset) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import polars as pl

    from newretail.analyses import banners, chatbot, gmv
    from newretail.analyses import personalization as pz
    from newretail.analyses.personalization.shapley import ShapExplanation

    frame = pz.visit_frame(small_dataset).head(1500)
    features = frame.select(*pz.FEATURES, "personalized")
    rng = np.random.default_rng(0)  # the plot's layout and palette, not the model, are under test
    values = rng.normal(size=(features.height, features.width))
    values[:, features.columns.index("cart_items")] += features["cart_items"].cast(pl.Float64).to_numpy() / 5
    shap = ShapExplanation(values, 0.0, values.sum(1), np.zeros((features.height, features.width + 1)), features)
    eff = chatbot.efficiency_ratios(small_dataset, agent_cost_usd_per_hour=4.0, bot_instance_cost_usd_per_hour=1.0)
    return {
        "growth decomposition": gmv.decompose_growth(small_dataset).plot(),
        "CTR by placement": banners.placement_adjusted_ratio(small_dataset).plot(),
        "efficiency definitions": eff.plot(),
        "SHAP dependence": shap.plot_dependence(("cart_items", "past_orders_90d", "personalized")),
    }


@pytest.mark.parametrize(
    "name", ["growth decomposition", "CTR by placement", "efficiency definitions", "SHAP dependence"]
)
def test_redrawn_figures_read_in_plain_words(name: str, lesson_figures: dict):
    assert_readable(lesson_figures[name])


def test_shap_dependence_puts_a_categorical_on_a_categorical_palette(lesson_figures: dict):
    fig = lesson_figures["SHAP dependence"]
    # cart items: coloured by some feature; the categorical colour features have a legend, never a colour bar
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            assert len(legend.get_texts()) >= 2
    strip = next(ax for ax in fig.axes if ax.get_xlabel() == "personalized pages")
    assert [t.get_text() for t in strip.get_xticklabels()] == ["no", "yes"]


def test_the_readability_check_catches_small_text_and_identifiers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title("a takeaway")
    ax.set_xlabel("cost_per_resolved_with_fallback", fontsize=12)
    with pytest.raises(AssertionError, match="identifier"):
        assert_readable(fig)
    ax.set_xlabel("cost per resolved inquiry", fontsize=7)
    with pytest.raises(AssertionError, match="pt"):
        assert_readable(fig)
    plt.close(fig)


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or NOTEBOOKS
    print(f"{'notebook':<32} {'analysis':>8} {'recording':>9} {'formatting':>10} {'bookkeeping':>11}")
    for nb_path in paths:
        c = visible_counts(nb_path)
        print(
            f"{nb_path.stem:<32} {c['analysis']:>8} {c['recording']:>9} {c['formatting']:>10} "
            f"{bookkeeping_share(c):>10.0%}"
        )
