"""Shared dashboard state: settings, cached loaders, and the current analysis.

Every page calls :func:`current_analysis`; opened directly (a bookmark, a test) it builds
the analysis from the saved settings, or from the defaults (demo data, built-in model).
Heavy objects are cached process-wide (``st.cache_resource``), extracted features on disk
(the content-keyed FeatureCache), and what a user attaches (network, translator) lives in
that user's session only.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import streamlit as st

from ugrn_core.data.io import read_dataset
from ugrn_core.data.matrix import matrix_arguments, matrix_choices, suggested_matrix
from ugrn_core.data.networks import match_network, read_network
from ugrn_core.data.regulators import PANEL_MODES
from ugrn_core.errors import UGRNError, VocabularyError
from ugrn_core.extract import METHOD_LABELS, METHODS, ExtractionParams, FeatureCache, extraction_order
from ugrn_core.extract.cost import CostEstimate, estimate_cost, eta_seconds, format_seconds
from ugrn_core.grn import GRN
from ugrn_core.models.foundation import load_model
from ugrn_core.pathways import read_gmt, regulon_gene_sets
from ugrn_core.pipeline import prepare_data, run_extraction
from ugrn_core.store import BoundedStore, env_bound
from ugrn_ui.nav import ICON

AUTO_RUN_SECONDS = 180  # extractions estimated below this start without a click (the demo default: 151 s on one CPU core)


@dataclass(frozen=True)
class Settings:
    data: str = "demo"  # "demo", or a path (uploads are saved to a content-addressed path)
    data_label: str = "demo (simulated, 300 genes, known network)"
    model: str = "default"
    n_genes: int = 100
    keep: tuple[str, ...] = ()
    methods: tuple[str, ...] = METHODS
    context: str = ExtractionParams().context  # VVP/GT virtual cells: "cells" or "background"
    scale: str = ExtractionParams().scale  # per-target scaling of Pert/VVP/GT responses (extract/scale.py)
    n_cell_samples: int = 1  # draws of the cells context's real cells (> 1: each edge's spread between draws)
    groupby: str = ""  # a cell annotation: the network of one group's cells ("" = all cells)
    group: str = ""
    network: str = "auto"  # "auto" (the demo truth for the demo), "none", or a path
    matrix: str = "X"  # which matrix holds the expression: "X", a layer's name, or "raw"
    panel: str = PANEL_MODES[0]  # "regulators+hvg" (BEELINE's TFs+N) or "hvg"
    network_regulators: bool = False  # add the reference network's expressed regulators to the panel
    result: str = ""  # a saved result (GRN folder or .h5ad holding one): opened instead of extracting

    def network_spec(self) -> str | None:
        if self.network == "auto":
            if self.result:
                return None  # a saved result keeps the network saved with it
            return "demo" if self.data == "demo" else None
        return None if self.network == "none" else self.network

    @property
    def panel_key(self) -> tuple:
        """What the gene panel depends on."""
        regulators_from = self.network_spec() if self.network_regulators and self.panel != "hvg" else None
        return (self.data, self.model, self.n_genes, self.keep, self.panel, regulators_from, self.matrix)

    @property
    def key(self) -> tuple:
        """What the extraction depends on (shared by every session)."""
        return (*self.panel_key, self.methods, self.context, self.scale, self.n_cell_samples, self.groupby, self.group)

    @property
    def cost_key(self) -> tuple:
        """What the cost estimate depends on (a group's cost is its dataset's: the context draws as many cells)."""
        return (self.panel_key, self.methods, self.context, self.n_cell_samples)

    @property
    def params(self) -> ExtractionParams:
        return ExtractionParams(context=self.context, scale=self.scale, n_cell_samples=self.n_cell_samples)

    @property
    def session_key(self) -> tuple:
        """What one session's analysis depends on: the extraction (or the saved result) plus the reference network."""
        return (("result", self.result) if self.result else self.key, self.network)


def settings() -> Settings:
    return st.session_state.setdefault("settings", Settings())


def update_settings(**changes) -> Settings:
    new = Settings(**{**settings().__dict__, **changes})
    st.session_state["settings"] = new
    return new


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def cached_model(spec: str, data: str | None = None):
    """The model; for ``default``, the built-in model that knows ``data``'s genes."""
    return load_model(spec, data=data)


