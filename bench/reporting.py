"""What the Markdown-writing benchmarks share: where the shared data lives, and how a report
is written (to its file, and printed)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("UGRN_SHARED_DATA", ROOT.parent / "shared" / "data"))
KANG = SHARED / "datasets" / "kang2018_ifnb_liger_subsample" / "kang2018_ifnb_subsample_counts.h5ad"
RESULTS = ROOT / "bench" / "results"
_BEE = SHARED / "benchmark" / "beeline_genelink"
_NET = SHARED / "networks"
# The six real sets: name -> (expression, reference network, what it is). Ground truths:
# BEELINE's cell-type-specific ChIP-seq for its four sets; CollecTRI for the Kang PBMCs (no
# cell-type ChIP); Stone & Roy's ChIP-union x knock-down intersection for their mouse ESC set.
REAL_SETS = {
    **{name: (_BEE / "expression" / name / "TFs+500", _BEE / "specific_chip" / name / "TFs+500",
              f"BEELINE {name} TFs+500, cell-type-specific ChIP-seq truth") for name in ("hHEP", "mDC", "mESC", "mHSC-L")},
    "Kang2018": (KANG, _NET / "collectri" / "collectri_human.csv", "Kang 2018 PBMC ctrl + IFN-beta (raw counts), CollecTRI truth"),
    "StoneRoy-mESC": (SHARED / "datasets" / "stone_roy_scrna" / "semrau_rna_filtered_log2.tsv.gz",
                      _NET / "stone_roy_gold_standards" / "mESC" / "mESC_chipunion_KDUnion_intersect.txt.gz",
                      "Semrau 2017 mouse ESC (log2), Stone & Roy ChIP x knock-down truth"),
}


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
