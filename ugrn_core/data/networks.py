"""Reference regulatory networks: read known regulations and match them to a dataset.

Every reader returns the same tidy table ``source, target, sign`` (sign +1 / -1 / 0 for
unknown) with upper-case symbols, self-loops and duplicates removed, so TRRUST, DoRothEA,
CollecTRI, BEELINE and GENELink files, and the demo's planted truth, are interchangeable.
Matching to a dataset is case-insensitive (BEELINE writes mouse genes in upper case, TRRUST
mouse in MGI case) and always reports coverage, because a network that barely overlaps the
data gives metrics that mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

DEMO = "demo"
_SOURCE_NAMES = ("source", "gene1", "tf", "regulator", "from", "source_gene", "tf_name")
_TARGET_NAMES = ("target", "gene2", "to", "target_gene", "gene")
_SIGN_NAMES = ("sign", "mor", "weight", "mode", "type", "effect", "regulation")
_BEELINE_FILES = ("refNetwork.csv", "GroundTruthNetwork.csv", "BL--network.csv")


def _sign(values: pd.Series) -> np.ndarray:
    """Map +/-, Activation/Repression, numeric weights to +1 / -1 / 0."""
    text = values.astype(str).str.strip().str.lower()
    out = np.zeros(len(values), dtype=np.int8)
    out[text.isin(["+", "activation", "activator", "activating", "up", "positive"]).to_numpy()] = 1
    out[text.isin(["-", "repression", "repressor", "inhibition", "down", "negative"]).to_numpy()] = -1
    num = pd.to_numeric(values, errors="coerce").to_numpy()
    ok = ~np.isnan(num)
    out[ok] = np.sign(num[ok]).astype(np.int8)
    return out


def tidy_network(df: pd.DataFrame, source: str, target: str, sign: str | None = None) -> pd.DataFrame:
    """Columns -> ``source, target, sign``; upper-case symbols; drop self-loops and repeats."""
    out = pd.DataFrame({
        "source": df[source].astype(str).str.strip().str.upper(),
        "target": df[target].astype(str).str.strip().str.upper(),
        "sign": _sign(df[sign]) if sign is not None else np.zeros(len(df), dtype=np.int8),
    })
    out = out[(out.source != out.target) & (out.source != "") & (out.target != "")]
    out = out[~out.source.isin(["NAN", "NONE"]) & ~out.target.isin(["NAN", "NONE"])]
    return out.drop_duplicates(["source", "target"]).reset_index(drop=True)


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower().strip(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _read_table(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    sep = "\t" if (".tsv" in name or ".txt" in name) else ","
    try:
        head = pd.read_csv(path, sep=sep, nrows=1, header=None, dtype=str)
    except Exception as exc:
        raise DataError(f"{path.name} is not a readable network table ({exc}).") from None
    first = [str(x).strip().lower() for x in head.iloc[0].tolist()]
    has_header = any(x in _SOURCE_NAMES for x in first) and any(x in _TARGET_NAMES for x in first)
    try:
        return pd.read_csv(path, sep=sep, header=0 if has_header else None, dtype=str)
    except Exception as exc:
        raise DataError(f"{path.name} is not a readable network table ({exc}).") from None


def _looks_like_header(df: pd.DataFrame) -> bool:
    """A first row of lower-case words (``regulator_name``, ``gene a``) over rows of symbols:
    an unrecognised header, which would otherwise be read as an edge."""
    first = [str(x) for x in df.iloc[0, :2]]
    rest = df.iloc[1:, 0].astype(str)
    wordy = all(x == x.lower() and any(c.isalpha() for c in x) for x in first)
    return bool(len(rest)) and wordy and (rest != rest.str.lower()).mean() > 0.5


def read_network_table(path: Path) -> pd.DataFrame:
    """A CSV/TSV of edges. With a header, columns are found by name (source/Gene1/TF/tf …,
    target/Gene2 …, optional sign/mor/weight/mode); without one (TRRUST), the first two
    columns are source and target and a third, if present, is the mode of regulation."""
    df = _read_table(path)
    if df.shape[1] < 2:
        raise DataError(f"{path.name} has {df.shape[1]} column(s); a network needs source and target columns.")
    cols = [str(c) for c in df.columns]
    df.columns = cols
    src = _find(cols, _SOURCE_NAMES)
    if src is None:  # no header (``_read_table`` only takes one naming both columns)
        if _looks_like_header(df):
            raise DataError(
                f"{path.name}: the first row ({', '.join(map(str, df.iloc[0, :3]))}) looks like column names, "
                f"but none names the source and target. Name the columns source,target[,sign] "
                f"(also accepted: {', '.join(_SOURCE_NAMES[:4])} / {', '.join(_TARGET_NAMES[:4])}), "
                "or drop the header row for a TRRUST-style file."
            )
        src, tgt = cols[0], cols[1]
        sign = cols[2] if len(cols) > 2 else None
    else:
        tgt = _find([c for c in cols if c != src], _TARGET_NAMES)
        sign = _find([c for c in cols if c not in (src, tgt)], _SIGN_NAMES)
    net = tidy_network(df, src, tgt, sign)
    if net.empty:
        raise DataError(f"{path.name} holds no edges after removing self-loops and blanks. "
                        "Give one regulator -> target edge per row, between two different genes.")
    return net


def read_genelink(folder: Path) -> pd.DataFrame:
    """GENELink layout: ``Label.csv`` holds (TF, Target) as row indices into ``Target.csv``."""
    label = _first(folder, "Label.csv")
    target = _first(folder, "Target.csv")
    genes = pd.read_csv(target, index_col=0)
    if not {"Gene", "index"} <= set(genes.columns):
        raise DataError(f"{target.name} should have columns ',Gene,index' (GENELink layout).")
    by_index = dict(zip(genes["index"].astype(int), genes["Gene"].astype(str)))
    lab = pd.read_csv(label, index_col=0)
    if not {"TF", "Target"} <= set(lab.columns):
        raise DataError(f"{label.name} should have columns ',TF,Target' (GENELink layout).")
    bad = sorted(set(lab.TF.astype(int)).union(lab.Target.astype(int)) - set(by_index))
    if bad:
        raise DataError(f"{label.name} refers to gene indices {bad[:5]} missing from {target.name}.")
    df = pd.DataFrame({"source": lab.TF.astype(int).map(by_index), "target": lab.Target.astype(int).map(by_index)})
    return tidy_network(df, "source", "target")


def _first(folder: Path, stem: str) -> Path:
    hits = sorted(folder.glob(stem + "*"))
    if not hits:
        raise DataError(f"Folder {folder} has no {stem} (GENELink layout needs Label.csv and Target.csv).")
    return hits[0]


def read_network(source: str | Path) -> pd.DataFrame:
    """Load ``"demo"``, an edge table (CSV/TSV, optionally .gz), a BEELINE folder
    (refNetwork.csv / GroundTruthNetwork.csv / BL--network.csv) or a GENELink folder."""
    if str(source) == DEMO:
        return demo_network()
    path = Path(source).expanduser()
    if path.is_dir():
        for name in _BEELINE_FILES:
            hits = sorted(path.glob(name + "*"))
            if hits:
                return read_network_table(hits[0])
        if any(path.glob("Label.csv*")):
            return read_genelink(path)
        raise DataError(
            f"Folder {path} holds no network: expected refNetwork.csv / GroundTruthNetwork.csv / "
            "BL--network.csv (BEELINE) or Label.csv + Target.csv (GENELink)."
        )
    if not path.exists():
        raise DataError(f"Network file {path} does not exist. Give a CSV/TSV of source,target edges, a BEELINE or GENELink folder, or `demo`.")
    if path.stat().st_size == 0:
        raise DataError(f"Network file {path.name} is empty (0 bytes).")
    return read_network_table(path)


def demo_network() -> pd.DataFrame:
    """The demo simulator's planted regulations, in the same tidy form."""
    from .simulate import simulate_demo

    net = simulate_demo()[1]
    return tidy_network(net, "source", "target", "sign")


