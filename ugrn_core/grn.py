"""The GRN: one result that flows from extraction to translator to graph to export.

A :class:`GRN` holds what one extraction produced and what was attached to it since: the
gene panel, the features per method (with their value grids), the untrained scores, the
model-free |Pearson r| baseline, the reference network, translator probabilities (out of
fold, or from a translator trained elsewhere) and the parameters and provenance. It needs
neither the model nor the AnnData once made, so it can be saved (:meth:`GRN.save`, a
folder; :meth:`GRN.to_anndata`, inside ``adata.uns``), loaded back, opened by the app and
exported, always with the same tables.

Its views answer a biologist's questions: :meth:`targets` (which genes does X regulate?),
:meth:`regulators` (who regulates Y?), :meth:`response` (how does Y follow X?),
:meth:`subnetwork` / :meth:`to_html` (the neighbourhood as a graph), :meth:`edges` and
:meth:`export`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .baselines import correlation_matrix
from .crossfit import CrossFit, cross_fit
from .data.networks import NetworkMatch
from .errors import DataError
from .explore import default_score, pair_response, ranked_regulators, ranked_targets, score_columns, score_table
from .extract import ExtractionParams, PairFeatures
from .extract.base import FEATURE_KEYS, feature_arrays, features_from_arrays, json_value
from .pipeline import PanelData, PreparedData, edges_table
from .splits import pair_universe
from .translator import TranslatorConfig, TranslatorSet

FORMAT = "ugrn-grn"
FORMAT_VERSION = 1
UNS_KEY = "ugrn"


@dataclass
class ModelRecord:
    """What a saved result remembers of its model: enough to label it and to refuse a
    translator trained on another model's features, not enough to extract anew."""

    name: str
    digest: str
    description: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return dict(self.description)

    def randomised(self, seed: int = 0):  # noqa: ARG002 - FoundationModel's signature
        raise DataError("The random-model control needs the model itself, not a saved result: open the data with its "
                        "model and extract again.")


