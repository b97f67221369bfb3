"""The real dashboard in a real browser: start `streamlit run app.py`, walk its pages.

Shared by the browser test (tests/test_browser.py) and the screenshot script
(assets/make_screenshots.py), so the README's pictures come from the same walk the tests
check. Needs Debian's chromium and the playwright Python package (never
``playwright install``); both are development tools, imported only by the callers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("UGRN_CHROMIUM", "/usr/bin/chromium")
# sidebar label -> text that only shows once the page's content has rendered
PAGES = {"Regulators": "Rows per gene", "Subnetwork": "Top edges per gene", "Benchmark": "Train and evaluate",
         "Pathways": "Top targets to test", "Export": "Download everything",
         "Perturbation axis": "Spearman ρ, score vs baseline", "Compare groups": "Regulators that changed most"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(log_path: Path, **env_extra):
    """``(url, t_launch)`` of the app served on 127.0.0.1; stopped (by process group) on exit."""
    port = free_port()
    env = {**os.environ, **env_extra}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port)]
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
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
                raise RuntimeError(f"streamlit did not start in 120 s; see {log_path}")
            yield url, t0
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def settled(page) -> None:
    """Wait until a page has drawn and Streamlit's running indicator is gone."""
    page.wait_for_selector("h1", timeout=180_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=300_000)


def problems(page) -> list[str]:
    """What a user should never see: an exception element or a traceback."""
    out = []
    if page.locator("[data-testid='stException']").count():
        out.append("exception element shown")
    if "Traceback" in page.inner_text("body"):
        out.append("traceback text shown")
    return out


def open_home(page, url: str) -> None:
    """The home page with the demo's features ready (clicking *Run extraction* if asked, as a user would)."""
    page.goto(url)
    features_ready(page)


def features_ready(page, asked_s: float = 300, done_s: float = 600) -> None:
    """Wait for the home page's *Features ready*, clicking *Run extraction* if it asks first."""
    ready, run = page.get_by_text("Features ready"), page.get_by_role("button", name="Run extraction")
    ready.or_(run).first.wait_for(timeout=asked_s * 1000)
    if run.count():
        run.click()
    ready.wait_for(timeout=done_s * 1000)
    settled(page)


def visit(page, name: str) -> None:
    """Go to a page through the sidebar and wait for its content (and, on Subnetwork, the graph)."""
    page.locator("[data-testid='stSidebar'] a", has_text=name).first.click()
    page.wait_for_url(f"**/{name.replace(' ', '_')}", timeout=60_000)
    ready = page.get_by_text(PAGES[name]).first
    run = page.get_by_role("button", name="Extract both groups")  # Compare groups, when the two networks cost minutes
    ready.or_(run).first.wait_for(timeout=300_000)  # the axis page trains a VAE first
    if run.count():
        run.click()
    ready.wait_for(timeout=600_000)
    settled(page)
    if name == "Subnetwork":
        page.frame_locator("iframe").first.locator("canvas").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)  # let the layout settle


__all__ = ["PAGES", "CHROMIUM", "serve_app", "settled", "problems", "open_home", "features_ready", "visit"]
