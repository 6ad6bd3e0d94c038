"""Build the website: ``python website/build.py [--build paper/build] [--out paper/build/site]``.

Stages the sources (``website/stage.py``: the executed notebooks, docs, API pages, claims table and paper), writes
the MkDocs configuration (``website/mkdocs.yml`` plus the navigation), builds with MkDocs Material and
mkdocs-jupyter without executing anything, copies MathJax from the pinned ``jupyter-server-mathjax`` package (so
that the site needs nothing from outside the machine), and refuses a result that loads a script, style sheet, font
or frame from another host, or a tutorial page showing another number of figures than its executed notebook.
Prints the build time and the site's size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stage

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "website"
# an attribute that makes the browser fetch something: a script, style sheet, font, frame, image or object
FETCHED = re.compile(
    r"<(?:script|link|iframe|img|object|embed|source|audio|video)\b[^>]*?\b(?:src|href|data)\s*=\s*[\"']([^\"']*)",
    re.I,
)


def external_fetches(site: Path) -> list[str]:
    """Every ``file: url`` where a page or style sheet of ``site`` makes the browser fetch from another host.

    Links (``<a href>``) are allowed: a reader may follow them; nothing is loaded from them on its own.
    """
    found = []
    for page in sorted(site.rglob("*.html")):
        urls = FETCHED.findall(page.read_text(errors="replace"))
        found += [f"{page.relative_to(site)}: {u}" for u in urls if re.match(r"^(https?:)?//", u.strip(), re.I)]
    for css in sorted(site.rglob("*.css")):
        urls = re.findall(r"url\(\s*[\"']?((?:https?:)?//[^\"')]+)", css.read_text(errors="replace"), re.I)
        found += [f"{css.relative_to(site)}: {u}" for u in urls]
    return found


SHOWN_IMAGE = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']data:image/", re.I)


def missing_figures(build_dir: Path, site: Path) -> list[str]:
    """Every tutorial page that shows another number of figures than its executed notebook holds, with both counts.

    A figure drawn in a cell the site drops (tagged ``paper`` or ``remove-cell``) is missing from the page; the
    executed notebook's figures are its image outputs, those its widgets hold included.
    """
    found = []
    for executed in stage.executed_notebooks(build_dir):
        expected = stage.figure_count(json.loads(executed.read_text()))
        page = site / "tutorials" / f"{executed.stem}.html"
        shown = len(SHOWN_IMAGE.findall(page.read_text(errors="replace"))) if page.is_file() else 0
        if shown != expected:
            found.append(f"tutorials/{page.name}: {shown} figures, its executed notebook {expected}")
    return found


def _copy_mathjax(dest: Path) -> None:
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(static, dest, ignore=shutil.ignore_patterns("localization", "*.md", "LICENSE"))
    shutil.copy2(static / "LICENSE", dest / "LICENSE")
    (dest / "config" / "local").mkdir(exist_ok=True)
    shutil.copy2(HERE / "assets" / "mathjax-local.js", dest / "config" / "local" / "newretail.js")


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build(build_dir: Path, out: Path) -> float:
    work = build_dir / "site-src"
    src = work / "src"
    start = time.perf_counter()
    nav = stage.stage(build_dir, src, "mkdocs")
    shutil.copytree(HERE / "assets", src / "assets")
    config = yaml.safe_load((HERE / "mkdocs.yml").read_text())
    config["docs_dir"] = "src"
    config["site_dir"] = str(out.resolve())
    config["theme"]["custom_dir"] = str(HERE / "overrides")
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "mkdocstrings" in plugin:
            plugin["mkdocstrings"]["handlers"]["python"]["paths"] = [str(ROOT)]
        if isinstance(plugin, dict) and "mkdocs-jupyter" in plugin:
            plugin["mkdocs-jupyter"]["cache_dir"] = str(work / ".cache")
    config["nav"] = [{"Home": "index.md"}] + [
        {section: [{page["title"]: page["path"]} for page in pages]} for section, pages in nav.items()
    ]
    (work / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "-f", str(work / "mkdocs.yml")], check=True, env=env
    )
    _copy_mathjax(out / "mathjax")
    elapsed = time.perf_counter() - start
    bad = external_fetches(out)
    if bad:
        raise stage.StageError("the site loads from other hosts:\n  " + "\n  ".join(bad[:20]))
    lost = missing_figures(build_dir, out)
    if lost:
        raise stage.StageError("tutorial pages do not show every figure of their notebook:\n  " + "\n  ".join(lost))
    pages = len(list(out.rglob("*.html")))
    print(f"website: {pages} pages in {out} ({_size(out) / 1e6:.1f} MB) built in {elapsed:.0f} s")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "paper" / "build")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        build(args.build, args.out or args.build / "site")
    except stage.StageError as exc:
        print(f"website: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
