"""Gene and set names are data, never markup: a gene named like an ``<img onerror>`` payload
shown in the interactive network runs nothing, in a real browser (headless Chromium)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from ugrn_core.graph import Subnetwork
from ugrn_core.plot import network_html
from ugrn_ui.browser import CHROMIUM

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)", allow_module_level=True)

PAYLOAD = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"


def test_a_payload_gene_name_runs_nothing_in_the_network_view(tmp_path):
    G = nx.DiGraph()
    G.add_node(PAYLOAD, seed=True, degree=2)
    G.add_node(SCRIPT, seed=False, degree=1)
    G.add_node("TP53", seed=False, degree=1)
    G.add_edge(PAYLOAD, SCRIPT, score=0.9, predicted_sign=1, known=True)
    G.add_edge(PAYLOAD, "TP53", score=0.5, predicted_sign=-1, known=False)
    page = tmp_path / "net.html"
    page.write_text(network_html(Subnetwork(G, capped=False, method="vvp")))
    assert PAYLOAD not in page.read_text() and SCRIPT not in page.read_text()  # escaped in the file
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        tab = browser.new_page()
        tab.goto(page.as_uri())
        tab.wait_for_function("() => document.querySelector('canvas') !== null", timeout=30000)
        box = tab.locator("canvas").first.bounding_box()
        for fx in (0.3, 0.5, 0.7):  # hover across the graph so tooltips (titles) render
            tab.mouse.move(box["x"] + fx * box["width"], box["y"] + 0.5 * box["height"])
            tab.wait_for_timeout(300)
        assert tab.evaluate("() => window.__pwned === undefined")
        assert tab.locator("img[src=x]").count() == 0
        control = tmp_path / "control.html"  # the detector works: the same payload as raw markup does run
        control.write_text(f"<html><body>{PAYLOAD}</body></html>")
        tab.goto(control.as_uri())
        tab.wait_for_function("() => window.__pwned === 1", timeout=10000)
        browser.close()
