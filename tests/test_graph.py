"""Subnetworks grow as specified and export to files Cytoscape and BEELINE read."""

from __future__ import annotations

import io

import networkx as nx
import pandas as pd
import pytest

from ugrn_core.errors import GeneNotFoundError
from ugrn_core.graph import rank_agreement, ranked_edges, regulon_table, subnetwork, to_graphml, to_sif


@pytest.fixture
def edges():
    rows = [("A", "B", 0.9, 0.1), ("A", "C", 0.8, 0.2), ("A", "D", 0.1, 0.9), ("B", "E", 0.7, 0.3),
            ("C", "F", 0.6, 0.4), ("E", "A", 0.5, 0.5), ("<x&y>", "A", 0.05, 0.0)]
    return pd.DataFrame(rows, columns=["source", "target", "vvp", "gt"])


def test_ranked_edges_is_beeline_layout(edges):
    r = ranked_edges(edges, "vvp")
    assert list(r.columns) == ["Gene1", "Gene2", "EdgeWeight"]
    assert r.EdgeWeight.is_monotonic_decreasing and r.iloc[0].tolist() == ["A", "B", 0.9]


def test_top_k_hops_threshold_and_known_flags(edges):
    one = subnetwork(edges, ["A"], "vvp", top_k=1, hops=1, known={("A", "B")})
    # A's best out-edge (A->B) and best in-edge (E->A)
    assert set(one.graph.edges) == {("A", "B"), ("E", "A")}
    assert one.graph.edges["A", "B"]["known"] and not one.graph.edges["E", "A"]["known"]
    assert one.graph.nodes["A"]["seed"] and one.graph.nodes["A"]["degree"] == 2
    two = subnetwork(edges, ["A"], "vvp", top_k=1, hops=2)
    assert ("B", "E") in two.graph.edges  # B's best edge, reached on hop 2
    thr = subnetwork(edges, ["A"], "vvp", top_k=5, threshold=0.75)
    assert set(thr.graph.edges) == {("A", "B"), ("A", "C")}
    other = subnetwork(edges, ["A"], "gt", top_k=1)
    assert ("A", "D") in other.graph.edges


def test_cap_is_reported(edges):
    sub = subnetwork(edges, ["A"], "vvp", top_k=10, hops=2, max_nodes=3)
    assert sub.n_nodes == 3 and sub.capped


def test_unknown_seed_is_a_clear_error(edges):
    with pytest.raises(GeneNotFoundError, match="no scored edges"):
        subnetwork(edges, ["ZZZ"], "vvp")


def test_graphml_and_sif_round_trip_with_odd_names(edges):
    sub = subnetwork(edges, ["A"], "vvp", top_k=10)
    back = nx.read_graphml(io.BytesIO(to_graphml(sub.graph).encode()))
    assert set(back.edges) == set(sub.graph.edges) and "<x&y>" in back.nodes
    assert back.edges["A", "B"]["score"] == pytest.approx(0.9)
    sif = to_sif(sub.graph).splitlines()
    assert "A\tregulates\tB" in sif and len(sif) == sub.graph.number_of_edges()


def test_rank_agreement_is_symmetric_with_unit_diagonal(edges):
    r = rank_agreement(edges, ["vvp", "gt"])
    assert r.loc["vvp", "vvp"] == 1.0 and r.loc["vvp", "gt"] == r.loc["gt", "vvp"]


def test_signs_reach_graph_files_and_the_regulon_table(edges):
    signed = edges.assign(predicted_sign=[1, -1, 0, 1, -1, 1, 0], sign=[1, 1, 0, 0, 0, 0, 0])
    sub = subnetwork(signed, ["A"], "vvp", top_k=10)
    assert sub.graph.edges["A", "C"]["interaction"] == "represses" and sub.graph.edges["A", "C"]["known_sign"] == 1
    sif = set(to_sif(sub.graph).splitlines())
    assert {"A\tactivates\tB", "A\trepresses\tC", "A\tregulates\tD"} <= sif
    back = nx.read_graphml(io.BytesIO(to_graphml(sub.graph).encode()))
    assert back.edges["A", "C"]["predicted_sign"] == -1 and back.edges["A", "C"]["interaction"] == "represses"
    frame = sub.edges_frame().set_index(["source", "target"])
    assert frame.loc[("A", "B"), "known_sign"] == 1 and frame.loc[("A", "D"), "predicted_sign"] == 0
    reg = regulon_table(signed, "vvp", n_edges=4)  # top 4: A>B +, A>C -, B>E +, C>F -
    assert list(reg.columns) == ["source", "target", "weight"]
    assert reg.set_index(["source", "target"]).weight.to_dict() == pytest.approx(
        {("A", "B"): 0.9, ("A", "C"): -0.8, ("B", "E"): 0.7, ("C", "F"): -0.6})
    no_call = regulon_table(signed, "gt", n_edges=2)  # top by gt: A>D (no call, left out), E>A
    assert list(zip(no_call.source, no_call.target)) == [("E", "A")]
    with pytest.raises(ValueError, match="predicted signs"):
        regulon_table(edges, "vvp")
