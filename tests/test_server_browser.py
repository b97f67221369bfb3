"""Server mode in a real browser: paths out of the data roots are refused without showing
anything of the file; what is under the roots is offered as choices.

Starts `streamlit run app.py` with UGRN_SERVER_ROOTS set to a small lab folder that holds a
dataset and a symlink out of it, and types the refused paths into the dataset box as a user
would. Needs Debian's chromium and playwright (skipped otherwise).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ugrn_ui.browser import CHROMIUM, problems, serve_app, settled

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)", allow_module_level=True)

SECRET = "TOP-SECRET-CONTENT-4711"


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    import ugrn_core as ug

    base = tmp_path_factory.mktemp("server")
    root = base / "lab"
    (root / "pbmc").mkdir(parents=True)
    ug.datasets.demo().write_h5ad(root / "pbmc" / "demo_copy.h5ad")
    private = base / "private"
    private.mkdir()
    (private / "notes.csv").write_text(f"gene,cell\n{SECRET},1\n")
    os.symlink(private / "notes.csv", root / "pbmc" / "link.csv")  # a symlink out of the root
    with serve_app(base / "streamlit.log", UGRN_CACHE_DIR=str(base / "cache"), UGRN_SERVER_ROOTS=str(root)) as (url, _):
        yield url, root


@pytest.fixture(scope="module")
def page(lab_server):
    url, _ = lab_server
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        settled(page)
        page.get_by_text("Path on this machine").first.click()
        settled(page)
        yield page
        browser.close()


def _type_path(page, text: str) -> None:
    box = page.get_by_label("…or a path under the data roots")
    box.fill(text)
    box.press("Enter")
    page.wait_for_timeout(500)
    settled(page)


@pytest.mark.parametrize("bad", ["/etc/passwd", "../../etc/passwd", "pbmc/link.csv"])
def test_paths_out_of_the_roots_are_refused_in_the_browser(lab_server, page, bad):
    _, root = lab_server
    _type_path(page, bad)
    alert = page.get_by_text("opens files only under its data roots").first
    alert.wait_for(timeout=30_000)
    shown = page.inner_text("body")
    assert str(root.resolve()) in alert.inner_text()
    assert "root:x:0" not in shown and SECRET not in shown and "notes" not in shown  # nothing of the file
    assert not problems(page)


def test_files_under_the_roots_are_offered_as_choices(page):
    box = page.locator("[data-testid='stSelectbox']", has_text="under").first
    box.get_by_role("combobox").click()
    option = page.get_by_role("option", name="pbmc/demo_copy.h5ad")
    option.wait_for(timeout=30_000)
    assert not page.get_by_role("option", name="pbmc/link.csv").count()  # the link out of the root is not offered
    page.keyboard.press("Escape")
