"""The built website (`make site`, in paper/build/site) served by `python -m http.server`, in a real browser.

The index and every tutorial page load with no console error and no request to another host, the search finds
"synthetic control", and every internal link and fetched file (href, src) of every page resolves, anchors included.
"""

from __future__ import annotations

import html.parser
import importlib.util
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("NEWRETAIL_SITE", ROOT / "paper" / "build" / "site"))

pytestmark = pytest.mark.skipif(
    not (SITE / "index.html").is_file() and os.environ.get("CI") != "true",
    reason=f"no site in {SITE}: run `make paper site` first",
)


def tutorial_pages() -> list[str]:
    return sorted(p.relative_to(SITE).as_posix() for p in (SITE / "tutorials").glob("*.html"))


def _website_build() -> Any:
    """website/build.py, loaded from its file."""
    spec = importlib.util.spec_from_file_location("newretail_website_build", ROOT / "website" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _external_fetches(site: Path) -> list[str]:
    """website/build.py's check."""
    return _website_build().external_fetches(site)  # type: ignore[no-any-return]


def test_each_tutorial_page_shows_every_figure_of_its_executed_notebook() -> None:
    """No browser needed: the <img> figures of each built tutorial page against the image outputs of the notebook
    `make paper` executed (a figure drawn in a cell the site drops would be missing)."""
    build = SITE.parent
    executed = sorted((build / "notebooks").glob("*.ipynb"))
    assert executed, f"no executed notebooks in {build / 'notebooks'}"
    assert _website_build().missing_figures(build, SITE) == []
    shown = {p.stem: p.read_text().count('src="data:image/png') for p in (SITE / "tutorials").glob("*.html")}
    assert all(shown[p.stem] > 0 for p in executed if p.stem[:2] in {"01", "02", "03", "04", "05", "07"}), shown


def test_the_html_loads_nothing_from_other_hosts() -> None:
    assert (SITE / "index.html").is_file(), f"no site in {SITE}"
    assert _external_fetches(SITE) == []


def test_the_outside_host_check_sees_a_cdn_script(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.example.org/x.js"></script><a href="https://x.org">x</a>'
    )
    (tmp_path / "b.css").write_text("@font-face { src: url('//fonts.example.org/f.woff') }")
    assert _external_fetches(tmp_path) == ["a.html: https://cdn.example.org/x.js", "b.css: //fonts.example.org/f.woff"]


def _pages() -> list[str]:
    return ["index.html", *tutorial_pages()] if SITE.is_dir() else ["index.html"]


# MathJax 2 (HTML-CSS output) probes web-font support with a font at about:blank, which Chromium reports as a CORS
# error; no request leaves the machine. Only these two messages, only on a page where the probe happened, pass.
MATHJAX_PROBE = ("Access to font at 'about:blank'", "console: Failed to load resource: net::ERR_FAILED")


def _errors(page: Any) -> list[str]:
    errors = page.log.errors
    if any(MATHJAX_PROBE[0] in e for e in errors):
        errors = [e for e in errors if MATHJAX_PROBE[0] not in e and e != MATHJAX_PROBE[1]]
    return errors


@pytest.mark.parametrize("path", _pages())
def test_page_loads_without_console_errors(path: str, site_server: str, page: Any) -> None:
    page.goto(f"{site_server}/{path}", wait_until="networkidle")
    assert page.locator("article h1, .md-content h1").count() >= 1, f"{path}: no heading rendered"
    assert _errors(page) == [], f"{path}: {page.log.errors}"
    assert page.log.outside == [], f"{path} fetched from other hosts: {page.log.outside}"


def test_the_site_lists_every_tutorial() -> None:
    names = {Path(p).stem for p in tutorial_pages()}
    assert names == {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}


def test_search_finds_synthetic_control(site_server: str, page: Any) -> None:
    page.goto(f"{site_server}/index.html", wait_until="networkidle")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    box = page.locator("input.md-search__input")
    results = page.locator(".md-search-result__item")
    # the search index loads in a web worker; typing before it is ready shows nothing, so type again until it is
    for _ in range(30):
        box.fill("")
        box.press_sequentially("synthetic control")
        try:
            results.first.wait_for(timeout=1_000)
            break
        except Exception:
            continue
    assert results.count() >= 1, "no search results for 'synthetic control'"
    assert "synthetic control" in page.locator(".md-search-result").inner_text().lower()
    assert _errors(page) == []


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)
            if key in ("href", "src") and value and not (tag == "link" and ("preconnect", None) in attrs):
                self.urls.append(value)


def test_every_internal_link_resolves(site_server: str) -> None:
    """Crawl from the index over the http.server: every same-site href/src answers 200, every #anchor exists."""
    pages: dict[str, _Links] = {}
    todo, seen, broken = [f"{site_server}/index.html"], set(), []
    anchors: list[tuple[str, str, str]] = []
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body = response.read()
                kind = response.headers.get_content_type()
        except OSError as exc:
            broken.append(f"{url}: {exc}")
            continue
        if kind != "text/html":
            continue
        parser = _Links()
        parser.feed(body.decode("utf-8", errors="replace"))
        pages[url] = parser
        for ref in parser.urls:
            if re.match(r"^[a-z][a-z0-9+.-]*:", ref) and not ref.startswith(site_server):
                continue  # mailto:, data:, links out (a reader's click, never fetched by the page)
            absolute, _, fragment = urllib.parse.urljoin(url, ref).partition("#")
            absolute = absolute.split("?", 1)[0]
            if fragment:
                anchors.append((url, absolute, urllib.parse.unquote(fragment)))
            todo.append(absolute)
    for source, target, fragment in anchors:
        if target in pages and fragment not in pages[target].ids:
            broken.append(f"{source}: #{fragment} not in {target}")
    assert len(pages) > 10, f"the crawl found only {len(pages)} pages"
    assert broken == [], "\n".join(broken[:30])
