"""Many users at once: N headless-Chromium sessions against one UGRN Explorer server.

Each session opens the demo with its own settings (panel size and virtual-cell context, so
some sessions share a configuration and some do not), waits for its extraction, then walks
every page. Measured: completions, per-page time (p50 / p95 over sessions), errors (an
exception element or a traceback on any page), the server's peak resident memory, and the
feature chunks on disk (chunks are computed once per content key: a second session asking
for the same features waits on the chunk's lock and reads it).

    python bench/load_test.py --sessions 1 4 8            # writes bench/results/load_test.md
    python bench/load_test.py --sessions 2 --pages Regulators,Subnetwork

Needs Debian's chromium and playwright (requirements-dev.txt). Sessions run in threads,
each with its own Playwright and browser; the server is `streamlit run app.py` with a fresh
feature cache, its in-process stores at their default bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ugrn_ui.browser import CHROMIUM, PAGES, features_ready, problems, serve_app, settled, visit  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# (panel genes, context): eight sessions cover four configurations twice
CONFIGS = [(100, "cells"), (80, "background"), (60, "cells"), (100, "background")]


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (the Streamlit server and anything it spawned)."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    out = []
    try:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            out += [int(child), *_children(int(child))]
    except OSError:
        pass
    return out


def choose(page, n_genes: int, context: str) -> None:
    """Set the sidebar's panel size (slider, 10 per arrow key from 100) and context as a user would."""
    if context != "cells":
        page.get_by_text("One background value").first.click()  # the sidebar's *Virtual cells* choice
        settled(page)
    steps = (100 - n_genes) // 10
    if steps:
        thumb = page.get_by_role("slider", name="Most variable genes")
        thumb.focus()
        for _ in range(steps):
            thumb.press("ArrowLeft")
        page.wait_for_timeout(500)
        settled(page)


def session(url: str, n_genes: int, context: str, pages: list[str], out: dict) -> None:
    from playwright.sync_api import sync_playwright

    out.update(config=f"{n_genes} genes, {context}", times={}, errors=[], completed=False)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(url)
            settled(page)
            choose(page, n_genes, context)
            features_ready(page, asked_s=600, done_s=900)  # after the settings change; slower under load
            out["times"]["Home (extraction)"] = time.perf_counter() - t0
            out["errors"] += [f"Home: {e}" for e in problems(page)]
            for name in pages:
                t1 = time.perf_counter()
                visit(page, name)
                out["times"][name] = time.perf_counter() - t1
                out["errors"] += [f"{name}: {e}" for e in problems(page)]
            browser.close()
        out["completed"] = True
    except Exception as exc:  # a session that fails is a result, not a crash of the test
        out["errors"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def run(n: int, pages: list[str]) -> dict:
    cache = tempfile.mkdtemp(prefix="ugrn_load_cache_")
    log = Path(tempfile.mkdtemp()) / "streamlit.log"
    with serve_app(log, UGRN_CACHE_DIR=cache) as (url, _):
        pid = _server_pid(url)
        peak, stop = [rss_mb(pid)], threading.Event()

        def watch():
            while not stop.is_set():
                peak.append(rss_mb(pid))
                time.sleep(0.5)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        results = [{} for _ in range(n)]
        threads = [threading.Thread(target=session, args=(url, *CONFIGS[i % len(CONFIGS)], pages, results[i]))
                   for i in range(n)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
            time.sleep(1.0)  # users do not arrive in the same millisecond
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        stop.set()
        watcher.join()
    chunks = len(list(Path(cache).glob("*/*.npz")))
    return {"n": n, "wall_s": wall, "peak_rss_mb": max(peak), "start_rss_mb": peak[0], "sessions": results,
            "cache_chunks": chunks, "configs": len({r.get("config") for r in results})}


def _server_pid(url: str) -> int:
    """The pid of the process listening on the URL's port (the Streamlit server)."""
    port = int(url.rsplit(":", 1)[1])
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # LISTEN
            inode = fields[9]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return int(proc.name)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on port {port}")


def table(runs: list[dict], pages: list[str]) -> str:
    lines = ["| sessions | completed | errors | wall s | server RSS start → peak (MB) | distinct configs | feature chunks on disk |"
             " " + " | ".join(f"{p} p50 / p95 s" for p in ["Home (extraction)", *pages]) + " |",
             "|" + "---|" * (7 + 1 + len(pages))]
    for r in runs:
        done = sum(s.get("completed", False) for s in r["sessions"])
        errors = sum(len(s.get("errors", [])) for s in r["sessions"])
        cells = []
        for p in ["Home (extraction)", *pages]:
            t = [s["times"][p] for s in r["sessions"] if p in s.get("times", {})]
            cells.append(f"{np.percentile(t, 50):.1f} / {np.percentile(t, 95):.1f}" if t else "—")
        lines.append(f"| {r['n']} | {done} of {r['n']} | {errors} | {r['wall_s']:.0f} | {r['start_rss_mb']:.0f} → "
                     f"{r['peak_rss_mb']:.0f} | {r['configs']} | {r['cache_chunks']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, nargs="+", default=[8])
    ap.add_argument("--pages", default=",".join(PAGES), help="pages each session opens after the home page")
    ap.add_argument("--out", default=str(RESULTS / "load_test.md"))
    a = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: apt-get install chromium")
        return 1
    pages = [p for p in a.pages.split(",") if p]
    runs = []
    for n in a.sessions:
        print(f"--- {n} session(s)", flush=True)
        r = run(n, pages)
        for s in r["sessions"]:
            print(f"  {s.get('config')}: completed={s.get('completed')} errors={s.get('errors')} "
                  + ", ".join(f"{k} {v:.1f}s" for k, v in s.get("times", {}).items()), flush=True)
        runs.append(r)
        print(table([r], pages), flush=True)
    text = table(runs, pages)
    Path(a.out).write_text(
        "# Load test: concurrent browser sessions on one server\n\n"
        f"`python bench/load_test.py --sessions {' '.join(map(str, a.sessions))}` ({time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} CPU cores). Each session: the demo with its own panel size and context "
        f"({', '.join(f'{g} genes {c}' for g, c in CONFIGS)}, in turn), extraction on the home page, then "
        f"every page ({', '.join(pages)}). Times are per session, from its browser's first request.\n\n"
        + text + "\n")
    Path(a.out).with_suffix(".json").write_text(json.dumps(runs, indent=1, default=str))
    print(f"Wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
