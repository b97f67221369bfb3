"""The built-in models, and which one ``"default"`` means for a given dataset.

Two models ship with the package: the *demo* model knows the simulator's genes, the
*pooled* model knows real human and mouse genes (pretrained on the real sets under
``../shared/data``; ``bench/pooled.py`` rebuilds it). A user who asks for ``default``
should get the one that knows the data's genes, and be told which and why, without
pretraining anything. The choice reads only gene names and ``vocab.json`` files, so it is
cheap; the usual coverage check (and its advice) still applies to the chosen model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .vocab import GeneVocab

HERE = Path(__file__).parent
BUILTIN_DIRS = {"demo": HERE / "default_model", "pooled": HERE / "pooled_model"}
WHAT_IT_KNOWS = {
    "demo": "the demo simulator's genes",
    "pooled": "real human and mouse genes, from BEELINE hHEP, mDC, mESC, mHSC-L, Kang 2018 PBMCs and Semrau mESC",
}


@dataclass(frozen=True)
class BuiltinChoice:
    """Which built-in model ``default`` resolved to, and the coverage that decided it."""

    name: str
    folder: Path
    coverage: dict[str, float]  # built-in name -> share of the data's genes it knows

    @property
    def reason(self) -> str:
        what = f"default = the built-in {self.name} model ({WHAT_IT_KNOWS[self.name]})"
        if not self.coverage:
            return what
        others = ", ".join(f"the {n} model {c:.0%}" for n, c in self.coverage.items() if n != self.name)
        return f"{what}: it knows {self.coverage[self.name]:.0%} of the data's genes" + (f"; {others}" if others else "")


def available() -> dict[str, Path]:
    """The built-in models present in this installation (a checkout may lack the pooled one)."""
    return {name: folder for name, folder in BUILTIN_DIRS.items() if (folder / "vocab.json").is_file()}


def gene_coverage(genes: list[str], vocab: GeneVocab) -> float:
    """Share of ``genes`` the vocabulary knows (exact or case-insensitive, as extraction maps them)."""
    genes = [str(g) for g in genes]
    return sum(vocab.resolve(g) is not None for g in genes) / max(len(genes), 1)


def data_genes(data) -> list[str] | None:
    """The gene names (symbols where the data has them) of an AnnData or a dataset path,
    read without loading an .h5ad's matrix; None for the demo or no data."""
    if data is None or (isinstance(data, (str, Path)) and str(data) in ("", "demo")):
        return None
    from ..data.gene_ids import symbol_names
    from ..data.io import read_dataset

    return symbol_names(read_dataset(data, backed=True) if isinstance(data, (str, Path)) else data)


def choose_builtin(genes: list[str] | None) -> BuiltinChoice:
    """The built-in model that knows most of ``genes``; the demo model on a tie or without genes."""
    models = available()
    if not genes or "pooled" not in models:
        return BuiltinChoice("demo", BUILTIN_DIRS["demo"], {})
    coverage = {name: gene_coverage(genes, GeneVocab.load(folder / "vocab.json")) for name, folder in models.items()}
    best = max(coverage, key=lambda n: (coverage[n], n == "demo"))
    return BuiltinChoice(best, models[best], coverage)
