"""Benchmark: train the translator on known regulations and evaluate it on held-out genes."""

from __future__ import annotations

import streamlit as st

from ugrn_core.baselines import CLASSICAL
from ugrn_core.benchmark import make_benchmark_set, run_benchmark
from ugrn_core.errors import UGRNError
from ugrn_core.explore import score_label
from ugrn_core.export import spreadsheet_csv
from ugrn_core.plot import roc_pr_figure
from ugrn_core.translator import TranslatorSet
from ugrn_ui.nav import ICON
from ugrn_ui.paths import path_input
from ugrn_ui.state import page, settings

analysis = page("Benchmark and translator", ICON["pages/3_Benchmark.py"])

st.markdown(
    "The translator f_φ learns, from known regulations, which gene-pair features mean *regulates*. "
    "It is trained on pairs among one half of the genes and evaluated on pairs among the **other half** "
    "(gene-disjoint split), so the numbers measure generalisation to genes it never saw."
)
if analysis.network is None:
    st.info("No reference network is attached. Choose one on the home page (the demo uses its planted network).")
    st.page_link("app.py", label="Home", icon=ICON["app.py"])
    st.stop()
st.caption(f"Reference network: {analysis.network.summary()}")

with st.form("benchmark_form"):
    c1, c2, c3 = st.columns(3)
    test_fraction = c1.slider("Share of genes held out for testing", 0.2, 0.8, 0.5, step=0.05)
    seed = c2.number_input("Seed", 0, 10_000, 0, step=1)
    classical = c3.multiselect("Classical baselines", list(CLASSICAL), default=["pearson", "spearman"],
                               help="grnboost is GRNBoost2 and genie3 GENIE3 with arboreto's settings; GENIE3's 1,000 trees per target take about 13 s per target on 3,000 cells.")
    go = st.form_submit_button("Train and evaluate", type="primary")

if go:
    bar = st.progress(0.0, text="Training translators…")

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{stage}: {done}/{total}")

    try:
        bset = make_benchmark_set(analysis.data_label, analysis.panel_data(), analysis.network, analysis.features)
        result = run_benchmark(bset, analysis.model, "genes", methods=list(analysis.features), classical=tuple(classical),
                               test_fraction=test_fraction, seed=int(seed), progress=progress)
    except UGRNError as exc:
        bar.empty()
        st.error(str(exc))
        st.stop()
    bar.empty()
    st.session_state["benchmark_result"] = (settings().session_key, result)

held = st.session_state.get("benchmark_result")
if held is None or held[0] != settings().session_key:
    st.info("Press **Train and evaluate** to fit translators for every method and score the held-out pairs.")
else:
    result = held[1]
    rep = result.report
    st.success(f"Trained on {rep.get('train_pairs', 0):,} pairs among {rep.get('train_genes', 0)} genes; "
               f"tested on {rep['test_pairs']:,} pairs ({rep['test_edges']:,} known edges) among "
               f"{rep.get('test_genes', 0)} held-out genes, in {rep['seconds']} s.")
    negatives = st.radio("Negatives", ["balanced", "full"], horizontal=True,
                         help="balanced: every known edge plus as many random non-edges (random AUPRC = 0.5). "
                              "full: every regulator -> gene pair among held-out genes (random AUPRC = edge density).")
    m = result.metrics[result.metrics.negatives == negatives].copy()
    density = float(result.predictions.label.mean()) if negatives == "full" else 0.5
    st.caption(f"Random baseline: AUROC 0.5, AUPRC {density:.3f}, EPR 1. AUPRC ratio and EPR are relative to that "
               "density (BEELINE's definitions). `<method>_prob` = translator, `<method>` = untrained score, "
               "`_logreg_prob` = logistic-regression sanity check.")
    m = m.sort_values("auprc", ascending=False)
    st.dataframe(m, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("auroc", "auprc", "auprc_ratio", "epr", "auprc_pr")})
    d1, d2 = st.columns(2)
    d1.download_button("Download metrics (CSV)", spreadsheet_csv(result.metrics), "metrics.csv", "text/csv")
    d2.download_button("Download held-out predictions (CSV)", spreadsheet_csv(result.predictions), "predictions.csv",
                       "text/csv", help="Every held-out pair: label, balanced-sample flag and each method's probability or score.")
    methods = [c for c in m.method if not c.endswith("_logreg_prob")]
    shown = st.multiselect("Curves for", methods, default=[c for c in ("ensemble", "vvp_prob", "gt_prob", "pearson") if c in methods] or methods[:3])
    preds = result.predictions if negatives == "full" else result.predictions[result.predictions.balanced == 1]
    st.plotly_chart(roc_pr_figure(preds, shown, labels={c: score_label(c) for c in shown}), width="stretch")

st.subheader("Probabilities for the dashboard, out of fold")
st.markdown(
    "To show translator probabilities on the other pages, the genes are split into folds and one translator is "
    "trained per pair of folds on the pairs that avoid both; each pair is then scored by a translator that **never "
    "saw either of its genes**. A translator would otherwise read its own training pairs back from memory."
)
folds = st.slider("Gene folds", 3, 8, 5, help="k folds train k (k + 1) / 2 translator sets; more folds, more genes to learn from each time.")
if st.button("Score every pair out of fold", type="primary" if held is not None else "secondary"):
    bar = st.progress(0.0, text="Out-of-fold translators…")
    try:
        analysis.fit_out_of_fold(k=int(folds), progress=lambda d, t: bar.progress(d / t, text=f"Translator sets: {d}/{t}"))
    except (UGRNError, ValueError) as exc:
        bar.empty()
        st.error(str(exc))
    else:
        bar.empty()
        st.success(f"Done: the Regulators, Subnetwork, Pathways and Export pages now show out-of-fold probabilities "
                   f"and the ensemble ({folds} gene folds).")

with st.expander("Load a translator saved by the CLI (`benchmark --save-translator DIR`)"):
    st.caption("It must have been trained on features of this model with these extraction settings (it is refused "
               "otherwise). Pairs with a gene it trained on are flagged `seen_in_training` and left out of recovery "
               "checks: they are not predictions.")
    folder = path_input("Translator folder", "w_translator_path", "translator")
    if st.button("Load translator") and folder:
        try:
            analysis.attach(translators=TranslatorSet.load(folder))
            seen = int(analysis.edges().seen_in_training.sum())
            st.success(f"Loaded the translator from {folder}; {seen:,} of {len(analysis.edges()):,} pairs "
                       "have a gene it trained on.")
        except UGRNError as exc:
            st.error(str(exc))
