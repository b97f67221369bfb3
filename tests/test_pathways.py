"""Pathway over-representation: hypergeometric p against a hand count, BH, GMT reading."""

from __future__ import annotations

import gzip
from math import comb

import pandas as pd
import pytest

from ugrn_core.errors import DataError
from ugrn_core.pathways import enrichment, gene_set_coverage, read_gmt, regulon_gene_sets


def _p_at_least(k, N, K, n):
    return sum(comb(K, i) * comb(N - K, n - i) for i in range(k, min(K, n) + 1)) / comb(N, n)


def test_hypergeometric_p_and_bh_fdr_by_hand():
    universe = [f"g{i}" for i in range(40)]
    sets = {"A": universe[:10], "B": universe[5:25], "C": universe[30:36], "tiny": universe[:2]}
    query = universe[:6] + ["G30"]  # case-insensitive: G30 is g30
    t = enrichment(query, universe, sets).set_index("gene_set")
    assert "tiny" not in t.index  # below min_size
    assert t.loc["A", "overlap"] == 6 and t.loc["C", "overlap"] == 1
    for name in "ABC":
        K, k = t.loc[name, "set_size"], t.loc[name, "overlap"]
        assert t.loc[name, "p_value"] == pytest.approx(_p_at_least(k, 40, K, 7), rel=1e-9)
    p = t.p_value.sort_values()
    m = len(p)
    bh = [min(1.0, min(p.iloc[j] * m / (j + 1) for j in range(i, m))) for i in range(m)]
    assert t.loc[p.index, "fdr"].tolist() == pytest.approx(bh)
    assert t.index[0] == "A"


def test_read_gmt_plain_gz_enrichr_and_errors(tmp_path):
    text = "SET1\tdesc\tA\tB\tC\nSET2\t\tD,1.0\tE,0.5\tF\n"
    (tmp_path / "x.gmt").write_text(text)
    (tmp_path / "x.gmt.gz").write_bytes(gzip.compress(text.encode()))
    for f in ("x.gmt", "x.gmt.gz"):
        sets = read_gmt(tmp_path / f)
        assert sets == {"SET1": ["A", "B", "C"], "SET2": ["D", "E", "F"]}
    (tmp_path / "bad.gmt").write_text("just,a,csv\n")
    with pytest.raises(DataError, match="tab-separated"):
        read_gmt(tmp_path / "bad.gmt")
    with pytest.raises(DataError, match="not a text GMT"):
        read_gmt(b"\xff\xfe\x00\x81binary")
    with pytest.raises(DataError, match="does not exist"):
        read_gmt(tmp_path / "missing.gmt")


def test_regulon_sets_from_a_network():
    net = pd.DataFrame({"source": ["T1"] * 3 + ["T2"] * 2, "target": ["a", "b", "c", "a", "d"], "sign": 1})
    assert regulon_gene_sets(net) == {"T1_TARGETS": ["a", "b", "c"]}


def test_hallmark_gmt_from_shared_data(shared_data):
    path = shared_data / "genesets" / "h.all.v7.0.symbols.gmt"
    if not path.exists():
        pytest.skip("hallmark GMT not in shared data")
    sets = read_gmt(path)
    assert len(sets) == 50 and "HALLMARK_INTERFERON_GAMMA_RESPONSE" in sets
    ifn = sets["HALLMARK_INTERFERON_GAMMA_RESPONSE"]
    universe = sorted({g for s in sets.values() for g in s})
    t = enrichment(ifn[:20], universe, sets)
    assert t.gene_set.iloc[0] == "HALLMARK_INTERFERON_GAMMA_RESPONSE" and t.fdr.iloc[0] < 1e-10
    assert "50 of 50 gene sets" in gene_set_coverage(sets, universe)
