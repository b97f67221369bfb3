"""Tools on AnnData, scanpy style: ``ug.tl.extract(adata)`` -> a :class:`~ugrn_core.grn.GRN`,
also kept in ``adata.uns[key_added]`` so ``write_h5ad`` saves it with the data."""

from __future__ import annotations

import logging
import time

import anndata as ad
import pandas as pd

from .extract import METHODS, ExtractionParams, FeatureCache
from .grn import GRN, UNS_KEY
from .progress import StageBars

log = logging.getLogger(__name__)


def _network(network, panel: list[str]):
    from .data.networks import match_network, read_network, tidy_network

    if network is None:
        return None
    net = tidy_network(network, "source", "target", "sign" if "sign" in network else None) \
        if isinstance(network, pd.DataFrame) else read_network(network)
    return match_network(net, panel, what="the gene panel")


def extract(
    adata: ad.AnnData,
    model="default",
    methods: tuple[str, ...] | list[str] = METHODS,
    n_genes: int = 100,
    layer: str | None = None,
    use_raw: bool = False,
    key_added: str | None = UNS_KEY,
    network=None,
    panel: str = "regulators+hvg",
    genes: list[str] | None = None,
    params: ExtractionParams | None = None,
    cache: bool = True,
    progress: bool = True,
    groupby: str | None = None,
    groups: list[str] | None = None,
    engine=None,
) -> GRN | dict[str, GRN]:
    """Score every ordered pair of a gene panel of ``adata`` with a frozen foundation model.

    Parameters
    ----------
    adata
        Cells x genes: raw counts or log-normalised values (a scaled ``X`` is refused; then
        name the matrix with ``layer`` or ``use_raw``). Not modified, except ``uns[key_added]``.
    model
        ``"default"`` (the built-in model that knows the data's genes: the demo model, or the
        pooled real-gene model for human/mouse data), a checkpoint folder, or a model from
        :func:`ugrn_core.models.load`.
    methods
        Any of ``"pert"``, ``"emb"``, ``"vvp"``, ``"gt"``.
    n_genes
        Most variable genes in the panel (expressed regulators come on top, see ``panel``).
    layer, use_raw
        Read the expression from ``adata.layers[layer]`` or ``adata.raw`` instead of ``X``.
    key_added
        Store the result in ``adata.uns[key_added]`` (``None``: do not store).
    network
        Known regulations to attach: a path, ``"demo"``, or a DataFrame with ``source``,
        ``target`` (and ``sign``) columns.
    panel
        ``"regulators+hvg"`` (census transcription factors expressed here, plus the most
        variable genes) or ``"hvg"``.
    genes
        Genes always kept in the panel.
    params
        Virtual-cell settings (:class:`~ugrn_core.extract.ExtractionParams`).
    cache
        Reuse features from the on-disk cache, keyed by model, data and settings.
    progress
        Show a progress bar per method.
    groupby, groups
        One network per group of cells: ``adata.obs[groupby]``'s ``groups`` (default all).
        Each group's virtual cells are drawn from its own cells and Pert uses its mean cell;
        the panel is chosen on all cells, so the groups' pairs line up
        (:func:`differential` compares two).
    engine
        Where the work runs: ``"local"`` (this process, default), ``"ray"`` (a Ray instance on
        this machine) or ``RayEngine(address="auto", gpus_per_task=1)`` from
        :mod:`ugrn_core.extract.engines` for a cluster; the results are the same.

    Returns
    -------
    The :class:`~ugrn_core.grn.GRN`; ``GRN.from_anndata(adata, key_added)`` reads it back.
    With ``groupby``: ``{group: GRN}``, stored under ``uns[f"{key_added}_{group}"]``.
    """
    from .models.foundation import FoundationModel, load_model
    from .pipeline import prepare_data, run_extraction

    t0 = time.perf_counter()
    # "default": the built-in model that knows these genes (demo or pooled real-gene model)
    fm = model if isinstance(model, FoundationModel) else load_model(model, data=adata)
    if fm.choice:
        log.info(fm.choice)
    prepared = prepare_data(adata, fm, n_genes=n_genes, keep_genes=genes, panel=panel, layer=layer, use_raw=use_raw)
    bars = StageBars(desc=lambda m: f"{m:>4}", unit="cell") if progress else None
    params = params or ExtractionParams()
    label = f"AnnData {adata.n_obs:,} cells x {adata.n_vars:,} genes" + (f", layer {layer!r}" if layer else ", raw" if use_raw else "")
    if groupby is not None:
        from .groups import cells_needed, group_masks

        parts = {g: prepared.subset(mask, groupby, g)
                 for g, mask in group_masks(prepared.adata.obs, groupby, groups, cells_needed(params)).items()}
    else:
        parts = {None: prepared}
    match = _network(network, prepared.panel)
    out = {}
    for group, part in parts.items():
        t1 = time.perf_counter()
        features = run_extraction(part, fm, list(methods), params=params, cache=FeatureCache() if cache else None, progress=bars,
                                  engine=engine)
        grn = GRN.from_extraction(fm, part, features, params, data_label=label if group is None else f"{label}, {groupby} = {group}",
                                  layer=layer, use_raw=use_raw, timings={"total": time.perf_counter() - (t0 if group is None else t1)})
        if match is not None:
            grn.attach(network=match)
        if key_added:
            grn.to_anndata(adata, key_added if group is None else f"{key_added}_{group}".replace("/", "_"))
        out[group] = grn
    if bars is not None:
        bars.close()
    return out[None] if groupby is None else out


