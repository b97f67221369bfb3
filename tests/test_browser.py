"""The real app in a real browser: `streamlit run app.py`, every page, headless Chromium.

Starts the server on 127.0.0.1 (fresh feature cache), opens the home page, waits for the
demo extraction, then walks every page through the sidebar navigation in one session,
asserting no exception/traceback and that the subnetwork's vis.js canvas exists.
Screenshots and the launch-to-first-subnetwork time go to ``test-artifacts/``.
Needs Debian ``chromium`` (apt) and the ``playwright`` Python package; never downloads a browser.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("UGRN_CHROMIUM", "/usr/bin/chromium")
# page -> text that only shows once the page's content has rendered
PAGES = {"Regulators": "Rows per gene", "Subnetwork": "Top edges per gene", "Benchmark": "Train and evaluate",
         "Pathways": "Top targets to test", "Export": "Download everything",
         "Perturbation axis": "Spearman ρ, score vs baseline"}

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(tmp_path_factory, **env_extra):
    port = _free_port()
    env = {**os.environ, "UGRN_CACHE_DIR": str(tmp_path_factory.mktemp("cache")), **env_extra}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port)]
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start in 120 s")
        yield url, t0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # stop the server (and its children) by PID
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def saved_server(tmp_path_factory):
    """The app started on an .h5ad that holds a result (what `ugrn app result.h5ad` does)."""
    import ugrn_core as ug
    from ugrn_core.extract import ExtractionParams

    adata = ug.datasets.demo()
    ug.tl.extract(adata, n_genes=20, methods=["pert", "vvp"], network="demo", params=ExtractionParams(context="background"),
                  genes=[f"TF{i:02d}" for i in range(1, 16)], progress=False, cache=False)
    path = tmp_path_factory.mktemp("saved") / "with_result.h5ad"
    adata.write_h5ad(path)
    yield from _serve(tmp_path_factory, UGRN_OPEN=str(path))


def _assert_clean(page, name: str) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, f"{name}: exception element shown"
    body = page.inner_text("body")
    assert "Traceback" not in body, f"{name}: traceback text shown"


def _settled(page) -> None:
    page.wait_for_selector("h1", timeout=180_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=300_000)


def test_every_page_in_headless_chromium(server):
    url, t_launch = server
    ARTIFACTS.mkdir(exist_ok=True)
    timings = {}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        ready, run = page.get_by_text("Features ready"), page.get_by_role("button", name="Run extraction")
        ready.or_(run).first.wait_for(timeout=300_000)
        if run.count():  # estimated over the auto-run limit on a slow, shared machine: click, as a user would
            run.click()
        ready.wait_for(timeout=600_000)
        _settled(page)
        timings["launch_to_home_ready_s"] = time.perf_counter() - t_launch
        _assert_clean(page, "home")
        page.screenshot(path=str(ARTIFACTS / "0_home.png"), full_page=True)
        for n, (name, marker) in enumerate(PAGES.items(), 1):
            page.locator("[data-testid='stSidebarNav'] a", has_text=name).first.click()
            page.wait_for_url(f"**/{name.replace(' ', '_')}", timeout=60_000)
            page.get_by_text(marker).first.wait_for(timeout=300_000)  # the axis page trains a VAE first
            _settled(page)
            if name == "Subnetwork":
                frame = page.frame_locator("iframe").first
                frame.locator("canvas").first.wait_for(timeout=60_000)
                timings["launch_to_first_subnetwork_s"] = time.perf_counter() - t_launch
                page.wait_for_timeout(1500)  # let the layout settle before the screenshot
            _assert_clean(page, name)
            page.screenshot(path=str(ARTIFACTS / f"{n}_{name.lower().replace(' ', '_')}.png"), full_page=True)
        browser.close()
    (ARTIFACTS / "browser_timings.json").write_text(json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=2))
    print("browser timings:", timings)


def test_a_saved_result_opens_in_the_browser_and_every_page_renders(saved_server):
    url, _ = saved_server
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_text("nothing is extracted again").wait_for(timeout=300_000)
        _settled(page)
        _assert_clean(page, "home (saved result)")
        for name, marker in PAGES.items():
            if name == "Perturbation axis":
                continue  # reads its own data, not the result
            page.locator("[data-testid='stSidebarNav'] a", has_text=name).first.click()
            page.wait_for_url(f"**/{name.replace(' ', '_')}", timeout=60_000)
            page.get_by_text(marker).first.wait_for(timeout=300_000)
            _settled(page)
            if name == "Subnetwork":
                page.frame_locator("iframe").first.locator("canvas").first.wait_for(timeout=60_000)
            _assert_clean(page, f"{name} (saved result)")
        browser.close()