@st.cache_resource(show_spinner="Reading, normalising and mapping the data…", max_entries=8)
def cached_prepared(data: str, model_spec: str, n_genes: int, keep: tuple[str, ...], panel: str, regulators_from: str | None,
                    matrix: str = "X"):
    extra = set(cached_network(regulators_from).source) if regulators_from else None
    layer, use_raw = matrix_arguments(matrix)
    return prepare_data(data, cached_model(model_spec, data), n_genes=n_genes, keep_genes=list(keep), panel=panel,
                        network_regulators=extra, layer=layer, use_raw=use_raw)


@st.cache_resource(show_spinner="Opening the saved result…", max_entries=8)
def cached_result(path: str, stamp: float) -> GRN:  # noqa: ARG001 - stamp (mtime) keys the cache to the file's version
    return GRN.load(path)


def load_result(path: str) -> GRN:
    """A saved result, or a message and stop."""
    from pathlib import Path

    p = Path(path).expanduser()
    try:
        stamp = (p / "grn.json").stat().st_mtime if p.is_dir() else p.stat().st_mtime
        return cached_result(str(p), stamp)
    except OSError:
        st.error(f"{path} does not exist or cannot be read; give the folder `ugrn extract` or GRN.save wrote, "
                 "or an .h5ad that holds a result.")
    except UGRNError as exc:
        st.error(str(exc))
    st.stop()


@st.cache_resource(show_spinner="Looking at the file's matrices…", max_entries=16)
def cached_matrices(data: str) -> tuple[list[str], str]:
    """An .h5ad's matrices (X, layers, raw) and the one to use by default (counts when X is scaled)."""
    if not data.endswith(".h5ad"):
        return ["X"], "X"
    try:
        adata = read_dataset(data)
    except UGRNError:
        return ["X"], "X"  # the home page shows the reading error itself
    return matrix_choices(adata), suggested_matrix(adata)


@st.cache_resource(show_spinner="Reading the reference network…", max_entries=8)
def cached_network(spec: str):
    return read_network(spec)


@st.cache_resource(show_spinner="Timing the model on this panel…", max_entries=32)
def cached_cost(panel_key: tuple, methods: tuple[str, ...], context: str, n_cell_samples: int = 1) -> CostEstimate:
    prepared = cached_prepared(*panel_key)
    params = ExtractionParams(context=context, n_cell_samples=n_cell_samples)
    return estimate_cost(cached_model(panel_key[1], panel_key[0]), prepared.panel, methods, params=params,
                         mean_values=prepared.mean_values)


@st.cache_resource
def _analysis_store() -> BoundedStore:
    """Extracted networks shared by this server's sessions, bounded (UGRN_ANALYSES_MAX entries,
    UGRN_ANALYSES_MAX_MB); an evicted one is made again from the disk feature cache."""
    return BoundedStore(int(env_bound("ANALYSES_MAX", 16)), env_bound("ANALYSES_MAX_MB", 2048) * 2**20)


def show_problem(exc: Exception, home: bool = False) -> None:
    """A readable message for a known problem; the ways out when genes are unknown (on the
    home page, pretraining right here)."""
    st.error(str(exc))
    if isinstance(exc, VocabularyError):
        st.info(
            "**In this app:** pretrain a model on this dataset below (home page), or, with a downloaded scGPT "
            "checkpoint (e.g. *whole-human* from the scGPT repository's model zoo), choose **scGPT checkpoint folder** "
            "under *Model* in the home page's sidebar and enter the folder."
        )
        if home:
            from ugrn_ui.pretrain import pretrain_panel

            st.subheader("Pretrain a model on this dataset")
            pretrain_panel()


@st.cache_resource
def axis_store() -> BoundedStore:
    """Fitted VAEs and axis scores of this server's sessions (page 6), bounded (UGRN_AXIS_MAX
    entries, UGRN_AXIS_MAX_MB); an evicted VAE is re-read from the disk cache, scores recomputed."""
    return BoundedStore(int(env_bound("AXIS_MAX", 8)), env_bound("AXIS_MAX_MB", 1024) * 2**20)