def differential(results: dict[str, GRN], a: str, b: str, columns: list[str] | None = None) -> pd.DataFrame:
    """What changed from group ``a`` to group ``b`` of ``tl.extract(..., groupby=)``: per pair
    and score ``score_A``, ``score_B``, ``delta`` (B - A) and ``stat`` (delta over the pooled
    spread between cell draws, where ``n_cell_samples`` > 1). See
    :func:`ugrn_core.groups.regulator_change` for the regulators that changed most."""
    from .errors import DataError
    from .groups import differential as compare

    missing = [g for g in (a, b) if g not in results]
    if missing:
        raise DataError(f"No result for group(s) {missing}; these were extracted: {', '.join(map(str, results))}.")
    return compare(results[a], results[b], (a, b), columns)


def translate(data: GRN | ad.AnnData, network=None, k: int = 5, seed: int = 0, key: str = UNS_KEY) -> GRN:
    """Translator probabilities out of fold: each pair scored by a translator trained, on the
    known regulations, without either of its genes (``<method>_prob`` and ``ensemble`` columns).

    ``network`` replaces the attached one (path, ``"demo"`` or DataFrame). Given an AnnData,
    the result in ``uns[key]`` is read, updated and written back.
    """
    grn = GRN.from_anndata(data, key) if isinstance(data, ad.AnnData) else data
    match = _network(network, grn.panel)
    if match is not None:
        grn.attach(network=match)
    bars = StageBars(unit="set")
    grn.fit_out_of_fold(k=k, seed=seed, progress=lambda d, t: bars("translators", d, t))
    bars.close()
    if isinstance(data, ad.AnnData):
        grn.to_anndata(data, key)
    return grn


def axis(
    adata: ad.AnnData,
    groupby: str,
    source: str,
    target: str,
    layer: str | None = None,
    use_raw: bool = False,
    n_genes: int = 2000,
    key_added: str = "ugrn_axis",
    config=None,
    points: str = "all",
    cache: bool = True,
    progress: bool = True,
):
    """Rank genes along a condition axis by decoder gradient flows (the Genes 2025 method).

    A VAE is fitted to the counts of the ``n_genes`` most variable genes; the axis runs from
    the mean latent point of ``adata.obs[groupby] == source`` cells to that of ``target``
    cells, and each gene scores how its decoded expression's gradient aligns with it.

    Parameters
    ----------
    adata
        Cells x genes, raw counts or log-normalised (``layer`` / ``use_raw`` as in :func:`extract`).
    groupby, source, target
        The obs column and its two values the axis runs between (e.g. ``"stim"``, ``"CTRL"``, ``"STIM"``).
    n_genes
        Most variable genes modelled by the VAE.
    key_added
        Scores go to ``adata.var[f"{key_added}_score"]`` and ``[f"{key_added}_baseline"]``
        (NaN for genes not modelled), the latent means to ``adata.obsm["X_ugrn_vae"]``, the
        settings and the axis to ``adata.uns[key_added]``.
    config
        :class:`~ugrn_core.axis.vae.VAEConfig` (default: the CLI's).
    points
        Read the gradients at ``"all"`` cells or at one group's.

    Returns
    -------
    :class:`~ugrn_core.axis.scores.AxisResult`: ``scores`` (gene, score, baseline, by |score|),
    ``axis``, ``latent``, ``groups``.
    """
    import numpy as np

    from .axis.run import cached_vae, load_axis_data, require_column
    from .axis.scores import axis_scores
    from .axis.vae import VAEConfig
    from .data.matrix import use_matrix

    data = use_matrix(adata, layer, use_raw)
    require_column(data.obs, groupby)
    axd = load_axis_data(data, n_genes)
    axd.label(groupby, source, target)  # both groups must exist: say so before training
    bars = StageBars(unit="epoch") if progress else None
    vae = cached_vae(axd.counts, axd.genes, config or VAEConfig(), progress=(lambda e, n, _h: bars("VAE", e + 1, n)) if bars else None,
                     use_cache=cache)
    if bars is not None:
        bars.close()
    result = axis_scores(vae, axd.counts, axd.groups(groupby), source, target, points)
    table = result.scores.set_index("gene")
    adata.var[f"{key_added}_score"] = table.score.reindex(adata.var_names).to_numpy()
    adata.var[f"{key_added}_baseline"] = table.baseline.reindex(adata.var_names).to_numpy()
    Z = np.full((adata.n_obs, result.latent.shape[1]), np.nan, dtype=np.float32)
    Z[adata.obs_names.get_indexer(axd.obs.index)] = result.latent  # cells dropped as all-zero stay NaN
    adata.obsm["X_ugrn_vae"] = Z
    adata.uns[key_added] = {"groupby": groupby, "source": source, "target": target, "points": points,
                            "n_genes": len(axd.genes), "axis": np.asarray(result.axis, dtype=np.float32)}
    return result


__all__ = ["extract", "differential", "translate", "axis"]
