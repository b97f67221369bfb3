"""Gene identifiers: detect symbol vs Ensembl, map a dataset's genes to a model vocabulary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import anndata as ad

from ..errors import VocabularyError, suggest_model_fix
from ..models.vocab import GeneVocab

_ENSEMBL = re.compile(r"^ENS[A-Z]*G\d{6,}(\.\d+)?$")
SYMBOL_COLUMNS = ("gene_symbols", "gene_symbol", "symbol", "feature_name", "gene_name", "gene_ids_symbol")


def detect_id_type(genes) -> str:
    """``ensembl``, ``symbol`` or ``mixed`` (more than 5% of each)."""
    genes = [str(g) for g in genes]
    if not genes:
        return "symbol"
    frac = sum(bool(_ENSEMBL.match(g)) for g in genes) / len(genes)
    if frac > 0.95:
        return "ensembl"
    return "mixed" if frac > 0.05 else "symbol"


@dataclass
class VocabMapping:
    """Which dataset genes the model knows: the coverage report shown to the user."""

    dataset_genes: list[str]
    mapped: dict[str, str]  # dataset gene -> vocabulary token
    id_type: str
    dropped: list[str] = field(default_factory=list)
    judged_on: list[str] | None = None  # the genes coverage is judged on (the most variable); None: all

    @property
    def coverage(self) -> float:
        return len(self.mapped) / max(len(self.dataset_genes), 1)

    @property
    def judged_coverage(self) -> float:
        """Coverage of the genes a panel is drawn from: a model pretrained on a dataset's most
        variable genes knows those, however many other genes the file holds."""
        genes = self.dataset_genes if self.judged_on is None else self.judged_on
        return sum(g in self.mapped for g in genes) / max(len(genes), 1)

    @property
    def known(self) -> list[str]:
        return [g for g in self.dataset_genes if g in self.mapped]

    @property
    def case_changed(self) -> int:
        """Genes matched only after changing case (e.g. mouse ``Actb`` -> human ``ACTB``)."""
        return sum(g != t for g, t in self.mapped.items())

    def notes(self) -> list[str]:
        """What the user should know about this mapping, even though it was accepted."""
        out = []
        if self.id_type == "mixed":
            out.append("Gene IDs are mixed (some Ensembl, some symbols); Ensembl IDs are only matched "
                       "if the vocabulary uses them. Convert all to one kind for full coverage.")
        if self.case_changed > 0.5 * max(len(self.mapped), 1):
            gene, token = next((g, t) for g, t in self.mapped.items() if g != t)
            out.append(f"{self.case_changed} genes matched only case-insensitively (e.g. {gene} -> {token}): this looks like "
                       "mouse symbols against a human vocabulary. They are treated as same-named orthologs; "
                       "use a mouse-trained model, or pretrain on this data, for species-exact genes.")
        return out

    def summary(self) -> str:
        text = (
            f"{len(self.mapped)} of {len(self.dataset_genes)} genes ({self.coverage:.1%}) are in "
            f"the model's vocabulary; {len(self.dropped)} dropped (ID type: {self.id_type})."
        )
        if self.judged_on is not None and len(self.judged_on) < len(self.dataset_genes):
            text += f" Of the {len(self.judged_on)} most variable genes, {self.judged_coverage:.1%} are known."
        return " ".join([text, *self.notes()])


def symbol_names(adata: ad.AnnData) -> list[str]:
    """Gene names to match: a symbol column of ``var`` if the index holds Ensembl IDs."""
    names = [str(g) for g in adata.var_names]
    if detect_id_type(names) == "ensembl":
        for col in SYMBOL_COLUMNS:
            if col in adata.var.columns:
                return [str(s) for s in adata.var[col]]
    return names


def map_to_vocab(genes, vocab: GeneVocab, min_coverage: float = 0.5, data_hint: str = "PATH",
                 judged_on: list[str] | None = None) -> VocabMapping:
    """Map genes to the vocabulary (exact, then case-insensitive); refuse when fewer than
    ``min_coverage`` of ``judged_on`` (e.g. the most variable genes; default: all) are known."""
    genes = [str(g) for g in genes]
    mapped = {}
    for g in genes:
        token = vocab.resolve(g)
        if token is not None:
            mapped[g] = token
    judged = None if judged_on is None else [str(g) for g in judged_on]
    mapping = VocabMapping(genes, mapped, detect_id_type(genes), [g for g in genes if g not in mapped], judged)
    if mapping.judged_coverage < min_coverage:
        hint = ""
        if mapping.id_type == "ensembl" and detect_id_type(vocab.genes[:1000]) != "ensembl":
            hint = (
                " The dataset uses Ensembl IDs while the vocabulary uses gene symbols: add a "
                f"symbol column to adata.var (one of {', '.join(SYMBOL_COLUMNS[:4])})."
            )
        pool = genes if judged is None else judged
        which = f"{len(pool)} genes" if judged is None else f"the {len(pool)} most variable genes"
        known = sum(g in mapped for g in pool)
        raise VocabularyError(
            f"Only {known} of {which} ({mapping.judged_coverage:.1%}) are known to the "
            f"model, below the {min_coverage:.0%} needed.{hint} Examples not found: "
            f"{[g for g in pool if g not in mapped][:8]}. " + suggest_model_fix(data_hint)
        )
    return mapping