@dataclass
class GRN:
    """Gene-pair scores for a panel, and everything attached to them since.

    Score columns of :meth:`edges`: ``pert``, ``emb``, ``vvp``, ``gt`` (untrained scores),
    ``<method>_prob`` (translator probabilities), ``ensemble`` (VVP and GT translators'
    mean logit), ``pearson`` (|Pearson r| over cells).
    """

    features: dict[str, PairFeatures]
    panel: list[str]
    correlation: np.ndarray  # panel x panel signed Pearson r over cells (the model-free baseline)
    mean_values: np.ndarray  # each panel gene's mean model input (VVP's reference in real cells)
    params: ExtractionParams = field(default_factory=ExtractionParams)
    model: object = None  # the FoundationModel in memory, or a ModelRecord once saved
    regulators: list[str] = field(default_factory=list)  # the panel's expressed census regulators
    panel_mode: str = "hvg"
    data_label: str = "data"
    data_info: dict = field(default_factory=dict)  # preprocessing, vocabulary, panel summary
    network: NetworkMatch | None = None
    translators: TranslatorSet | None = None  # trained elsewhere: pairs it saw are flagged
    crossfit: CrossFit | None = None  # out-of-fold probabilities on this result's network
    timings: dict = field(default_factory=dict)
    _expression: np.ndarray | None = field(default=None, repr=False)  # cells x panel, log-normalised
    model_values: np.ndarray | None = field(default=None, repr=False)  # cells x panel model inputs (in memory only)
    _expression_from: object = field(default=None, repr=False)  # an AnnData to re-make the expression from, on first use
    _edges: pd.DataFrame | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ making one
    @classmethod
    def from_extraction(cls, model, prepared: PreparedData, features: dict[str, PairFeatures],
                        params: ExtractionParams | None = None, data_label: str = "data", timings: dict | None = None,
                        layer: str | None = None, use_raw: bool = False) -> "GRN":
        """The result of :func:`~ugrn_core.pipeline.run_extraction` on ``prepared`` with ``model``
        (``layer`` / ``use_raw``: the matrix ``prepared`` was read from, kept as provenance)."""
        X = prepared.expression
        return cls(
            features=dict(features), panel=list(prepared.panel), correlation=correlation_matrix(X, "pearson"),
            mean_values=np.asarray(prepared.mean_values), params=params or ExtractionParams(), model=model,
            regulators=list(prepared.regulators), panel_mode=prepared.panel_mode, data_label=data_label,
            data_info={"preprocessing": dict(prepared.report.__dict__), "vocabulary": prepared.mapping.summary(),
                       "coverage": prepared.mapping.coverage, "panel": prepared.panel_summary(),
                       "matrix": {"layer": layer, "use_raw": bool(use_raw)}, "cells": prepared.group},
            timings=dict(timings or {}), _expression=X, model_values=prepared.model_values,
        )

    # ------------------------------------------------------------------ what it holds
    @property
    def expression(self) -> np.ndarray | None:
        """Cells x panel, log-normalised (what |Pearson r| was computed from; the benchmark's
        baselines read it). Read from an AnnData, it is re-made from that AnnData on first use
        (a plot or a table never needs it)."""
        if self._expression is None and self._expression_from is not None:
            self._expression, self._expression_from = _panel_expression(self._expression_from, self), None
        return self._expression

    @property
    def model_name(self) -> str:
        return getattr(self.model, "name", None) or "unknown model"

    @property
    def model_digest(self) -> str | None:
        return getattr(self.model, "digest", None)

    @property
    def known_pairs(self) -> set[tuple[str, str]]:
        if self.network is None:
            return set()
        return set(zip(self.network.edges.source, self.network.edges.target))

    def regulators_first(self) -> list[str]:
        """Panel genes with the reference network's regulators first (the useful sources)."""
        regs = [g for g in (self.network.regulators if self.network else []) if g in set(self.panel)]
        return regs + [g for g in self.panel if g not in set(regs)]

    def __repr__(self) -> str:
        lines = [f"GRN of {len(self.panel)} genes x {len(self.panel)} ({self.data_label}; model {self.model_name})",
                 f"    methods: {', '.join(self.features) or 'none'}"]
        if self.network is not None:
            lines.append(f"    network: {self.network.summary()}")
        if self.crossfit is not None:
            lines.append(f"    translator probabilities: out of fold, {self.crossfit.k} gene folds")
        if self.translators is not None:
            lines.append(f"    translator: trained on {self.translators.info.get('trained_on', '?')}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ attaching
    def attach(self, network: NetworkMatch | None = None, translators: TranslatorSet | None = None,
               crossfit: CrossFit | None = None) -> "GRN":
        """Set the reference network, a translator trained elsewhere, or out-of-fold
        probabilities (each of the last two replaces the other; a new network drops both,
        since they learnt from the old one). The score table is rebuilt now, so a translator
        that does not fit these features fails here and changes nothing."""
        before = (self.network, self.translators, self.crossfit, self._edges)
        if network is not None:
            self.network = network
            self.translators = self.crossfit = None
        if translators is not None:
            self.translators, self.crossfit = translators, None
        if crossfit is not None:
            self.crossfit, self.translators = crossfit, None
        self._edges = None
        try:
            self.edges()
        except Exception:
            self.network, self.translators, self.crossfit, self._edges = before
            raise
        return self

    def detached(self) -> "GRN":
        """A copy sharing the features, without network or translator (one per app session)."""
        import copy

        out = copy.copy(self)
        out.network = out.translators = out.crossfit = out._edges = None
        return out

    def fit_out_of_fold(self, k: int = 5, seed: int = 0, progress=None, config: TranslatorConfig | None = None) -> "GRN":
        """Translators cross-fitted over ``k`` gene folds on the attached network; every pair's
        probability then comes from a translator that never saw either of its genes."""
        if self.network is None:
            raise ValueError("Out-of-fold translators need a reference network; attach one first.")
        sources = set.intersection(*(set(f.sources) for f in self.features.values()))
        labelled = pair_universe(self.network.edges, self.panel, [g for g in self.network.regulators if g in sources])
        pairs = edges_table(self.features)[["source", "target"]]
        cf = cross_fit(self.features, labelled, pairs, k, seed, config, info={
            "trained_on": self.data_label, "model": self.model_name, "model_digest": self.model_digest}, progress=progress)
        return self.attach(crossfit=cf)

    # ------------------------------------------------------------------ views
    def edges(self) -> pd.DataFrame:
        """Every ordered panel pair with every available score (built once, then reused)."""
        if self._edges is None:
            self._edges = score_table(self.panel, self.features, self.correlation, self.network, self.translators,
                                      model_digest=self.model_digest, crossfit=self.crossfit)
        return self._edges

    def score_columns(self) -> list[str]:
        return score_columns(self.edges())

    def default_score(self) -> str:
        """What views rank by unless told: the ensemble when translators are attached, else VVP."""
        return default_score(self.score_columns())

    def recovery_pairs(self, edges: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``edges`` that may judge recovery: all but pairs a translator trained on."""
        return edges[~edges.seen_in_training] if "seen_in_training" in edges else edges

    def targets(self, sources: str | list[str], by: str | None = None, n: int | None = None) -> pd.DataFrame:
        """Targets of each source, best first, with a ``rank`` per source.

        Parameters
        ----------
        sources
            One gene or several, from the panel.
        by
            Score column to rank by (default: :meth:`default_score`).
        n
            Keep the ``n`` best targets per source (default: all).

        Returns
        -------
        One row per (source, target) with every score, ``known`` / ``sign`` when a network
        is attached and ``predicted_sign``.
        """
        out = ranked_targets(self.edges(), [sources] if isinstance(sources, str) else list(sources), by or self.default_score())
        return out if n is None else out[out["rank"] <= n].reset_index(drop=True)

    def regulators_of(self, target: str, by: str | None = None, n: int | None = None) -> pd.DataFrame:
        """Regulators of ``target``, best first (the reverse view of :meth:`targets`).

        Parameters
        ----------
        target
            A panel gene.
        by
            Score column to rank by (default: :meth:`default_score`).
        n
            Keep the ``n`` best regulators.
        """
        out = ranked_regulators(self.edges(), target, by or self.default_score())
        return out if n is None else out.head(n)

    def response(self, source: str, target: str) -> pd.DataFrame:
        """How ``target`` responds as ``source`` is set along the value grid (VVP curve, GT slope)."""
        return pair_response(self.features, source, target)

    def response_units(self) -> str:
        """What a Pert/VVP/GT response is measured in: raw model output, or the target's own spread."""
        feats = self.features.get("vvp") or self.features.get("gt") or self.features.get("pert")
        scale = (feats.params if feats is not None else {}).get("scale", "none")
        return {"output_sd": "target's model spread", "data_sd": "target's data SD"}.get(scale, "model units")

    def response_reference(self, source: str) -> tuple[float | None, str]:
        """The source value VVP's response curve is measured from, and where the virtual
        cells were made (for the curve's caption)."""
        feats = self.features.get("vvp") or self.features.get("gt")
        params = feats.params if feats is not None else {}
        if params.get("context") == "cells":
            value = float(self.mean_values[self.panel.index(source)])
            return value, f"in {params.get('n_cells', 8)} real cells of the dataset (averaged), from the source at its mean"
        return params.get("background"), "in a virtual cell with every other gene at the background value"

    def subnetwork(self, genes: str | list[str], by: str | None = None, top_k: int = 5, hops: int = 1,
                   threshold: float | None = None, max_nodes: int = 300):
        """The neighbourhood of ``genes`` as a :class:`~ugrn_core.graph.Subnetwork` (``.graph`` is networkx).

        Parameters
        ----------
        genes
            The seed gene(s).
        by
            Score column the edges are ranked by (default: :meth:`default_score`).
        top_k
            Best edges per gene, in and out.
        hops
            1 or 2 steps out from the seeds.
        threshold
            Drop edges scoring below this value.
        max_nodes
            Stop adding genes beyond this many (the result says it was capped).
        """
        from .graph import subnetwork

        seeds = [genes] if isinstance(genes, str) else list(genes)
        return subnetwork(self.edges(), seeds, by or self.default_score(), top_k=top_k, hops=hops,
                          threshold=threshold, max_nodes=max_nodes, known=self.known_pairs)

    def to_html(self, genes: str | list[str], by: str | None = None, top_k: int = 5, hops: int = 1,
                height_px: int = 620, **kwargs) -> str:
        """The neighbourhood of ``genes`` as self-contained interactive HTML (works offline)."""
        from .explore import edge_descriptions
        from .plot import network_html

        sub = self.subnetwork(genes, by, top_k, hops, **kwargs)
        return network_html(sub, height_px, edge_titles=edge_descriptions(self.edges(), list(sub.graph.edges())))

    def export(self, folder: str | Path, by: str | None = None, n_edges: int = 500) -> Path:
        """Write the export bundle into ``folder`` and return it.

        Files: ``rankedEdges.csv`` (BEELINE), ``edges_all_methods.csv`` (spreadsheet),
        ``network.graphml`` and ``network.sif`` (Cytoscape), ``regulon.csv`` (decoupler:
        source, target, signed weight) and ``manifest.json`` (provenance).

        Parameters
        ----------
        folder
            Created if missing; files in it are replaced one by one, atomically.
        by
            Score the edges are ranked by (default: :meth:`default_score`).
        n_edges
            Edges in the network files (the tables hold every pair).
        """
        from .export import export_files
        from .files import atomic_write

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in export_files(self, by or self.default_score(), n_edges).items():
            atomic_write(folder / name, lambda tmp, text=text: Path(tmp).write_text(text))
        return folder

    def panel_data(self) -> PanelData:
        """The panel, its expression and mean inputs, for a benchmark on this result."""
        if self.expression is None:
            raise DataError("This result carries no expression matrix (it was read from an AnnData without its "
                            "data); read it with GRN.from_anndata(adata) on the same AnnData.")
        return PanelData(self.panel, self.expression, self.mean_values, self.model_values)

    # ------------------------------------------------------------------ storing
    def _to_arrays(self, with_expression: bool) -> tuple[dict, dict[str, np.ndarray]]:
        arrays: dict[str, np.ndarray] = {"mean_values": np.asarray(self.mean_values), "correlation": np.asarray(self.correlation)}
        if with_expression and self.expression is not None:
            arrays["expression"] = np.asarray(self.expression, dtype=np.float32)
        feats = {}
        for method, f in self.features.items():
            feats[method] = {"sources": list(f.sources), "targets": list(f.targets), "params": f.params}
            arrays.update({f"features.{method}.{k}": v for k, v in feature_arrays(f.features).items()})
            arrays[f"features.{method}.score"] = np.asarray(f.score)
            if f.score_sd is not None:
                arrays[f"features.{method}.score_sd"] = np.asarray(f.score_sd)
        meta = {
            "format": FORMAT, "version": FORMAT_VERSION, "ugrn_version": __version__,
            "panel": list(self.panel), "regulators": list(self.regulators), "panel_mode": self.panel_mode,
            "data_label": self.data_label, "data_info": self.data_info, "params": asdict(self.params),
            "model": {"name": self.model_name, "digest": self.model_digest,
                      "description": self.model.describe() if hasattr(self.model, "describe") else {}},
            "timings": self.timings, "features": feats, "network": None, "crossfit": None, "translators": None,
        }
        if self.network is not None:
            n = self.network
            meta["network"] = {"n_edges_total": n.n_edges_total, "n_genes_total": n.n_genes_total,
                               "n_genes_matched": n.n_genes_matched, "where": n.where,
                               "columns": _frame_into(arrays, "network", n.edges)}
        if self.crossfit is not None:
            cf = self.crossfit
            meta["crossfit"] = {"k": cf.k, "seed": cf.seed, "folds": cf.folds,
                                "columns": _frame_into(arrays, "crossfit", cf.predictions)}
        if self.translators is not None:
            doc, weights = self.translators.to_arrays()
            meta["translators"] = doc
            arrays.update({f"translator.{k}": v for k, v in weights.items()})
        return meta, arrays

    @classmethod
    def _from_arrays(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "GRN":
        if meta.get("format") != FORMAT:
            raise DataError("This is not a saved UGRN result (no 'ugrn-grn' marker). Save one with GRN.save or "
                            "`ugrn extract`.")
        if int(meta.get("version", 0)) > FORMAT_VERSION:
            raise DataError(f"This result was saved by a newer UGRN Explorer (format {meta['version']}, this one reads "
                            f"{FORMAT_VERSION}); upgrade with `pip install -U ugrn-explorer`.")
        features = {}
        for method, f in meta["features"].items():
            stored = {k: arrays[f"features.{method}.{k}"] for k in FEATURE_KEYS if f"features.{method}.{k}" in arrays}
            features[method] = PairFeatures(method, features_from_arrays(stored), list(f["sources"]),
                                            list(f["targets"]), arrays[f"features.{method}.score"], dict(f["params"]),
                                            arrays.get(f"features.{method}.score_sd"))
        p = dict(meta.get("params", {}))
        p.setdefault("scale", "none")  # results saved before per-target scaling hold raw responses
        if p.get("value_grid") is not None:
            p["value_grid"] = tuple(p["value_grid"])
        m = meta.get("model", {})
        out = cls(
            features=features, panel=list(meta["panel"]), correlation=arrays["correlation"], mean_values=arrays["mean_values"],
            params=ExtractionParams(**p), model=ModelRecord(m.get("name") or "unknown model", m.get("digest"), m.get("description") or {}),
            regulators=list(meta.get("regulators", [])), panel_mode=meta.get("panel_mode", "hvg"),
            data_label=meta.get("data_label", "data"), data_info=meta.get("data_info", {}), timings=meta.get("timings", {}),
            _expression=arrays.get("expression"),
        )
        if meta.get("network"):
            n = meta["network"]
            out.network = NetworkMatch(_frame_from(arrays, "network", n["columns"]), n["n_edges_total"], n["n_genes_total"],
                                       n["n_genes_matched"], n.get("where", "the data"))
        if meta.get("crossfit"):
            c = meta["crossfit"]
            out.crossfit = CrossFit(_frame_from(arrays, "crossfit", c["columns"]), {g: int(v) for g, v in c["folds"].items()},
                                    int(c["k"]), int(c["seed"]))
        if meta.get("translators"):
            weights = {k[len("translator."):]: v for k, v in arrays.items() if k.startswith("translator.")}
            out.translators = TranslatorSet.from_arrays(meta["translators"], weights)
        return out

    def save(self, folder: str | Path) -> Path:
        """Write everything to ``folder``: ``grn.json`` (what and how) + ``arrays.npz``
        (features, scores, expression). The folder is swapped in whole, so a reader never sees
        half a result; an existing folder that is not a saved result is refused.

        Parameters
        ----------
        folder
            Where to save; read back with :meth:`load`, or open with ``ugrn app FOLDER``.
        """
        folder = Path(folder)
        if folder.exists() and not (folder / "grn.json").is_file():
            raise DataError(f"{folder} exists and is not a saved UGRN result; choose another folder.")
        meta, arrays = self._to_arrays(with_expression=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            (tmp / "grn.json").write_text(json.dumps(meta, indent=1, default=json_value))
            np.savez_compressed(tmp / "arrays.npz", **{k: _plain(v) for k, v in arrays.items()})
            if folder.exists():
                old = folder.with_name(f".{folder.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                folder.replace(old)
                tmp.replace(folder)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.replace(folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, path: str | Path, key: str = UNS_KEY) -> "GRN":
        """Read a saved result.

        Parameters
        ----------
        path
            A folder written by :meth:`save` (or ``ugrn extract``'s ``out/grn``), or an
            ``.h5ad`` holding a result under ``uns[key]``.
        key
            The ``uns`` key, for an ``.h5ad``.
        """
        path = Path(path).expanduser()
        if path.suffix == ".h5ad" and path.is_file():
            import anndata as ad

            return cls.from_anndata(ad.read_h5ad(path), key)
        meta_file = path / "grn.json"
        if not meta_file.is_file():
            raise DataError(f"{path} is not a saved UGRN result (no grn.json in it). Give the folder GRN.save or "
                            "`ugrn extract` wrote, or an .h5ad that holds a result.")
        try:
            meta = json.loads(meta_file.read_text())
            with np.load(path / "arrays.npz", allow_pickle=False) as npz:
                arrays = {k: _from_stored(npz[k]) for k in npz.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"{path} could not be read ({type(exc).__name__}: {str(exc)[:200]}); the files are damaged, "
                            "save the result again.") from None
        return cls._from_arrays(meta, arrays)

    def to_anndata(self, adata, key: str = UNS_KEY) -> None:
        """Store this result in ``adata.uns[key]`` (``write_h5ad`` keeps it); the expression is
        not copied, since it is the AnnData's own (re-read by :meth:`from_anndata`)."""
        meta, arrays = self._to_arrays(with_expression=False)
        adata.uns[key] = {"meta": json.dumps(meta, default=json_value), "arrays": {k: _plain(v) for k, v in arrays.items()}}

    @classmethod
    def from_anndata(cls, adata, key: str = UNS_KEY) -> "GRN":
        """The result stored in ``adata.uns[key]`` by :meth:`to_anndata` or ``ug.tl.extract``.

        Parameters
        ----------
        adata
            The AnnData (e.g. from ``anndata.read_h5ad``); its expression is re-read for the
            benchmark, so it should be the data the result was made from.
        key
            Where the result is stored.
        """
        stored = adata.uns.get(key)
        if not isinstance(stored, dict) or "meta" not in stored:
            have = [k for k, v in adata.uns.items() if isinstance(v, dict) and "meta" in v]
            raise DataError(f"This AnnData holds no UGRN result under uns[{key!r}]"
                            + (f"; it has one under {have}." if have else "; run ug.tl.extract(adata) first."))
        arrays = {k: _from_stored(v) for k, v in stored["arrays"].items()}
        out = cls._from_arrays(json.loads(str(stored["meta"])), arrays)
        out._expression_from = adata
        return out


def holds_result(path: str | Path, key: str = UNS_KEY) -> bool:
    """Whether ``path`` is a saved result: a :meth:`GRN.save` folder, or an ``.h5ad`` with
    ``uns[key]`` (checked without reading the matrix)."""
    path = Path(str(path)).expanduser()
    if path.is_dir():
        return (path / "grn.json").is_file()
    if path.suffix != ".h5ad" or not path.is_file():
        return False
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return "uns" in f and key in f["uns"] and "meta" in f["uns"][key]
    except OSError:
        return False


def _panel_expression(adata, grn: GRN) -> np.ndarray | None:
    """The panel's log-normalised expression, re-made from the AnnData the result came from
    (the same matrix, the same preprocessing); None when its genes or cells no longer match."""
    from .data.matrix import use_matrix
    from .data.preprocess import dense_matrix, preprocess
    from .pipeline import _use_symbols

    matrix = grn.data_info.get("matrix", {})
    n_cells = grn.data_info.get("preprocessing", {}).get("n_cells")
    try:
        data, _ = preprocess(_use_symbols(use_matrix(adata, matrix.get("layer"), bool(matrix.get("use_raw")))))
        if n_cells is not None and data.n_obs != n_cells or not set(grn.panel) <= set(data.var_names):
            return None
        group = grn.data_info.get("cells")
        if group:  # one group's network: that group's cells
            data = data[data.obs[group["groupby"]].astype(str).to_numpy() == str(group["group"])]
        return dense_matrix(data, grn.panel)
    except Exception:  # an AnnData edited since: the result stays readable, the benchmark says what is missing
        return None


def _frame_into(arrays: dict, prefix: str, frame: pd.DataFrame) -> list[str]:
    for c in frame.columns:
        arrays[f"{prefix}.{c}"] = frame[c].to_numpy()
    return [str(c) for c in frame.columns]


def _frame_from(arrays: dict, prefix: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: arrays[f"{prefix}.{c}"] for c in columns})


def _plain(a) -> np.ndarray:
    """Arrays HDF5 and npz store without pickling: text as fixed-width unicode."""
    a = np.asarray(a)
    if a.dtype == object:
        return a.astype(str)
    return a


def _from_stored(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == object or a.dtype.kind == "U":
        return a.astype(object)
    return a


__all__ = ["GRN", "ModelRecord", "UNS_KEY", "holds_result"]
