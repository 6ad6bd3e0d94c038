"""The paper build: stand-in notebooks on a small dataset -> results.json -> paper.pdf, checked against the data.

The real notebooks are tested by their owners; here two cheap stand-ins record a figure, numbers with intervals
and a table each, so the build can be checked end to end: results.json against what the notebooks computed (and
the truth the generator planted), the PDF text against results.json, determinism, failures, and the Makefile's
dependency chain.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import polars as pl
import pytest
from conftest import sigmas

from newretail.generate import generate
from newretail.report import PaperError, build, collect, run_notebook, typeset
from newretail.report.fmt import format_interval, format_value
from newretail.tables import Dataset

ROOT = Path(__file__).resolve().parents[1]
PARAMETERS = "dataset = None\nscale = 1e-4\nseed = 20171111\nbuild_dir = None\n"
SETUP = """\
import hashlib
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from newretail.tables import open_dataset
from newretail.notebook import Outputs

ds = open_dataset(dataset)
sha = hashlib.sha256((Path(dataset) / "manifest.json").read_bytes()).hexdigest()
out = Outputs(build_dir, notebook=NAME, seed=seed, dataset_sha256=sha)
"""
GMV = """\
# GMV: weighted sum over orders; users are sampled, so the variance is summed over users (store orders are exact)
per_user = (
    ds.scan("orders", weights=True)
    .group_by("channel", "user_id")
    .agg(g=(pl.col("gmv_usd") * pl.col("weight")).sum(), w=pl.col("weight").first())
    .collect()
)
total = float(per_user["g"].sum())
online = per_user.filter(pl.col("channel") == "online")
se = float(np.sqrt(((online["g"] ** 2) * (1 - 1 / online["w"])).sum()))
out.number("stub_gmv_usd", total, unit="USD", ci_low=total - 1.96 * se, ci_high=total + 1.96 * se, note="weighted")
out.number("stub_orders_sampled", int(per_user.height), unit="count")
hourly = (
    ds.scan("orders", weights=True)
    .with_columns(hour=(pl.col("ts_us") // 3_600_000_000 % 24))
    .group_by("hour").agg(gmv_usd=(pl.col("gmv_usd") * pl.col("weight")).sum()).sort("hour").collect()
)
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(hourly["hour"].to_numpy(), hourly["gmv_usd"].to_numpy() / 1e9)
ax.set_xlabel("hour"); ax.set_ylabel("GMV, billion USD")
out.figure(fig, "stub_gmv_by_hour", caption="Stand-in: GMV by hour of the day.")
out.table("stub_gmv_by_channel", per_user.group_by("channel").agg(pl.col("g").sum()).sort("channel").to_dicts())
"""
BANNERS = """\
ctr = (
    ds.scan("banner_impressions").group_by("creative_source")
    .agg(n=pl.len(), clicks=pl.col("clicked").sum()).sort("creative_source").collect()
)
p = dict(zip(ctr["creative_source"].to_list(), (ctr["clicks"] / ctr["n"]).to_list(), strict=True))
from newretail.analyses.banners import ctr_ratio_clustered
est = ctr_ratio_clustered(ds).estimate  # shopper x design clustered: impressions are not independent
out.result("stub_ctr_ratio", est, unit="ratio", note="two-way clustered, log scale")  # value and interval from est
out.number("stub_human_ctr", p["human"], unit="share")
out.number("stub_unseeded_draw", float(np.random.random()), note="global RNG: the runner seeds it from the seed")
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(["AI", "human"], [p["ai"], p["human"]])
ax.set_ylabel("CTR")
out.figure(fig, "stub_ctr_by_source", caption="Stand-in: click-through rate of AI and human creatives.")
"""
SHOWN = """\
import io
from IPython.display import Image, display

buffer = io.BytesIO()
fig.savefig(buffer, format="png")
display(Image(buffer.getvalue()))  # a figure shown in a cell whose code the site collapses (hide-input)
"""
HIDDEN = 'out.result("stub_human_ctr_hidden", p["human"], unit="share", note="recorded in a cell tagged paper")\n'


def write_notebook(path: Path, name: str, body: str, extra: tuple[tuple[str, str], ...] = ()) -> Path:
    """A notebook like the project's: a tagged parameters cell, a title, a setup cell, the body, and ``extra``
    cells (source, tag)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# Stand-in {name}\n\nA cheap notebook for the paper-build tests."),
        nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(f"NAME = {name!r}\n" + SETUP),
        nbformat.v4.new_code_cell(body),
        *(nbformat.v4.new_code_cell(code, metadata={"tags": [tag]}) for code, tag in extra),
    ]
    path.mkdir(parents=True, exist_ok=True)
    target = path / f"{name}.ipynb"
    nbformat.write(nb, target)
    return target


def write_broken(path: Path, name: str) -> Path:
    """A notebook that fails in its fourth cell, before importing anything heavy."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# Broken {name}"),
        nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("columns = ['creative_source', 'clicked']"),
        nbformat.v4.new_code_cell("raise ValueError(\"stand-in failure: the banner table has no column 'colour'\")"),
    ]
    path.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path / f"{name}.ipynb")
    return path / f"{name}.ipynb"


def stand_ins(folder: Path) -> list[Path]:
    return [
        write_notebook(folder, "01_stub_gmv", GMV),
        write_notebook(folder, "02_stub_banners", BANNERS, extra=((SHOWN, "hide-input"), (HIDDEN, "paper"))),
    ]


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(path).pages)
    return text.replace("\u2019", "'").replace("\u200b", "")  # typographic apostrophes, breakable names


def has_claims() -> bool:
    import importlib.util

    return importlib.util.find_spec("newretail.claims") is not None


@pytest.fixture(scope="module")
def built(small_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One paper from the stand-ins on the small dataset."""
    folder = tmp_path_factory.mktemp("paper")
    notebooks = stand_ins(folder / "notebooks")
    build(dataset=small_dataset.path, out=folder / "build", notebooks=notebooks)
    return folder / "build"


@pytest.mark.notebook
def test_results_equal_what_the_notebooks_computed(built: Path, small_dataset: Dataset) -> None:
    results = json.loads((built / "results.json").read_text())
    numbers = results["numbers"]
    # recompute the stand-ins' numbers here, from the data
    gmv = small_dataset.scan("orders", weights=True).select((pl.col("gmv_usd") * pl.col("weight")).sum()).collect()
    assert numbers["stub_gmv_usd"]["value"] == pytest.approx(gmv.item(), rel=1e-9)
    # ... and against the truth the generator planted: within 4.5 standard errors (read from each 95% interval) of
    # the calibrated expectation. The clustered CTR ratio's z had root mean square 1.00 over 60 seeds at this scale
    # (docs/statistical_tests.md): about 1 in 100,000. The stand-in's GMV interval (shoppers as independent draws),
    # computed as the notebook does over 60 seeds at this scale: z had rms 0.82 (largest 2.15): far below 1 in a
    # million. Two 95% `covers` here failed about 1 run in 10.
    expected = small_dataset.manifest["calibration"]["expected"]
    assert abs(sigmas(numbers["stub_gmv_usd"], expected["gmv_usd"])) < 4.5
    assert abs(sigmas(numbers["stub_ctr_ratio"], expected["ai_banner_ctr_ratio"])) < 4.5
    # provenance: every entry names its notebook and the seed; the dataset is pinned by its manifest hash
    for entry in [*numbers.values(), *results["figures"]]:
        assert entry["notebook"] in {"01_stub_gmv", "02_stub_banners"}
        assert entry["seed"] == small_dataset.seed
    manifest = hashlib.sha256((small_dataset.path / "manifest.json").read_bytes()).hexdigest()
    assert results["run"]["dataset_sha256"] == manifest
    # the printed text is the value, formatted
    assert (
        numbers["stub_gmv_usd"]["text"]
        == format_interval(
            numbers["stub_gmv_usd"]["value"],
            numbers["stub_gmv_usd"]["ci_low"],
            numbers["stub_gmv_usd"]["ci_high"],
            "USD",
        )[0]
    )
    # sections: the stand-ins land in the sections their names say; lock pins and the git commit are recorded
    assert {f["name"]: f["section"] for f in results["figures"]} == {
        "stub_gmv_by_hour": "gmv",
        "stub_ctr_by_source": "banners",
    }
    assert any(p["name"] == "polars" for p in results["versions"]["lock"])
    assert re.fullmatch(r"[0-9a-f]{40}|unknown.*", results["git"]["commit"])
    # outputs on disk: executed copies, HTML exports, figures as PDF and PNG
    for stem in ("01_stub_gmv", "02_stub_banners"):
        assert (built / "notebooks" / f"{stem}.ipynb").is_file()
        assert "<html" in (built / "html" / f"{stem}.html").read_text()[:2000].lower()
    for fig in results["figures"]:
        assert (built / fig["pdf"]).stat().st_size > 0 and (built / fig["png"]).stat().st_size > 0


@pytest.mark.notebook
def test_results_hold_the_claims_table(built: Path, small_dataset: Dataset) -> None:
    results = json.loads((built / "results.json").read_text())
    claims = results["claims"]
    assert has_claims() and claims["available"] is True
    from newretail.claims import evaluate  # type: ignore[import-not-found,unused-ignore]

    direct = evaluate(small_dataset).to_json()
    direct = json.loads(direct) if isinstance(direct, str) else direct
    assert [r["id"] for r in claims["rows"]] == [r["id"] for r in direct]
    for mine, theirs in zip(claims["rows"], direct, strict=True):
        for key in ("target", "reproduced", "ci_low", "ci_high", "holds"):
            assert (
                mine[key] == pytest.approx(theirs[key]) if isinstance(theirs[key], float) else mine[key] == theirs[key]
            )
        assert (
            mine["text_reproduced"]
            == format_interval(mine["reproduced"], mine["ci_low"], mine["ci_high"], mine["unit"] or "")[0]
        )
    assert claims["report_holds"] == sum(1 for r in direct if r["holds"] and r.get("kind", "report") == "report")


@pytest.mark.notebook
def test_pdf_shows_every_figure_number_and_claim(built: Path) -> None:
    results = json.loads((built / "results.json").read_text())
    text = pdf_text(built / "paper.pdf")
    for fig in results["figures"]:
        assert fig["name"] in text, f"figure {fig['name']} missing from the PDF"
        assert " ".join(fig["caption"].split()) in text
    compact = re.sub(r"[\s\u200b]", "", text)  # long names may break after their underscores
    for name, num in results["numbers"].items():
        assert name in compact
        assert num["text"] in text, f"{name}: {num['text']!r} not printed"
        if num["text_interval"]:
            assert num["text_interval"] in text
        # the printed digits are the value, to the printed precision
        if isinstance(num["value"], float) and num["unit"] not in ("share",):
            printed = float(re.sub(r"[^0-9.\-e]", "", num["text"].split()[0]))
            scale = (
                {"billion": 1e9, "million": 1e6, "trillion": 1e12}.get(num["text"].split()[1], 1.0)
                if " " in num["text"]
                else 1.0
            )
            assert printed * scale == pytest.approx(num["value"], rel=5e-3)
    for row in results["claims"]["rows"]:
        assert row["id"] in text and row["text_reproduced"] in text
    for table in results["tables"]:
        assert table["name"] in text
        for cell in table["cells"][0]:
            assert cell in text
    # the sections the issue asks for, in order
    headings = [
        "The report's figures",
        "The synthetic sales day and its assumptions",
        "Lu Ban's AI banners",
        "Stress tests and robustness",
        "Limitations",
        "How to reproduce",
        "References",
        "Package versions",
    ]
    positions = [text.find(h) for h in headings]
    assert all(p >= 0 for p in positions), [h for h, p in zip(headings, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    assert "Pending" in text  # no stress-test notebook among the stand-ins
    assert results["run"]["dataset_sha256"] in text and results["git"]["commit"] in text
    from pypdf import PdfReader

    reader = PdfReader(built / "paper.pdf")
    assert len(reader.pages) >= 4


@pytest.mark.notebook
def test_same_seed_same_results_other_seed_moves_within_intervals(
    built: Path, small_dataset: Dataset, tmp_path: Path
) -> None:
    # same seed: re-run the stand-ins (no claims, to keep it cheap) into a fresh folder
    again = tmp_path / "again"
    notebooks = stand_ins(tmp_path / "notebooks")
    for nb in notebooks:
        run_notebook(nb, dataset=small_dataset.path, out=again)
    shutil.copy(built / "claims.json", again / "claims.json")  # the claims are compared in their own test
    collect(dataset=small_dataset.path, out=again, notebooks=[p.stem for p in notebooks])
    first, second = (json.loads((d / "results.json").read_text()) for d in (built, again))
    assert first == second
    assert (built / "results.json").read_bytes() == (again / "results.json").read_bytes()
    for fig in first["figures"]:
        assert (built / fig["png"]).read_bytes() == (again / fig["png"]).read_bytes()
    # another seed (one stand-in, to keep it cheap): a different number, inside the first run's interval
    other = tmp_path / "seed8"
    generate("singles_day_2017", scale=small_dataset.scale, seed=8, out=other, workers=1)
    moved = tmp_path / "moved"
    run_notebook(notebooks[1], dataset=other, out=moved)
    collect(dataset=other, out=moved, notebooks=[notebooks[1].stem])
    third = json.loads((moved / "results.json").read_text())
    assert third["run"]["seed"] == 8 and all(f["seed"] == 8 for f in third["figures"])
    a, b = first["numbers"]["stub_ctr_ratio"], third["numbers"]["stub_ctr_ratio"]
    assert a["value"] != b["value"]
    # two seeds of one scenario: their difference within 4.5 standard errors of the difference (each read from its
    # 95% interval's width): at the clustered ratio's z rms of 1.00 (docs/statistical_tests.md) about 1 pair in
    # 100,000. The overlap of the two intervals it replaced (a miss of about 2.8 SE of the difference) failed 1 pair
    # in 200; demanding each value inside the other's interval, one pair in six
    se = [(x["ci_high"] - x["ci_low"]) / (2 * 1.959963984540054) for x in (a, b)]
    assert abs(a["value"] - b["value"]) < 4.5 * math.hypot(*se)
    assert third["claims"]["available"] is False  # no claims.json there: the paper says so instead of failing


@pytest.mark.notebook
def test_failing_notebook_stops_the_build_cleanly(built: Path, small_dataset: Dataset, tmp_path: Path) -> None:
    """A notebook that ran before now fails: one readable line, and nothing of it (or of the paper) is left."""
    out = tmp_path / "build"
    shutil.copytree(built, out)
    results = json.loads((out / "results.json").read_text())
    old_figures = [f for f in results["figures"] if f["notebook"] == "02_stub_banners"]
    assert old_figures and (out / "paper.pdf").is_file()
    broken = write_broken(tmp_path / "notebooks", "02_stub_banners")
    command = [sys.executable, "-m", "newretail.report", "run", str(broken), "--dataset", str(small_dataset.path)]
    done = subprocess.run([*command, "--out", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith("newretail report: error: notebook ")
    assert "02_stub_banners.ipynb" in message and "cell 4" in message
    assert "ValueError: stand-in failure" in message
    assert "Kernel is running over TCP" not in done.stderr
    assert not (out / "paper.pdf").exists() and not (out / "results.json").exists()
    assert not (out / "notebooks" / "02_stub_banners.ipynb").exists()  # make runs it again next time
    assert (out / "notebooks" / "02_stub_banners.failed.ipynb").is_file()  # with the traceback, for the author
    assert not (out / "results" / "02_stub_banners.json").exists()
    assert not any((out / f["png"]).exists() or (out / f["pdf"]).exists() for f in old_figures)
    assert (out / "results" / "01_stub_gmv.json").is_file()  # the other notebook's outputs stay
    with pytest.raises(PaperError, match=r"no executed copy"):
        collect(dataset=small_dataset.path, out=out, notebooks=["01_stub_gmv", "02_stub_banners"])


@pytest.mark.notebook
def test_site_shows_every_figure_of_each_executed_notebook(built: Path, tmp_path: Path) -> None:
    """`make site` on the stand-ins' build: each tutorial page holds as many <img> figures as its executed notebook
    has image outputs; the hide-input cell keeps its figure, the paper cell is dropped (its number still recorded)."""
    out = tmp_path / "build"
    shutil.copytree(built, out)
    site = tmp_path / "site"
    command = [sys.executable, str(ROOT / "website" / "build.py"), "--build", str(out), "--out", str(site)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for executed in sorted((out / "notebooks").glob("*.ipynb")):
        cells = json.loads(executed.read_text())["cells"]
        images = sum(1 for c in cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
        page = (site / "tutorials" / f"{executed.stem}.html").read_text()
        assert len(re.findall(r"<img\b[^>]*src=\"data:image/png", page)) == images, executed.stem
    page = (site / "tutorials" / "02_stub_banners.html").read_text()
    assert "celltag_hide-input" in page and "stub_human_ctr_hidden" not in page
    assert "stub_human_ctr_hidden" in json.loads((out / "results.json").read_text())["numbers"]


def test_site_build_refuses_a_page_that_lost_a_figure(tmp_path: Path) -> None:
    """A figure drawn in a cell the site drops (tagged paper) is counted in the notebook and missing on the page."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("newretail_website_build", ROOT / "website" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    png = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo="}}
    cells = [
        {"cell_type": "code", "metadata": {}, "source": "plot()", "outputs": [png], "execution_count": 1},
        {"cell_type": "code", "metadata": {"tags": ["paper"]}, "source": "plot()", "outputs": [png]},
    ]
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_x.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}}))
    (tmp_path / "site" / "tutorials").mkdir(parents=True)
    (tmp_path / "site" / "tutorials" / "01_x.html").write_text('<p><img alt="" src="data:image/png;base64,AA"></p>')
    assert module.missing_figures(tmp_path, tmp_path / "site") == [
        "tutorials/01_x.html: 1 figures, its executed notebook 2"
    ]
    (tmp_path / "site" / "tutorials" / "01_x.html").write_text('<img src="data:image/png;base64,AA">' * 2)
    assert module.missing_figures(tmp_path, tmp_path / "site") == []


def test_typeset_refuses_without_results(tmp_path: Path) -> None:
    with pytest.raises(PaperError, match=r"results\.json is missing"):
        typeset(out=tmp_path)


def test_number_formatting() -> None:
    assert format_value(25.0e9, "USD") == "25.0 billion USD"
    assert format_value(0.39, "share") == "39.0%"
    assert format_value(2.0, "ratio") == "2.00×"
    assert format_value(13) == "13"
    assert format_value(None) == "n/a"
    assert format_interval(2.5e10, 2.4999e10, 2.5001e10, "USD") == ("25.000 billion USD", "24.999–25.001 billion USD")
    assert format_interval(0.2, 0.19, 0.21, "share") == ("20.0%", "19.0–21.0%")


def test_make_runs_only_what_changed(built: Path, small_dataset: Dataset, tmp_path: Path) -> None:
    """``make -n paper`` after touching one notebook: that notebook, then collect and typeset; nothing else."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = tmp_path / "build"
    shutil.copytree(built, out)
    folder = tmp_path / "notebooks"
    notebooks = stand_ins(folder)
    for path in sorted(out.rglob("*")):  # outputs newer than their inputs, as after a real build
        path.touch()
    (out / "paper.pdf").touch()
    make = [
        "make",
        "-n",
        "paper",
        f"BUILD={out}",
        f"NOTEBOOK_DIR={folder}",
        f"DATA={small_dataset.path}",
        f"SCALE={small_dataset.scale:g}",
        f"SEED={small_dataset.seed}",
        "SOURCES=",
        "-o",
        f"{small_dataset.path}/manifest.json",
        "-o",
        ".venv/bin/.installed",
    ]
    quiet = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "newretail.report" not in quiet, quiet
    notebooks[1].touch()
    plan = subprocess.run(make, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    steps = [line for line in plan.splitlines() if "newretail.report" in line]
    assert len(steps) == 3, plan
    assert " run " in steps[0] and "02_stub_banners.ipynb" in steps[0]
    assert " collect " in steps[1] and " typeset " in steps[2]
    assert not any("01_stub_gmv.ipynb" in s and " run " in s for s in steps)
