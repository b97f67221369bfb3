"""The home page's *Pretrain a model on this dataset*: a background job, its progress, its check.

The work is :mod:`ugrn_core.models.pretrain_job` (content-keyed, atomic, cancellable); this
module only lays out the button, the progress bar with its ETA, the cancel button and the
masked-value check, and selects the finished model (through ``pending_model``, applied
before the sidebar's widgets are drawn on the next run).
"""

from __future__ import annotations

import streamlit as st

from ugrn_core.data.io import read_dataset
from ugrn_core.data.matrix import matrix_arguments, use_matrix
from ugrn_core.errors import UGRNError
from ugrn_core.extract.cost import format_seconds
from ugrn_core.models.pretrain import format_metrics, learned_little, what_vvp_gt_read
from ugrn_core.models.pretrain_job import RECIPES, quick_budget, start_pretraining
from ugrn_core.store import BoundedStore, env_bound
from ugrn_ui.state import cached_network, settings, update_settings

RECIPE_LABELS = {
    "quick": f"Quick (at most {format_seconds(quick_budget())} of training)",
    "full": "Full (the `pretrain` command's default; up to 20 min)",
}
MODEL_KIND, PATH_KEY, KIND_KEY = "scGPT checkpoint folder", "w_model_path", "w_model_kind"


@st.cache_resource
def _jobs() -> BoundedStore:
    """Pretraining jobs by (data, matrix, recipe, network), shared by the sessions of this
    server: the last UGRN_JOBS_MAX (default 16) kept, a running job never dropped (a finished
    job's model stays in the disk cache)."""
    return BoundedStore(int(env_bound("JOBS_MAX", 16)), float("inf"), evictable=lambda job: job.status != "running")


def apply_pending_model() -> None:
    """Select a model a finished job left for this session (call before the sidebar is drawn)."""
    folder = st.session_state.pop("pending_model", None)
    if folder:
        for key, value in ((KIND_KEY, MODEL_KIND), (PATH_KEY, folder)):
            st.session_state[key] = st.session_state["_saved_" + key] = value
        update_settings(model=folder)


def _start(recipe: str, key: tuple) -> None:
    s = settings()
    layer, use_raw = matrix_arguments(s.matrix)
    try:
        adata = use_matrix(read_dataset(s.data), layer, use_raw)
        spec = s.network_spec()
        regs = set(cached_network(spec).source) if spec else None
    except UGRNError as exc:
        st.error(str(exc))
        return
    _jobs()[key] = start_pretraining(adata, str(key), recipe, network_regulators=regs, description=s.data_label)


def pretrain_panel() -> None:
    """Offer, run and report pretraining on the current dataset."""
    s = settings()
    if s.data == "demo" or s.result:
        return
    recipe = st.radio("Recipe", RECIPES, format_func=RECIPE_LABELS.get, horizontal=True, key="w_pretrain_recipe",
                      help="Quick keeps a small dataset to a few minutes on a laptop, at some accuracy "
                           "(bench/results/pretrain_quick.md); Full is the command line's recipe.")
    key = (s.data, s.matrix, recipe, s.network_spec())
    job = _jobs().get(key)
    if job is not None and job.status in ("cancelled", "failed"):
        (st.info if job.status == "cancelled" else st.error)(job.message)
        job = None
    if job is None:
        st.caption("Trains a model (scGPT architecture, 4 layers) on this dataset's expressed regulators and most variable "
                   "genes, in the background; it is kept in the cache for the same data and recipe, and selected when done.")
        if st.button("Pretrain a model on this dataset", type="primary"):
            _start(recipe, key)
            st.rerun()
        return
    _job_status(key)


@st.fragment(run_every=2.0)
def _job_status(key: tuple) -> None:
    job = _jobs().get(key)
    if job is None:
        return
    if job.status == "running":
        eta = job.eta_seconds()
        held = job.record.get("val_mse")
        text = (f"Pretraining ({job.recipe}): step {job.step:,} of about {job.total:,}" if job.total else
                "Pretraining: preparing the data and the first steps…")
        text += (f" · held-out error {held:.4f}" if held is not None else "") + (f" · about {format_seconds(eta)} left" if eta else "")
        st.progress(job.fraction, text=text)
        if st.button("Cancel pretraining"):
            job.cancel()
        return
    if job.status == "done":
        m = job.metrics or {}
        st.success(f"Model ready: `{job.folder}`")
        st.caption(f"**Model check** — {format_metrics(m)}" if m else "")
        if m and learned_little(m):
            st.warning(f"It predicts held-out masked values no better than ridge regression: {what_vvp_gt_read(m)}. "
                       "Try the Full recipe.")
        if settings().model != str(job.folder) and st.session_state.get("selected_model") != str(job.folder):
            st.session_state["pending_model"] = st.session_state["selected_model"] = str(job.folder)
            st.rerun(scope="app")
        return
    st.rerun(scope="app")  # cancelled or failed: the panel says so and offers the button again
