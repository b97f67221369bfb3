"""The real app in a real browser: `streamlit run app.py`, every page, headless Chromium.

Starts the server on 127.0.0.1 (fresh feature cache), opens the home page, waits for the
demo extraction, then walks every page through the sidebar in one session, asserting no
exception/traceback and that the subnetwork's vis.js canvas exists. A second server opens
a saved result (a folder and an .h5ad, as `ugrn app PATH` does). Screenshots and the
launch-to-first-subnetwork time go to ``test-artifacts/``. The walk lives in
``ugrn_ui/browser.py`` (the README's screenshots come from the same walk).
Needs Debian ``chromium`` (apt) and the ``playwright`` Python package; never downloads a browser.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ugrn_ui.browser import CHROMIUM, PAGES, open_home, problems, serve_app, settled, visit

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_app(tmp_path_factory.mktemp("log") / "streamlit.log", UGRN_CACHE_DIR=str(tmp_path_factory.mktemp("cache"))) as s:
        yield s


@pytest.fixture(scope="module")
def saved_results(tmp_path_factory):
    """A notebook's result, saved as a folder and inside an .h5ad."""
    import ugrn_core as ug
    from ugrn_core.extract import ExtractionParams

    adata = ug.datasets.demo()
    grn = ug.tl.extract(adata, n_genes=20, methods=["pert", "vvp"], network="demo", params=ExtractionParams(context="background"),
                        genes=[f"TF{i:02d}" for i in range(1, 16)], progress=False, cache=False)
    folder = tmp_path_factory.mktemp("saved")
    adata.write_h5ad(folder / "with_result.h5ad")
    grn.save(folder / "grn")
    return folder


@pytest.fixture(scope="module", params=["with_result.h5ad", "grn"])
def saved_server(request, saved_results, tmp_path_factory):
    """The app started on a saved result (what `ugrn app PATH` does)."""
    with serve_app(tmp_path_factory.mktemp("log") / "streamlit.log", UGRN_CACHE_DIR=str(tmp_path_factory.mktemp("cache")),
                   UGRN_OPEN=str(saved_results / request.param)) as s:
        yield s


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])


def test_every_page_in_headless_chromium(server):
    url, t_launch = server
    ARTIFACTS.mkdir(exist_ok=True)
    timings = {}
    with playwright.sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_home(page, url)
        timings["launch_to_home_ready_s"] = time.perf_counter() - t_launch
        assert not problems(page), "home"
        nav = [t.split("\n")[-1] for t in page.locator("[data-testid='stSidebar'] a").all_inner_texts()]  # after the icon
        assert nav[:2] == ["Home", "Regulators"] and "app" not in nav, nav  # the home page has a name
        page.screenshot(path=str(ARTIFACTS / "0_home.png"), full_page=True)
        for n, name in enumerate(PAGES, 1):
            visit(page, name)
            if name == "Subnetwork":
                timings["launch_to_first_subnetwork_s"] = time.perf_counter() - t_launch
            assert not problems(page), name
            page.screenshot(path=str(ARTIFACTS / f"{n}_{name.lower().replace(' ', '_')}.png"), full_page=True)
        browser.close()
    (ARTIFACTS / "browser_timings.json").write_text(json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=2))
    print("browser timings:", timings)


def test_a_saved_result_opens_in_the_browser_and_every_page_renders(saved_server):
    url, _ = saved_server
    with playwright.sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_text("nothing is extracted again").wait_for(timeout=300_000)
        settled(page)
        assert not problems(page), "home (saved result)"
        for name in PAGES:
            if name in ("Perturbation axis", "Compare groups"):
                continue  # these read the data itself, not the result
            visit(page, name)
            assert not problems(page), f"{name} (saved result)"
        browser.close()
