"""Stage the website's sources from what `make paper` built: ``python website/stage.py --out DIR``.

Nothing is executed here: the tutorials are the notebooks as `make paper` ran them (``paper/build/notebooks``). The
staged tree is

- ``index.md``: the landing page (``website/index.md``) and the list of tutorials;
- ``tutorials/*.ipynb``: the executed notebooks in file-name order, paper bookkeeping dropped (cells tagged ``paper``,
  ``remove-cell`` and papermill's ``injected-parameters``), so no tool has to know those tags;
- ``docs/*.md``: every Markdown file of ``docs/`` (a new one joins by being there), links between docs and to the
  notebooks rewritten to the site's pages;
- ``api/*.md``: one page per ``[[page]]`` of ``docs/api/api.toml``, the public names of the modules listed there;
- ``claims-table.md`` from ``claims.json``, ``paper.md`` with ``paper.pdf`` beside it;
- ``../nav.json``: the sections and pages in order (beside the staged tree, not published).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import pkgutil
import re
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DROP_TAGS = {"paper", "remove-cell", "injected-parameters"}
DOC_ORDER = ["claims", "stress_tests", "data_dictionary", "glossary", "references"]  # others follow by name
LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")


class StageError(RuntimeError):
    """The site cannot be staged; the message names the missing file and the command that makes it."""


def _title_of_markdown(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def _title_of_notebook(nb: dict[str, Any], fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            return _title_of_markdown("".join(cell["source"]), fallback)
    return fallback


def _rewrite_links(text: str, where: str, docs: set[str], tutorials: set[str]) -> str:
    """Point relative links at the staged pages: ``docs/X.md`` and ``notebooks/X.ipynb`` from anywhere in the repo.

    ``where`` is the staged folder of the page (``docs`` or ``tutorials``). A relative link to a repository file that
    is not on the site becomes plain text, so that every link on the site resolves.
    """

    def fix(m: re.Match[str]) -> str:
        target, anchor = m.group(2), m.group(3) or ""
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
            return m.group(0)
        name = Path(target).name
        stem, suffix = Path(name).stem, Path(name).suffix
        if suffix == ".md" and stem in docs:
            # MkDocs turns a Markdown page's links to X.md into X.html; mkdocs-jupyter leaves a notebook's alone, so a
            # tutorial links to the built page itself
            page = f"{stem}.md" if where == "docs" else f"../docs/{stem}.html"
        elif suffix == ".ipynb" and stem in tutorials:
            page = f"../tutorials/{stem}.ipynb" if where == "docs" else f"{stem}.ipynb"
        else:
            return m.group(0)[:1] + "\x00" + target + anchor  # marker: unlinked below
        return f"{m.group(1)}{page}{anchor}{m.group(4)}"

    out = LINK.sub(fix, text)
    # "[text](\x00target" → "text": drop the link, keep its words
    return re.sub(r"\[([^\]]*)\]\x00[^)]*\)", r"\1", out)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "*Interactive: the sliders of this figure move in JupyterLab (`make lab`); shown here as `make paper` drew it.*"
)


def _widget_outputs(model_id: str, state: dict[str, Any], seen: set[str]) -> list[dict[str, Any]]:
    """The outputs that Output widgets under ``model_id`` held when the notebook was saved (depth first)."""
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id]
    outputs = list(model.get("state", {}).get("outputs", [])) if model.get("model_name") == "OutputModel" else []
    for child in model.get("state", {}).get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            outputs += _widget_outputs(child.removeprefix("IPY_MODEL_"), state, seen)
    return outputs


def _static_widgets(nb: dict[str, Any]) -> None:
    """Replace widget views by what their Output widgets last showed, and drop the widget state: a static page then
    loads no widget JavaScript (which would come from a CDN) and still shows the figure."""
    widgets = nb.get("metadata", {}).pop("widgets", {})
    state = widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb["cells"]:
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(out)
                continue
            shown = _widget_outputs(view.get("model_id", ""), state, set())
            outputs.append({"output_type": "display_data", "metadata": {}, "data": {"text/markdown": WIDGET_NOTE}})
            outputs += [o for o in shown if o.get("output_type") in ("display_data", "execute_result", "stream")]
        if "outputs" in cell:
            cell["outputs"] = outputs


IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")  # outputs a page shows as an <img>


def figure_count(nb: dict[str, Any]) -> int:
    """The figures an executed notebook shows: image outputs of every cell, hidden ones and those a widget holds
    included (the site must show each of them)."""
    nb = copy.deepcopy(nb)
    _static_widgets(nb)
    return sum(
        1
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
        if any(kind in out.get("data", {}) for kind in IMAGE_TYPES)
    )


def _stage_notebook(src: Path, dst: Path, docs: set[str], tutorials: set[str]) -> str:
    nb = json.loads(src.read_text())
    _static_widgets(nb)
    cells = []
    for cell in nb["cells"]:
        if DROP_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        if cell["cell_type"] == "markdown":
            cell["source"] = _rewrite_links("".join(cell["source"]), "tutorials", docs, tutorials)
        cells.append(cell)
    nb["cells"] = cells
    dst.write_text(json.dumps(nb, indent=1))
    return _title_of_notebook(nb, src.stem)


def public_members(module_name: str) -> list[tuple[str, list[str]]]:
    """(module, names) to document for one entry of api.toml: its ``__all__``, then for a package each public
    submodule's ``__all__`` names that the package does not already export (so nothing is shown twice)."""
    module = importlib.import_module(module_name)
    names = list(getattr(module, "__all__", []))
    seen = {id(getattr(module, n, None)) for n in names}
    out = [(module_name, names)]
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, prefix=module_name + "."):
            if any(part.startswith("_") for part in info.name.split(".")):
                continue
            sub = importlib.import_module(info.name)
            new = [n for n in getattr(sub, "__all__", []) if id(getattr(sub, n, None)) not in seen]
            seen.update(id(getattr(sub, n, None)) for n in new)
            if new:
                out.append((info.name, new))
    return out


