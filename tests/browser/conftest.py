"""Real-browser tests: Debian's chromium driven by Playwright (no browser download), run by `make browser-test`.

They are collected only when ``NEWRETAIL_BROWSER_TESTS=1`` (set by `make browser-test`), so `make test` keeps its
budget. A failing test leaves a screenshot of its page in ``paper/build/screenshots/<test>.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from newretail.tables import Dataset

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "paper" / "build" / "screenshots"
NOTEBOOKS = ROOT / "notebooks"
SMALL_SCALE, SMALL_SEED = 2e-5, 7  # as tests/conftest.py
NAMES = [p.stem for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
TOKEN = "newretail-browser-test"
RUN_ALL_LIMIT_S = float(os.environ.get("NEWRETAIL_LAB_LIMIT_S", "600"))  # per notebook, at the test scale
CHROMIUM = Path(os.environ.get("NEWRETAIL_CHROMIUM", "/usr/bin/chromium"))

if os.environ.get("NEWRETAIL_BROWSER_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, timeout: float, proc: subprocess.Popen[Any] | None = None) -> None:
    """Return when ``url`` answers (any status below 500); fail when ``proc`` exits or ``timeout`` s pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before {url} answered (log above)")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session: ``/usr/bin/chromium`` (``.ci/setup-browser`` installs it)."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `bash .ci/setup-browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class PageLog:
    """What a page reported: console errors, uncaught exceptions, failed responses, requests to other hosts."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.outside: list[str] = []

    def attach(self, page: Any, local_host: str = "127.0.0.1") -> None:
        def on_console(msg: Any) -> None:
            if msg.type == "error":
                self.errors.append(f"console: {msg.text}")

        def on_request(request: Any) -> None:
            url = request.url
            if re.match(r"^(https?|wss?)://", url) and not re.match(rf"^(https?|wss?)://{local_host}[:/]", url):
                self.outside.append(url)

        def on_response(response: Any) -> None:
            if response.status >= 400:
                self.errors.append(f"HTTP {response.status}: {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("request", on_request)
        page.on("response", on_response)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (own context) whose console errors and requests to other hosts are in ``page.log``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.log = PageLog()  # type: ignore[attr-defined]
    page.log.attach(page)  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test's page (the ``page`` fixture, or ``item.browser_page`` set by the test) to a screenshot."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page") or getattr(item, "browser_page", None)
    if report.when == "call" and report.failed and page is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)
        try:
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
            report.sections.append(("screenshot", str(SCREENSHOTS / f"{name}.png")))
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"screenshot of {name} failed: {exc}", file=sys.stderr)
    return report


def jupyter_bin() -> str:
    here = Path(sys.executable).parent / "jupyter"
    return str(here) if here.is_file() else (shutil.which("jupyter") or "jupyter")


@pytest.fixture(scope="session")
def small_dataset() -> Dataset:
    """The test scale's dataset, generated once into data/synthetic/ and reused by later runs (datasets.load)."""
    from newretail.datasets import load

    return load("singles_day_2017", scale=SMALL_SCALE, seed=SMALL_SEED, root=ROOT / "data" / "synthetic", workers=2)


# ---- the website

SITE = Path(os.environ.get("NEWRETAIL_SITE", ROOT / "paper" / "build" / "site"))


@pytest.fixture(scope="session")
def site_server() -> Iterator[str]:
    """`python -m http.server` serving the built site (NEWRETAIL_SITE, default paper/build/site)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(SITE)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=30, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


# ---- JupyterLab: the notebooks, parameterized to the test scale, served by `jupyter lab` and run from its Run menu

# the kernel of the notebook in the main area, read through the app JupyterLab exposes (expose_app_in_browser)
KERNEL_STATUS = "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status ?? 'none'"
SUMMARY = """() => {
  const nb = window.jupyterapp.shell.currentWidget;
  const cells = [...nb.content.model.cells].filter(c => c.type === 'code');
  const errors = [], unexecuted = [];
  cells.forEach((c, i) => {
    for (const o of c.outputs.toJSON()) {
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
    if (c.executionCount === null && c.sharedModel.getSource().trim()) unexecuted.push(i);
  });
  const busy = [...document.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));
  return {errors, unexecuted, busy, n: cells.length};
}"""


@pytest.fixture(scope="session")
def lab_folder(small_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Parameterized copies of every notebook (dataset, scale, seed, build_dir filled in), none executed."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    folder = tmp_path_factory.mktemp("lab")
    for name in NAMES:
        nb = load_notebook_node(str(NOTEBOOKS / f"{name}.ipynb"))
        params = {
            "dataset": str(small_dataset.path),
            "scale": small_dataset.scale,
            "seed": small_dataset.seed,
            "build_dir": str(folder / "build" / name),
        }
        nbformat.write(parameterize_notebook(nb, params, kernel_name="python3"), folder / f"{name}.ipynb")
    return folder


@pytest.fixture(scope="session")
def lab(lab_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A headless `jupyter lab` serving ``lab_folder``; yields its base URL (the token is TOKEN)."""
    config = tmp_path_factory.mktemp("jupyter-config")
    (config / "jupyter_lab_config.py").write_text(
        "c.LabApp.news_url = None\n"
        "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n"
        "c.LabApp.expose_app_in_browser = True\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTERLAB_WORKSPACES_DIR": str(config / "ws"),
        "JUPYTER_RUNTIME_DIR": str(config / "runtime"),
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    log = (config / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            jupyter_bin(),
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={lab_folder}",
            "--ServerApp.port_retries=0",
            "--allow-root",
        ],
        cwd=lab_folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/status?token={TOKEN}", timeout=120, proc=proc)
        yield base
    except Exception:
        print((config / "lab.log").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        stop(proc)
        log.close()


@dataclass
class Run:
    page: Any
    seconds: float
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def run_in_lab(browser: Any, lab: str) -> Iterator[Any]:
    """``run_in_lab(name, node)``: open the notebook, Run All from the Run menu, wait until no cell is queued and
    the kernel is idle; once per notebook (notebook 06's page is reused by the slider test). ``node.browser_page``
    is set first, so that a timeout still leaves a screenshot."""
    runs: dict[str, Run] = {}
    contexts = []

    def run(name: str, node: Any) -> Run:
        if name in runs:
            node.browser_page = runs[name].page
            return runs[name]
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.log = PageLog()  # type: ignore[attr-defined]
        page.log.attach(page)  # type: ignore[attr-defined]
        node.browser_page = page
        runs[name] = Run(page, float("nan"), {})
        # a workspace of its own, reset: only this notebook open, whatever the earlier pages had open
        page.goto(f"{lab}/lab/workspaces/{name}/tree/{name}.ipynb?reset&token={TOKEN}")
        page.wait_for_function("() => window.jupyterapp?.shell?.currentWidget?.content?.model", timeout=120_000)
        select = page.locator(".jp-Dialog button", has_text=re.compile(r"^Select$"))
        try:  # JupyterLab sometimes asks which kernel, though the notebook names python3: take the preferred one
            select.wait_for(timeout=5_000)
            select.click()
        except Exception:
            pass
        page.wait_for_function(f"() => ({KERNEL_STATUS})() === 'idle'", timeout=120_000)
        start = time.monotonic()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        page.wait_for_function(
            f"() => {{ const s = ({SUMMARY})(); return s.n > 0 && !s.busy && ({KERNEL_STATUS})() === 'idle'; }}",
            timeout=RUN_ALL_LIMIT_S * 1000,
            polling=1000,
        )
        runs[name] = Run(page, time.monotonic() - start, page.evaluate(SUMMARY))
        print(f"{name}: Run All in JupyterLab took {runs[name].seconds:.1f} s", file=sys.stderr)
        return runs[name]

    yield run
    for context in contexts:
        context.close()
