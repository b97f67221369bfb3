"""Regenerate the README's screenshots from the real app in headless Chromium.

    python assets/make_screenshots.py            # writes assets/screenshots/*.png

The same walk as the browser test (``ugrn_ui/browser.py``): the demo on the default model,
every page in turn, one full-page PNG each. Needs Debian's chromium and the playwright
Python package (requirements-dev.txt); a fresh feature cache, so it takes a few minutes.
Page icons are emoji: ``apt-get install fonts-noto-color-emoji`` or they show as boxes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ugrn_ui.browser import CHROMIUM, PAGES, open_home, problems, serve_app, visit

OUT = Path(__file__).resolve().parent / "screenshots"


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ugrn_shots_"))
    with serve_app(work / "streamlit.log", UGRN_CACHE_DIR=str(work / "cache")) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        open_home(page, url)
        shots = ["home"]
        page.screenshot(path=str(OUT / "0_home.png"), full_page=False)
        for n, name in enumerate(PAGES, 1):
            visit(page, name)
            if problems(page):
                print(f"{name}: {problems(page)}", file=sys.stderr)
                return 1
            page.screenshot(path=str(OUT / f"{n}_{name.lower().replace(' ', '_')}.png"), full_page=False)
            shots.append(name)
        browser.close()
    print(f"wrote {len(shots)} screenshots to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