@st.cache_resource(show_spinner="Selecting the group's cells…", max_entries=16)
def cached_group(panel_key: tuple, groupby: str, group: str, min_cells: int):
    from ugrn_core.groups import group_masks

    prepared = cached_prepared(*panel_key)
    return prepared.subset(group_masks(prepared.adata.obs, groupby, [group], min_cells)[group], groupby, group)


def load_prepared(s: Settings | None = None, home: bool = False):
    """Model and prepared data (one group's cells, if chosen) for the settings, or a message and stop."""
    from ugrn_core.groups import cells_needed

    s = s or settings()
    try:
        model = cached_model(s.model, s.panel_key[0])
        prepared = cached_prepared(*s.panel_key)
        if s.groupby:
            prepared = cached_group(s.panel_key, s.groupby, s.group, cells_needed(s.params))
    except UGRNError as exc:
        show_problem(exc, home)
        st.stop()
    return model, prepared


def _run(s: Settings, model, prepared, estimate: CostEstimate) -> GRN:
    weights = dict(zip(estimate.table.method, estimate.table.seconds.clip(lower=1e-3)))
    total_w = sum(weights[m] for m in s.methods)
    bar = st.progress(0.0, text="Extracting gene-pair features…")
    t0, done_w, timings = time.perf_counter(), 0.0, {}

    def progress(method: str, done: int, total: int) -> None:
        frac = (done_w + weights[method] * done / max(total, 1)) / total_w
        eta = eta_seconds(time.perf_counter() - t0, frac)
        left = f" · about {format_seconds(eta)} left" if eta is not None else ""
        bar.progress(min(frac, 1.0), text=f"{METHOD_LABELS[method]}: {done:,}/{total:,} virtual cells{left}")

    results = {}
    for method in extraction_order(s.methods):  # GT first: its pass leaves VVP's chunks in the cache
        t1 = time.perf_counter()
        results.update(run_extraction(prepared, model, [method], params=s.params, cache=FeatureCache(), progress=progress))
        timings[method] = time.perf_counter() - t1
        done_w += weights[method]
    bar.empty()
    results = {method: results[method] for method in s.methods}
    layer, use_raw = matrix_arguments(s.matrix)
    label = s.data_label + (f" — {s.groupby} = {s.group}" if s.groupby else "")
    return GRN.from_extraction(model, prepared, results, s.params, data_label=label, timings=timings,
                               layer=layer, use_raw=use_raw)


def _session_copy(s: Settings, base: GRN) -> GRN:
    """This session's own copy of a shared result, with the chosen reference network."""
    if s.result and s.network == "auto":
        return copy.copy(base)  # as saved: its network and translator probabilities
    mine = base.detached()
    spec = s.network_spec()
    if spec is not None:
        try:
            mine.attach(network=match_network(cached_network(spec), mine.panel, what="the gene panel"))
        except UGRNError as exc:
            st.warning(f"Reference network not used: {exc}")
    return mine


def current_analysis(home: bool = False) -> GRN:
    """The result for the current settings (extracted, or opened from a file), in this
    session (network attached)."""
    s = settings()
    if s.result:
        base = load_result(s.result)
    else:
        base = _extracted(s, home)
    held = st.session_state.get("analysis")
    if held is None or held[0] != s.session_key:
        held = (s.session_key, _session_copy(s, base))
        st.session_state["analysis"] = held
    return held[1]


def _extracted(s: Settings, home: bool) -> GRN:
    """The shared extraction for these settings: run now (with a progress bar) or read from the store."""
    model, prepared = load_prepared(s)
    store = _analysis_store()
    base = store.get(s.key)
    if base is None:
        estimate = cached_cost(*s.cost_key)
        # made once already (and evicted since): its features are in the disk cache, no need to ask
        confirmed = s.key in st.session_state.setdefault("confirmed_runs", set()) or s.key in store.seen
        if estimate.total_seconds > AUTO_RUN_SECONDS and not confirmed:
            st.warning(f"Extraction for these settings has not run yet: {estimate.summary()}.")
            if home:
                if st.button("Run extraction", type="primary"):
                    st.session_state["confirmed_runs"].add(s.key)
                    st.rerun()
            else:
                st.page_link("app.py", label="Start it on the home page", icon=ICON["app.py"])
            st.stop()
        base = store[s.key] = _run(s, model, prepared, estimate)
    return base


