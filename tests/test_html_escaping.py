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


FORMULA = '=HYPERLINK("http://example.invalid","click")'


@pytest.fixture(scope="module")
def payload_result(tmp_path_factory):
    """A saved result whose panel holds genes named like a script payload and a spreadsheet
    formula (a model checkpoint whose vocabulary names them, and data with those genes)."""
    import json
    import shutil

    import ugrn_core as ug
    from ugrn_core.extract import ExtractionParams
    from ugrn_core.models.builtin import BUILTIN_DIRS
    from ugrn_core.models.foundation import load_model

    base = tmp_path_factory.mktemp("payload")
    ckpt = base / "model"
    shutil.copytree(BUILTIN_DIRS["demo"], ckpt)
    rename = {"TF01": PAYLOAD, "TF02": FORMULA}
    vocab = json.loads((ckpt / "vocab.json").read_text())
    (ckpt / "vocab.json").write_text(json.dumps({rename.get(g, g): i for g, i in vocab.items()}))
    adata = ug.datasets.demo()
    adata.var_names = [rename.get(g, g) for g in adata.var_names]
    grn = ug.tl.extract(adata, model=load_model(ckpt, device="cpu"), n_genes=20, genes=list(rename.values()),
                        methods=["pert", "vvp"], params=ExtractionParams(context="background"), progress=False,
                        cache=False)
    assert PAYLOAD in grn.panel and FORMULA in grn.panel
    grn.save(base / "grn")
    return base


def test_the_app_shows_payload_genes_as_text_and_exports_formulas_as_text(payload_result, tmp_path):
    """The whole app in Chromium on that result: the network view with the payload gene runs
    nothing, and the spreadsheet download writes the formula-named gene as text."""
    import csv

    from ugrn_ui.browser import serve_app, settled, visit

    with serve_app(tmp_path / "streamlit.log", UGRN_CACHE_DIR=str(tmp_path / "cache"),
                   UGRN_OPEN=str(payload_result / "grn")) as (url, _), playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto(url)
        tab.get_by_text("nothing is extracted again").wait_for(timeout=300_000)
        settled(tab)
        visit(tab, "Subnetwork")
        seeds = tab.get_by_role("combobox", name="Genes to start from")
        seeds.click()
        seeds.fill("img")
        tab.keyboard.press("Enter")
        tab.keyboard.press("Escape")
        tab.wait_for_timeout(1000)
        settled(tab)
        frame = tab.frame_locator("iframe").first
        frame.locator("canvas").first.wait_for(timeout=60_000)
        tab.wait_for_timeout(1500)
        assert tab.get_by_text(PAYLOAD).count() >= 1  # the payload gene is chosen and shown, as text
        for f in tab.frames:
            assert f.evaluate("() => window.__pwned === undefined")
            assert f.locator("img[src=x]").count() == 0
        visit(tab, "Export")
        with tab.expect_download() as download:
            tab.get_by_role("button", name="edges_all_methods.csv").click()
        path = tmp_path / "edges.csv"
        download.value.save_as(path)
        rows = list(csv.DictReader(path.open()))
        genes = {r["source"] for r in rows} | {r["target"] for r in rows}
        assert "'" + FORMULA in genes and FORMULA not in genes  # written as text, not as a formula
        assert not [g for g in genes if g.startswith(("=", "+", "-", "@"))]
        browser.close()