def _api_page(page: dict[str, Any], tool: str) -> str:
    lines = [f"# {page['title']}", ""]
    for entry in page["modules"]:
        for module, names in public_members(entry):
            doc = (importlib.import_module(module).__doc__ or "").strip()
            lines += [f"## `{module}`", ""]
            if tool == "mkdocs":
                lines += [f"::: {module}", "    options:", "      show_root_heading: false",
                          f"      members: {json.dumps(names)}", ""]
            else:
                lines += ["```{eval-rst}", f".. automodule:: {module}",
                          f"   :members: {', '.join(names)}" if names else "   :no-members:", "```", ""]
            if not doc and not names:
                lines += ["(no public names yet)", ""]
    return "\n".join(lines)


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and (abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3)):
        return f"{value:.3g}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _claims_page(build: Path) -> str:
    file = build / "claims.json"
    if not file.is_file():
        raise StageError(f"{file} is missing: run `make paper` first")
    data = json.loads(file.read_text())
    lines = ["# Claims table", "",
             "Every figure of the report and the press, evaluated on the dataset `make paper` generated: the target, "
             "the value reproduced on the synthetic day, its 95% interval and whether it holds. Generated from "
             "`paper/build/claims.json`; the definitions are in [Claims](docs/claims.md).", ""]
    if not data.get("available", True):
        return "\n".join([*lines, f"Not available: {data.get('reason', '')}", ""])
    lines += ["| id | statement | target | reproduced | 95% interval | unit | holds |", "|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        unit = r.get("unit", "")
        ci = f"{_fmt(r.get('ci_low'), unit)} – {_fmt(r.get('ci_high'), unit)}"
        statement = str(r.get("statement", "")).replace("|", "\\|")
        lines.append(f"| `{r['id']}` | {statement} | {_fmt(r.get('target'), unit)} | "
                     f"{_fmt(r.get('reproduced'), unit)} | {ci} | {unit} | {'yes' if r.get('holds') else 'no'} |")
    return "\n".join([*lines, ""])


def executed_notebooks(build: Path) -> list[Path]:
    """The notebooks `make paper` executed into ``build``, in file-name order (a failed run's copy left out)."""
    found = sorted((build / "notebooks").glob("*.ipynb"))
    return [p for p in found if not p.name.startswith(".") and not p.stem.endswith(".failed")]


def stage(build: Path, out: Path, tool: str) -> dict[str, Any]:
    notebooks = executed_notebooks(build)
    if not notebooks:
        raise StageError(f"no executed notebooks in {build / 'notebooks'}: run `make paper` first")
    if not (build / "paper.pdf").is_file():
        raise StageError(f"{build / 'paper.pdf'} is missing: run `make paper` first")
    if out.exists():
        shutil.rmtree(out)
    for sub in ("tutorials", "docs", "api"):
        (out / sub).mkdir(parents=True)
    doc_files = sorted((ROOT / "docs").glob("*.md"), key=lambda p: (
        DOC_ORDER.index(p.stem) if p.stem in DOC_ORDER else len(DOC_ORDER), p.stem))
    docs = {p.stem for p in doc_files}
    tutorials = {p.stem for p in notebooks}
    nav: dict[str, Any] = {"Tutorials": [], "Documentation": [], "API reference": [], "Paper": []}
    for nb in notebooks:
        title = _stage_notebook(nb, out / "tutorials" / nb.name, docs, tutorials)
        nav["Tutorials"].append({"title": title, "path": f"tutorials/{nb.name}"})
    for md in doc_files:
        text = _rewrite_links(md.read_text(), "docs", docs, tutorials)
        (out / "docs" / md.name).write_text(text)
        nav["Documentation"].append({"title": _title_of_markdown(text, md.stem), "path": f"docs/{md.name}"})
    api = tomllib.loads((ROOT / "docs" / "api" / "api.toml").read_text())
    for page in api["page"]:
        (out / "api" / f"{page['slug']}.md").write_text(_api_page(page, tool))
        nav["API reference"].append({"title": page["title"], "path": f"api/{page['slug']}.md"})
    (out / "claims-table.md").write_text(_claims_page(build))
    shutil.copy2(build / "paper.pdf", out / "paper.pdf")
    (out / "paper.md").write_text(
        "# The paper\n\nThe paper `make paper` typeset from these notebooks' results: "
        "[download paper.pdf](paper.pdf).\n\n"
        '<object data="paper.pdf" type="application/pdf" width="100%" height="900px"></object>\n')
    nav["Paper"] = [{"title": "The paper (PDF)", "path": "paper.md"},
                    {"title": "Claims table", "path": "claims-table.md"}]
    index = (ROOT / "website" / "index.md").read_text()
    index += "\n## Tutorials\n\n" + "".join(f"1. [{p['title']}]({p['path']})\n" for p in nav["Tutorials"])
    (out / "index.md").write_text(index)
    (out.parent / "nav.json").write_text(json.dumps(nav, indent=1))
    return nav


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "paper" / "build")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tool", choices=["mkdocs", "sphinx"], default="mkdocs")
    args = parser.parse_args(argv)
    try:
        stage(args.build, args.out, args.tool)
    except StageError as exc:
        print(f"website: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
