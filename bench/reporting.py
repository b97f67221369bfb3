"""What the Markdown-writing benchmarks share: where the shared data lives, and how a report
is written (to its file, and printed)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("UGRN_SHARED_DATA", ROOT.parent / "shared" / "data"))
KANG = SHARED / "datasets" / "kang2018_ifnb_liger_subsample" / "kang2018_ifnb_subsample_counts.h5ad"
RESULTS = ROOT / "bench" / "results"


def write_report(lines: list[str], out: str | Path) -> int:
    """Join, write and print a Markdown report; 0 for ``sys.exit``."""
    text = "\n".join(lines) + "\n"
    Path(out).write_text(text)
    print(text)
    return 0


def kang_missing() -> bool:
    if KANG.exists():
        return False
    print(f"skip: {KANG} not present")
    return True
