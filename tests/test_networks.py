"""Reference networks: every layout reads to the same tidy table and matches case-insensitively."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from ugrn_core.data.networks import demo_network, match_network, read_genelink, read_network, tidy_network
from ugrn_core.data.simulate import simulate_demo
from ugrn_core.errors import DataError


def test_headerless_tsv_like_trrust(tmp_path):
    p = tmp_path / "trrust.tsv"
    p.write_text("Aatf\tBax\tRepression\t1\nAATF\tCDKN1A\tUnknown\t2\nMYC\tTERT\tActivation\t3\n"
                 "MYC\tTERT\tActivation\t4\nSOX2\tSOX2\tActivation\t5\n")
    net = read_network(p)
    assert list(net.columns) == ["source", "target", "sign"]
    assert set(zip(net.source, net.target, net.sign)) == {("AATF", "BAX", -1), ("AATF", "CDKN1A", 0), ("MYC", "TERT", 1)}


@pytest.mark.parametrize("header,row", [
    ("Gene1,Gene2", "KLF6,JUN"),
    ("source,target,weight", "KLF6,JUN,1"),
    ("tf,confidence,target,mor", "KLF6,A,JUN,1.0"),
])
def test_named_columns(tmp_path, header, row):
    p = tmp_path / "net.csv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(header + "\n" + row + "\n")
    net = read_network(p)
    assert list(zip(net.source, net.target)) == [("KLF6", "JUN")]


def test_genelink_folder_maps_indices_through_target_csv(tmp_path):
    folder = tmp_path / "gl"
    folder.mkdir()
    # Target.csv rows are deliberately not in index order: the index column is what counts.
    pd.DataFrame({"Gene": ["B", "A", "C"], "index": [1, 0, 2]}).to_csv(folder / "Target.csv")
    pd.DataFrame({"TF": ["A"], "index": [0]}).to_csv(folder / "TF.csv")
    pd.DataFrame({"TF": [0, 0, 1], "Target": [1, 2, 1]}).to_csv(folder / "Label.csv")
    net = read_network(folder)
    assert set(zip(net.source, net.target)) == {("A", "B"), ("A", "C")}  # (B, B) self-loop dropped


def test_beeline_folder(tmp_path):
    (tmp_path / "refNetwork.csv").write_text("Gene1,Gene2,Type\nA,B,+\nB,C,-\n")
    net = read_network(tmp_path)
    assert list(net.sign) == [1, -1]


def test_demo_network_is_the_simulators_truth():
    net = demo_network()
    truth = simulate_demo()[1]
    assert set(zip(net.source, net.target)) == set(zip(truth.source, truth.target))
    assert len(net) == len(truth)


def test_match_is_case_insensitive_and_reports_coverage():
    net = edge_frame([("SOX2", "NANOG"), ("SOX2", "POU5F1"), ("XIST", "TSIX")])
    m = match_network(net, ["Sox2", "Nanog", "Pou5f1", "Actb"])
    assert set(zip(m.edges.source, m.edges.target)) == {("Sox2", "Nanog"), ("Sox2", "Pou5f1")}
    assert m.edge_coverage == pytest.approx(2 / 3)
    assert "2 of 3 edges" in m.summary()


def test_zero_overlap_is_a_clear_error():
    net = edge_frame([("SOX2", "NANOG")])
    with pytest.raises(DataError) as err:
        match_network(net, ["ENSG000001", "ENSG000002"])
    msg = str(err.value)
    assert "shares 0 of its 2 genes" in msg and "same organism" in msg and "symbols" in msg


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_network(tmp_path / "nope.csv")
    (tmp_path / "one.csv").write_text("just_one_column\nA\n")
    with pytest.raises(DataError, match="column"):
        read_network(tmp_path / "one.csv")
    with pytest.raises(DataError, match="no network"):
        read_network(tmp_path)


def test_shared_genelink_layout_equals_its_symbol_network(shared_data):
    folder = shared_data / "benchmark/beeline_genelink/string/mESC/TFs+500"
    via_indices = read_genelink(folder)
    via_symbols = read_network(folder)  # BL--network.csv
    assert len(via_indices) > 1000
    assert set(zip(via_indices.source, via_indices.target)) == set(zip(via_symbols.source, via_symbols.target))


def test_shared_reference_tables_read(shared_data):
    trrust = read_network(shared_data / "networks/trrust_rawdata.human.tsv")
    assert trrust.source.nunique() > 700 and set(trrust.sign.unique()) <= {-1, 0, 1}
    collectri = read_network(shared_data / "networks/collectri/collectri_human.csv")
    assert len(collectri) > 40000 and (collectri.sign == -1).any()
    dorothea = read_network(shared_data / "networks/dorothea/dorothea_hs_ABC.tsv")
    assert len(dorothea) > 12000


def edge_frame(edges):
    return tidy_network(pd.DataFrame(edges, columns=["s", "t"]), "s", "t")
