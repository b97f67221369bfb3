"""The generalisation benchmark: extract, split, train translators, score, compare.

Two questions, as in the UGRN paper:
- ``split="genes"``: does a translator trained on some genes' regulations score pairs of
  genes it never saw? (gene-disjoint split of one dataset + network)
- ``split="dataset"``: does a translator trained on one dataset + network score another
  dataset? (the paper's leave-one-dataset-out)

Every method is evaluated on the same test pairs under both negative conventions
(``balanced`` and ``full``), next to correlation and tree-ensemble baselines, and to each
extractor's untrained score. Columns and ``method`` values follow the one vocabulary of every
table: ``<method>`` is the untrained score, ``<method>_prob`` a translator's probability
(``<method>_logreg_prob``: the logistic-regression sanity check), ``ensemble`` the VVP and GT
translators' mean logit. The ``pairs`` column says which test pairs a
row covers: in the gene split every test pair is ``unseen`` by construction; the dataset
split reports ``all`` test pairs and, again, the ``unseen`` ones (not a pair the translator
trained or early-stopped on: a pair shared by two datasets' networks can be memorised).
With ``controls``, ``*_random_model`` rows (the same pipeline on a randomly initialised model
of the same architecture) and ``*_permuted_network`` rows (every regulator's targets shuffled
among its candidates, out-degrees kept) say what chance looks like here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import anndata as ad
import numpy as np
import pandas as pd

from .baselines import CLASSICAL, classical_scores, correlation_scores
from .data.io import read_dataset
from .data.networks import NetworkMatch, match_network, read_network
from .errors import DataError
from .evaluate import metrics_table, per_source_metrics
from .extract import METHODS, ExtractionParams, FeatureCache, PairFeatures, extract_features, extraction_order
from .models.foundation import FoundationModel
from .pipeline import PanelData, PreparedData, prepare_data
from .signs import SIGNED_METHODS, ensemble_signs, network_signs, pair_signs, sign_accuracy
from .splits import GeneSplit, balanced_sample, gene_split, pair_universe, permuted_within_sources, validation_split
from .translator import ENSEMBLE, PROB, TranslatorConfig, TranslatorSet, pair_scores

SPLITS = ("genes", "dataset")


@dataclass
class BenchmarkSet:
    """One dataset + network made ready: panel, labelled pairs, features."""

    name: str
    prepared: PreparedData | PanelData
    match: NetworkMatch
    pairs: pd.DataFrame  # the full universe: source, target, label
    features: dict[str, PairFeatures] = field(default_factory=dict)

    @property
    def expression(self) -> np.ndarray:
        return self.prepared.expression

    def summary(self) -> str:
        n_reg = self.pairs.source.nunique()
        return (
            f"{self.name}: panel {len(self.prepared.panel)} genes, {n_reg} regulators, "
            f"{len(self.pairs):,} candidate pairs, {int(self.pairs.label.sum()):,} known edges "
            f"(density {self.pairs.label.mean():.3%}); network: {self.match.summary()}"
        )


@dataclass
class BenchmarkResult:
    metrics: pd.DataFrame  # method, split, negatives, auroc, auprc, auprc_ratio, epr, auprc_pr, n_pairs, n_edges, sign_accuracy…, pairs
    predictions: pd.DataFrame  # source, target, label, balanced, [seen_in_training], <method>…
    per_source: pd.DataFrame
    translators: TranslatorSet
    report: dict


def load_benchmark_set(
    data: str | ad.AnnData,
    network: str | pd.DataFrame,
    model: FoundationModel,
    n_genes: int = 300,
    min_coverage: float = 0.5,
    name: str | None = None,
) -> BenchmarkSet:
    """Read data and network; the panel is the most variable network genes the model knows."""
    net = read_network(network) if isinstance(network, str) else network
    adata = read_dataset(data) if isinstance(data, str) else data
    label = name or (data if isinstance(data, str) else "dataset")
    net_genes = set(net.source) | set(net.target)
    prepared = prepare_data(adata, model, n_genes=n_genes, min_coverage=min_coverage, restrict_to=net_genes)
    if len(prepared.panel) == 0:
        match_network(net, list(prepared.adata.var_names), what=f"{label}")  # raises the clear error
    return make_benchmark_set(str(label), prepared, match_network(net, prepared.panel, what="the panel"))


def make_benchmark_set(name: str, prepared: PreparedData | PanelData, match: NetworkMatch, features: dict[str, PairFeatures] | None = None) -> BenchmarkSet:
    """Label every regulator -> panel gene pair by ``match``; reuse ``features`` if given."""
    pairs = pair_universe(match.edges, prepared.panel)
    if pairs.empty or pairs.label.sum() == 0:
        raise DataError(f"{name}: no known edge among the panel's genes ({match.summary()}). Use a larger gene panel.")
    return BenchmarkSet(name, prepared, match, pairs, dict(features or {}))


def extract_for(bset: BenchmarkSet, model: FoundationModel, methods, params=None, cache=None, progress=None,
                sources: list[str] | None = None, engine=None) -> None:
    """Features for every source -> panel gene pair (default sources: the network's regulators);
    ``engine``: where the chunks run (see :func:`~ugrn_core.extract.extract_features`)."""
    if sources is None:
        sources = sorted(bset.pairs.source.unique(), key=bset.prepared.panel.index)
    for method in extraction_order(methods):  # GT first: its pass leaves VVP's chunks in the cache
        have = bset.features.get(method)
        if have is not None and set(sources) <= set(have.sources) and have.targets == bset.prepared.panel:
            continue  # e.g. the dashboard's all-pairs extraction: nothing to add
        if bset.prepared.model_values is None:
            raise DataError(f"{bset.name}: {method} features for these pairs were not stored with this result, and "
                            "new ones need the data itself. Open the dataset with its model and extract again.")
        cb = (lambda d, t, m=method: progress(f"{bset.name}: {m}", d, t)) if progress else None
        bset.features[method] = extract_features(
            method, model, bset.prepared.panel, sources, bset.prepared.mean_values, params, cache, cb,
            cell_values=bset.prepared.model_values, engine=engine,
        )


def score_pairs(bset: BenchmarkSet, pairs: pd.DataFrame, translators: TranslatorSet, classical=CLASSICAL, seed=0, progress=None,
                model_digest: str | None = None, allow_mismatch: bool = False) -> pd.DataFrame:
    """Every method's score for ``pairs``: translators (``<name>_prob``), ensemble, untrained
    scores (``<method>``), baselines."""
    out = translators.predict(bset.features, pairs, model_digest, allow_mismatch)
    out = out.rename(columns={c: f"{c}{PROB}" for c in out.columns if c not in ("source", "target", ENSEMBLE)})
    out.insert(2, "label", pairs.label.to_numpy())
    for method, feats in bset.features.items():
        out[method] = pair_scores(feats, pairs)  # already |e| / mean |e| / cosine
    cb = (lambda m, d, t: progress(f"{bset.name}: {m}", d, t)) if progress else None
    for m, s in classical_scores(bset.expression, bset.prepared.panel, pairs, classical, seed, cb).items():
        out[m] = s
    return out


def _drop_seen(test_pairs: pd.DataFrame, translators: TranslatorSet, report: dict) -> pd.DataFrame:
    """Held-out pairs a given translator trained on a gene of are not held out: leave them out."""
    seen = translators.training_genes
    keep = ~(test_pairs.source.isin(seen) | test_pairs.target.isin(seen))
    report["dropped_seen_pairs"] = int((~keep).sum())
    if not seen:
        report["translator_genes_unknown"] = True  # saved before training genes were recorded
    kept = test_pairs[keep]
    if kept.empty or kept.label.nunique() < 2:
        raise DataError(
            f"The given translator trained on {len(seen)} genes that cover the held-out pairs: of "
            f"{len(test_pairs):,} held-out pairs, {len(kept):,} remain without them"
            f"{'' if kept.empty else ' and they are all one class'}, so nothing unseen is left to score. "
            "Train the translator here (drop --translator), or use --split dataset on another dataset."
        )
    return kept


def predicted_signs(bset: BenchmarkSet, pairs: pd.DataFrame, columns: list[str]) -> dict[str, np.ndarray]:
    """The predicted sign behind each method column (see :mod:`.signs`); unsigned methods are absent."""
    out = {}
    for c in columns:
        base = c.split("_")[0]
        if c == "ensemble":
            s = ensemble_signs(bset.features, pairs)
        elif base in SIGNED_METHODS and base in bset.features:
            s = pair_signs(bset.features[base], pairs)
        elif c in ("pearson", "spearman"):
            s = np.sign(correlation_scores(bset.expression, bset.prepared.panel, pairs, c, signed=True))
        else:
            continue
        if s is not None:
            out[c] = s
    return out


def sign_accuracies(bset: BenchmarkSet, predictions: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``method, sign_accuracy, n_signed_edges``: among the scored known edges with a sign."""
    edges = predictions[predictions.label == 1]
    known = network_signs(bset.match.edges, edges)[1]
    rows = [{"method": c, "sign_accuracy": sign_accuracy(known, s), "n_signed_edges": int((known != 0).sum())}
            for c, s in predicted_signs(bset, edges, columns).items()]
    return pd.DataFrame(rows, columns=["method", "sign_accuracy", "n_signed_edges"])


def method_columns(predictions: pd.DataFrame) -> list[str]:
    return [c for c in predictions.columns if c not in ("source", "target", "label", "balanced", "seen_in_training")]


def _seen_in_training(test_pairs: pd.DataFrame, translators: TranslatorSet) -> np.ndarray:
    """Test pairs a translator may read back from memory: those it trained or early-stopped
    on; for an older translator file that did not record them, every pair whose two genes
    were both among its training genes (or every pair, if those were not recorded either)."""
    pairs = translators.training_pairs
    if pairs is not None:
        return np.array([p in pairs for p in zip(test_pairs.source, test_pairs.target)], dtype=bool)
    genes = translators.training_genes
    if not genes:
        return np.ones(len(test_pairs), dtype=bool)
    return (test_pairs.source.isin(genes) & test_pairs.target.isin(genes)).to_numpy()


def _metrics(test: BenchmarkSet, predictions: pd.DataFrame, split: str, pairs: str) -> pd.DataFrame:
    cols = method_columns(predictions)
    tables = [
        metrics_table(predictions[predictions.balanced == 1], cols, split=split, negatives="balanced"),
        metrics_table(predictions, cols, split=split, negatives="full"),
    ]
    out = pd.concat(tables, ignore_index=True).merge(sign_accuracies(test, predictions, cols), on="method", how="left")
    return out.assign(pairs=pairs)


def _metrics_by_pairs(test: BenchmarkSet, predictions: pd.DataFrame, split: str) -> pd.DataFrame:
    """The gene split's rows (every test pair ``unseen``), or the dataset split's twice: on
    ``all`` test pairs and on those not ``seen_in_training``."""
    if split == "genes":
        return _metrics(test, predictions, split, "unseen")
    unseen = predictions[~predictions.seen_in_training]
    return pd.concat([_metrics(test, predictions, split, "all"), _metrics(test, unseen, split, "unseen")], ignore_index=True)


def _control_metrics(test: BenchmarkSet, model: FoundationModel, split: str, train: BenchmarkSet | None, methods,
                     scored: pd.DataFrame, classical, params, cache, translator_config, test_fraction, seed, progress) -> pd.DataFrame:
    """``*_random_model`` and ``*_permuted_network`` rows: the whole pipeline once on a
    randomly initialised model, once against a network whose targets are shuffled (the
    baselines' scores in ``scored`` do not depend on labels, so they are judged again, not
    recomputed)."""
    tag = (lambda name: (lambda what, d, t: progress(f"{name}: {what}", d, t))) if progress else (lambda name: None)
    random_model = model.randomised(seed)
    rnd = run_benchmark(replace(test, features={}), random_model, split, None if train is None else replace(train, features={}),
                        methods, (), params, cache, translator_config, None, test_fraction, seed, tag("random model"))
    shuffle = (lambda b: None if b is None else replace(b, pairs=permuted_within_sources(b.pairs, seed)))
    perm = run_benchmark(shuffle(test), model, split, shuffle(train), methods, (), params, cache, translator_config,
                         None, test_fraction, seed, tag("permuted network"))
    baselines = [c for c in classical if c in scored]
    judged = perm.predictions.merge(scored[["source", "target", *baselines]], on=["source", "target"], how="left")
    perm_metrics = _metrics_by_pairs(test, judged, split)
    # a shuffled pair has no known sign of its own: sign accuracy means nothing against it
    perm_metrics = perm_metrics.assign(method=perm_metrics.method + "_permuted_network", sign_accuracy=np.nan, n_signed_edges=0)
    return pd.concat([rnd.metrics.assign(method=rnd.metrics.method + "_random_model"), perm_metrics], ignore_index=True)


def run_benchmark(
    test: BenchmarkSet,
    model: FoundationModel,
    split: str = "genes",
    train: BenchmarkSet | None = None,
    methods=METHODS,
    classical=CLASSICAL,
    params: ExtractionParams | None = None,
    cache: FeatureCache | None = None,
    translator_config: TranslatorConfig | None = None,
    translators: TranslatorSet | None = None,
    test_fraction: float = 0.5,
    seed: int = 0,
    progress=None,
    allow_mismatch: bool = False,
    controls: bool = False,
    engine=None,
) -> BenchmarkResult:
    """Train translators (unless given) and evaluate every method on held-out pairs.

    Given ``translators`` must have been trained on features like these (same model,
    same extraction settings; ``allow_mismatch`` overrides), and in the gene split any
    held-out pair with a gene they trained on is dropped (``report["dropped_seen_pairs"]``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if split == "dataset" and train is None and translators is None:
        raise DataError("A dataset-disjoint benchmark needs a training dataset and network (--train-data, --train-network) or a trained translator.")
    if controls and split == "dataset" and train is None:
        raise DataError("The controls retrain translators, so a dataset-disjoint benchmark with --controls needs "
                        "--train-data and --train-network, not only --translator.")
    t0 = time.perf_counter()
    extract_for(test, model, methods, params, cache, progress, engine=engine)
    report: dict = {"split": split, "test": test.summary(), "model": model.describe(), "seed": seed}
    if split == "genes":
        gs: GeneSplit = gene_split(test.pairs, test_fraction, seed)
        train_source, train_pairs = test, gs.train_pairs(test.pairs)
        test_pairs = gs.test_pairs(test.pairs)
        report.update(train_genes=len(gs.train_genes), test_genes=len(gs.test_genes), held_out_genes=gs.test_genes)
        if translators is not None:
            test_pairs = _drop_seen(test_pairs, translators, report)
    else:
        train_source = train
        if train is not None:
            extract_for(train, model, methods, params, cache, progress, engine=engine)
            report["train"] = train.summary()
        train_pairs = None if train is None else train.pairs
        test_pairs = test.pairs
    if translators is None:
        fit, val = validation_split(train_pairs, seed)
        fit_b, val_b = balanced_sample(fit, seed), balanced_sample(val, seed)
        cb = (lambda d, t: progress("translators", d, t)) if progress else None
        translators = TranslatorSet.fit(
            train_source.features, fit_b, val_b, translator_config, info={
                "trained_on": train_source.name, "split": split, "model": model.name,
                "model_digest": model.digest, "train_pairs": len(fit_b), "val_pairs": len(val_b), "seed": seed,
            }, progress=cb,
        )
        report.update(train_pairs=len(fit_b), train_edges=int(fit_b.label.sum()), val_pairs=len(val_b))
    predictions = score_pairs(test, test_pairs, translators, classical, seed, progress, model.digest, allow_mismatch)
    balanced_idx = balanced_sample(test_pairs, seed).index
    predictions.insert(3, "balanced", test_pairs.index.isin(balanced_idx).astype(int))
    if split == "dataset":
        seen = _seen_in_training(test_pairs, translators)
        predictions.insert(4, "seen_in_training", seen)
        report.update(seen_test_pairs=int(seen.sum()), seen_test_edges=int(predictions.label[seen].sum()))
    metrics = _metrics_by_pairs(test, predictions, split)
    if controls:
        metrics = pd.concat([metrics, _control_metrics(test, model, split, train, methods, predictions, classical, params,
                                                       cache, translator_config, test_fraction, seed, progress)], ignore_index=True)
    per_source = per_source_metrics(predictions, method_columns(predictions))
    report.update(test_pairs=len(predictions), test_edges=int(predictions.label.sum()), seconds=round(time.perf_counter() - t0, 1))
    return BenchmarkResult(metrics, predictions.reset_index(drop=True), per_source, translators, report)


__all__ = ["SPLITS", "BenchmarkSet", "BenchmarkResult", "load_benchmark_set", "make_benchmark_set", "extract_for", "score_pairs", "run_benchmark"]