@dataclass
class NetworkMatch:
    """A network restricted to a gene set, with how much of it survived."""

    edges: pd.DataFrame  # source, target, sign, in the dataset's own gene names
    n_edges_total: int
    n_genes_total: int
    n_genes_matched: int
    where: str = "the data"

    @property
    def edge_coverage(self) -> float:
        return len(self.edges) / max(self.n_edges_total, 1)

    @property
    def regulators(self) -> list[str]:
        return sorted(self.edges.source.unique())

    @property
    def genes(self) -> list[str]:
        return sorted(set(self.edges.source) | set(self.edges.target))

    def summary(self) -> str:
        return (
            f"{len(self.edges):,} of {self.n_edges_total:,} edges ({self.edge_coverage:.0%}) have both genes "
            f"in {self.where}; {self.n_genes_matched:,} of {self.n_genes_total:,} network genes matched; "
            f"{len(self.regulators):,} regulators"
        )


def match_network(net: pd.DataFrame, genes: list[str], min_edges: int = 1, what: str = "the data") -> NetworkMatch:
    """Keep edges whose two genes are in ``genes`` (case-insensitive), renamed to ``genes``' case."""
    lookup: dict[str, str] = {}
    for g in genes:
        lookup.setdefault(str(g).upper(), str(g))
    net_genes = set(net.source) | set(net.target)
    matched = {g for g in net_genes if g in lookup}
    keep = net.source.isin(matched) & net.target.isin(matched)
    edges = net[keep].assign(source=lambda d: d.source.map(lookup), target=lambda d: d.target.map(lookup))
    result = NetworkMatch(edges.reset_index(drop=True), len(net), len(net_genes), len(matched), what)
    if len(edges) < min_edges:
        example_net = ", ".join(sorted(net_genes)[:3])
        example_data = ", ".join(str(g) for g in list(genes)[:3])
        raise DataError(
            f"The reference network shares {len(matched)} of its {len(net_genes):,} genes with {what} "
            f"and {len(edges)} edges ({result.summary()}). Network genes look like {example_net}; "
            f"the data's like {example_data}. Use a network of the same organism and the same gene "
            "identifiers (symbols), or map Ensembl IDs to symbols first."
        )
    return result


__all__ = ["read_network", "read_network_table", "read_genelink", "demo_network", "tidy_network",
           "NetworkMatch", "match_network"]