def group_ready(s: Settings, groupby: str, group: str) -> bool:
    """Whether one group's network is extracted, or asked for, already."""
    key = replace(s, groupby=groupby, group=group).key
    return key in _analysis_store().seen or key in st.session_state.get("confirmed_runs", set())


def group_result(s: Settings, groupby: str, group: str, confirmed: bool = False) -> GRN:
    """The network of one group's cells under otherwise the current settings (shared store;
    ``confirmed``: the user asked for it, so a long extraction runs without another click)."""
    gs = replace(s, groupby=groupby, group=group)
    if confirmed:
        st.session_state.setdefault("confirmed_runs", set()).add(gs.key)
    base = _extracted(gs, home=False)
    mine = base.detached()
    if s.network_spec() is not None:
        try:
            mine.attach(network=match_network(cached_network(s.network_spec()), mine.panel, what="the gene panel"))
        except UGRNError:
            pass  # the home page says why the network does not fit
    return mine


def page_shell(title: str, icon: str) -> None:
    from ugrn_ui.nav import sidebar_nav

    st.set_page_config(page_title=f"{title} · UGRN Explorer", page_icon=icon, layout="wide")
    sidebar_nav()
    st.title(title)


def page(title: str, icon: str) -> GRN:
    """Every browsing page's start: config, title, the current analysis, the sidebar status."""
    page_shell(title, icon)
    analysis = current_analysis()
    sidebar_summary(analysis)
    return analysis


def sidebar_summary(analysis: GRN) -> None:
    """The same short status in every page's sidebar."""
    s = settings()
    with st.sidebar:
        st.markdown(f"**Data:** {analysis.data_label}  \n**Model:** {analysis.model_name}  \n"
                    f"**Panel:** {len(analysis.panel)} genes"
                    + (f" ({len(analysis.regulators)} census TFs)" if analysis.regulators else "")
                    + f" · {len(analysis.features)} methods")
        if s.result:
            st.caption(f"Opened from the saved result {s.result}.")
        if analysis.network is not None:
            st.caption(f"Reference network: {analysis.network.summary()}")
        if analysis.crossfit is not None:
            st.caption(f"Translator probabilities: out of fold ({analysis.crossfit.k} gene folds): each from a "
                       "translator that never saw either gene.")
        if analysis.translators is not None:
            st.caption(f"Translator: trained on {analysis.translators.info.get('trained_on', '?')}; pairs with a "
                       "gene it trained on are flagged `seen_in_training`.")


GENE_SET_SOURCES = ("Regulons of the reference network (built in)", "Upload a GMT file", "GMT file on this machine")


def choose_gene_sets(network_edges=None, key: str = "gmt") -> dict[str, list[str]]:
    """The gene sets to test against: the reference network's regulons (when there is one),
    an uploaded GMT, or a GMT path. Stops the page with a hint until there is a choice."""
    options = GENE_SET_SOURCES if network_edges is not None else GENE_SET_SOURCES[1:]
    kind = st.radio("Gene sets", options, horizontal=True, key=f"{key}_kind")
    try:
        if kind == GENE_SET_SOURCES[0]:
            return regulon_gene_sets(network_edges)
        if kind == GENE_SET_SOURCES[1]:
            up = st.file_uploader("Gene sets (.gmt or .gmt.gz, MSigDB / Enrichr format)", type=["gmt", "gz", "txt"],
                                  key=f"{key}_upload")
            if up is None:
                st.info("Upload a GMT file, e.g. MSigDB hallmark sets (h.all.*.symbols.gmt).")
                st.stop()
            return read_gmt(up.getvalue(), name=up.name)
        from ugrn_ui.paths import path_input

        path = path_input("Path to a .gmt file", f"{key}_path", "gene sets")
        if not path:
            st.stop()
        return read_gmt(path)
    except UGRNError as exc:
        st.error(str(exc))
        st.stop()
