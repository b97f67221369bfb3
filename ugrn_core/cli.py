"""Command line: the same pipeline as the app, in batch (``python -m ugrn_core …``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from . import __version__
from .data.regulators import PANEL_MODES
from .errors import UGRNError
from .progress import StageBars


def _comma_list(text: str, allowed, what: str) -> list[str]:
    items = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in items if m not in allowed]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown {what} {bad}; choose from {','.join(allowed)}")
    return items


def _methods(text: str) -> list[str]:
    from .extract import METHODS

    return _comma_list(text, METHODS, "method(s)")


def _classical(text: str) -> list[str]:
    from .baselines import CLASSICAL

    return _comma_list(text, CLASSICAL, "baseline(s)")


def _extraction_params(a: argparse.Namespace):
    from .extract import ExtractionParams

    return ExtractionParams(
        background=a.background, context=a.context, mask_folds=a.mask_folds, n_cells=a.n_cells, cell_seed=a.cell_seed, n_cell_samples=a.n_cell_samples, vvp_values=a.vvp_values, gt_values=a.gt_values,
        emb_mode=a.emb_mode, scale=a.scale, batch_size=a.batch_size,
    )


def _engine(a: argparse.Namespace):
    """The chunks' engine of ``--engine`` (``--address`` and ``--gpus-per-task`` only mean something with ray)."""
    from .extract.engines import make_engine

    if a.engine != "ray" and (a.address is not None or a.gpus_per_task):
        raise SystemExit("--address and --gpus-per-task go with --engine ray; add --engine ray or leave them out.")
    engine = make_engine(a.engine, address=a.address, gpus_per_task=a.gpus_per_task)
    if a.engine == "ray":
        where = a.address or "a Ray instance started on this machine"
        print(f"Engine: Ray ({where}; {a.gpus_per_task:g} GPU per task); the cache {a.cache_dir or 'folder'} must be "
              "shared by every worker")
    return engine


def _score_help() -> str:
    from .extract import SCORE_HELP

    return "edges.csv score per method (untrained): " + "; ".join(f"{m}: {h}" for m, h in SCORE_HELP.items())


def _load_model(a: argparse.Namespace, data: str | None = None):
    """The model of ``--model``; for ``default``, the built-in model that knows ``data``'s genes."""
    from .models.foundation import load_model

    model = load_model(a.model, device=a.device, precision=a.precision, data=data)
    print(f"Model: {model.name} ({model.n_params:,} parameters, {model.module.cfg.nlayers} layers) on {model.device}")
    if model.choice:
        print(f"  {model.choice}")
    if model.precision_note:
        print(f"  {model.precision_note}")
    return model


def cmd_extract(a: argparse.Namespace) -> int:
    from .extract import FeatureCache
    from .pipeline import prepare_data

    t0 = time.perf_counter()
    model = _load_model(a, a.data)
    keep = [g for g in (a.genes or "").split(",") if g]
    prepared = prepare_data(a.data, model, n_genes=a.n_genes, keep_genes=keep, min_coverage=a.min_coverage, panel=a.panel,
                            layer=a.layer, use_raw=a.use_raw)
    print(f"Data: {prepared.report.summary()}")
    print(f"Vocabulary: {prepared.mapping.summary()}")
    print(f"Panel: {prepared.panel_summary()} ({len(prepared.panel) * (len(prepared.panel) - 1):,} ordered pairs)")
    sources = [g for g in a.sources.split(",") if g] if a.sources else None
    cache = None if a.no_cache else FeatureCache(a.cache_dir)
    params = _extraction_params(a)
    out = Path(a.out)
    if not a.groupby:
        _extract_into(out, prepared, model, a, params, sources, cache, t0)
        return 0
    from .groups import cells_needed, group_masks

    groups = [g for g in (a.groups or "").split(",") if g] or None
    masks = group_masks(prepared.adata.obs, a.groupby, groups, cells_needed(params))
    grns = {}
    for group, mask in masks.items():
        print(f"Group {a.groupby} = {group}: {int(mask.sum()):,} cells")
        grns[group] = _extract_into(out / _folder_name(group), prepared.subset(mask, a.groupby, group), model, a, params,
                                    sources, cache, time.perf_counter())
    if len(grns) == 2:
        _write_differential(out, grns)
    else:
        print(f"{len(grns)} groups: differential.csv compares two; name them with --groups A,B.")
    return 0


def _folder_name(group: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", str(group)).strip("._") or "group"


def _write_differential(out: Path, grns: dict) -> None:
    from .groups import differential, regulator_change

    (name_a, a), (name_b, b) = grns.items()
    diff = differential(a, b, (name_a, name_b))
    diff.to_csv(out / "differential.csv", index=False)
    print(f"Wrote {out / 'differential.csv'}: {name_a} (A) vs {name_b} (B), {diff.method.nunique()} scores x "
          f"{len(diff) // max(diff.method.nunique(), 1):,} pairs (delta = B - A; stat = delta / pooled spread of the cell "
          "draws, where --n-cell-samples > 1)")
    for method in [m for m in ("pert", "vvp", "gt") if m in set(diff.method)]:
        change = regulator_change(diff, method)
        falls = ", ".join(f"{r.source} {r.relative:+.0%}" for r in change.head(3).itertuples())
        rises = ", ".join(f"{r.source} {r.relative:+.0%}" for r in change.dropna().tail(3).iloc[::-1].itertuples())
        print(f"  {method}: summed out-edge score, {name_a} -> {name_b}; largest falls {falls}; largest rises {rises}")


def _extract_into(out: Path, prepared, model, a: argparse.Namespace, params, sources, cache, t0: float):
    """Extract on ``prepared`` and write what ``extract`` writes into ``out``; the GRN."""
    from .graph import best_ranking_column, ranked_edges_text
    from .grn import GRN
    from .pipeline import edges_table, run_extraction

    bars = StageBars(desc=lambda method: f"{method:>4}", unit="cell")
    results = run_extraction(prepared, model, a.methods, sources, params, cache, bars, engine=_engine(a))
    bars.close()
    (out / "features").mkdir(parents=True, exist_ok=True)
    for method, feats in results.items():
        feats.save_npz(out / "features" / f"{method}.npz")
    edges = edges_table(results)
    edges.to_csv(out / "edges.csv", index=False)
    label = str(a.data) if prepared.group is None else f"{a.data}, {prepared.group['groupby']} = {prepared.group['group']}"
    grn = GRN.from_extraction(model, prepared, results, params, data_label=label,
                              timings={"total": time.perf_counter() - t0}, layer=a.layer, use_raw=a.use_raw)
    grn.save(out / "grn")
    ranked_by = best_ranking_column(edges.columns)
    (out / "rankedEdges.csv").write_text(ranked_edges_text(edges, ranked_by))
    manifest = {
        "ugrn_version": __version__,
        "data": str(a.data),
        "cells": prepared.group or "all",
        "model": model.describe(),
        "methods": a.methods,
        "panel": prepared.panel,
        "panel_mode": prepared.panel_mode,
        "matrix": "raw" if a.use_raw else (a.layer or "X"),
        "panel_regulators": prepared.regulators,
        "preprocess": prepared.report.__dict__,
        "coverage": prepared.mapping.coverage,
        "params": {m: f.params for m, f in results.items()},
        "ranked_edges_by": ranked_by,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    print(f"Wrote {out/'edges.csv'} ({len(edges):,} pairs), {out/'rankedEdges.csv'} (BEELINE layout, by {ranked_by}) "
          f"and features/ for {', '.join(a.methods)} in {manifest['seconds']} s; the whole result in {out/'grn'} "
          f"(open it with `ugrn app {out/'grn'}` or ug.GRN.load)")
    return grn


def _network_sources(spec: str | None) -> set[str] | None:
    """The upper-case regulators of a reference network (None without one)."""
    if not spec:
        return None
    from .data.networks import read_network

    return set(read_network(spec).source)


def _pretrain_config(a: argparse.Namespace):
    from .models.pretrain import PretrainConfig

    return PretrainConfig(
        epochs=a.epochs, steps=a.steps, budget_s=a.budget, output=a.output, nlayers=a.layers, d_model=a.d_model, nhead=a.heads,
        d_hid=a.d_hid or 2 * a.d_model, mask_ratio=a.mask_ratio, mask_schedule=a.mask_schedule, lr=a.lr,
        batch_size=a.batch_size, value_transform=a.values, seed=a.seed, max_seq_len=a.max_seq_len,
        lr_schedule=a.lr_schedule, attention=a.attention, mask_range=tuple(a.mask_range), linear_path=a.linear_path,
        linear_rank=a.linear_rank,
    )


def cmd_pretrain(a: argparse.Namespace) -> int:
    from .data.io import read_dataset
    from .data.preprocess import preprocess, stack_datasets
    from .models.pretrain import contract_message, format_metrics, pretrain, save_pretrained
    from .models.pretrain_job import recipe_config, training_matrix

    try:  # before any data is read: a recipe the config refuses is a message, not a traceback
        cfg = _pretrain_config(a)
    except ValueError as exc:
        raise UGRNError(f"{exc} Fix the pretrain options and run again.") from None
    sources = [d for item in a.data for d in item.split(",") if d]
    adatas = {}
    for src in sources:
        adata, report = preprocess(read_dataset(src))
        print(f"Data {src}: {report.summary()}")
        adatas[src] = adata
    if len(adatas) == 1:
        X, genes, regs = training_matrix(next(iter(adatas.values())), a.n_genes, _network_sources(a.network), a.panel)
        if regs:
            print(f"Genes: {len(regs)} expressed regulators + the {a.n_genes} most "
                  "variable other genes (a model scores only the regulators it knows)")
    else:
        # each dataset's own panel, chosen as for one dataset (its expressed regulators first)
        from .pipeline import _use_symbols

        adatas = {src: _use_symbols(adata) for src, adata in adatas.items()}  # symbols, as extraction maps genes
        panels = {src: training_matrix(adata, a.n_genes, None, a.panel)[1] for src, adata in adatas.items()}
        X, genes, labels = stack_datasets(adatas, a.n_genes, panels)
        print(f"Stacked {len(adatas)} datasets: {len(X)} cells, {len(genes)} genes in the union "
              f"(each dataset's {'expressed regulators + ' if a.panel == 'regulators+hvg' else ''}{a.n_genes} most "
              "variable genes; genes a dataset did not measure are never shown to the model)")
    if a.quick:
        q = recipe_config("quick")
        cfg = replace(cfg, planned_epochs=q.planned_epochs, min_steps=q.min_steps, max_planned_steps=q.max_planned_steps,
                      budget_s=min(a.budget, q.budget_s))
    print(f"Pretraining on {len(X)} cells x {len(genes)} genes")

    def progress(step: int, total: int, h: dict) -> None:
        print(f"  step {step:5d}/{total}  train loss {h['train_loss']:.4f}  held-out {h['val_mse']:.4f}  {h['seconds']:.0f} s",
              flush=True)

    result = pretrain(X, genes, cfg, device=a.device, progress=progress, announce=lambda text: print(text, flush=True),
                      labels=None if len(adatas) == 1 else labels)
    folder = save_pretrained(result, a.out, data_description=",".join(sources))
    print(format_metrics(result.metrics))
    print(f"Wrote checkpoint folder {folder} (args.json, vocab.json, best_model.pt, metrics.json); use it with --model {folder}")
    warning = contract_message(result.metrics)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_benchmark(a: argparse.Namespace) -> int:
    from .benchmark import load_benchmark_set, run_benchmark
    from .extract import FeatureCache
    from .translator import TranslatorConfig, TranslatorSet

    t0 = time.perf_counter()
    if a.split == "dataset" and not a.translator and not (a.train_data and a.train_network):
        raise UGRNError("--split dataset needs --train-data and --train-network (or --translator DIR from an earlier run).")
    model = _load_model(a, a.data)
    test = load_benchmark_set(a.data, a.network, model, a.n_genes, a.min_coverage, name=a.name or a.data)
    print(f"Test set  {test.summary()}")
    train = None
    if a.split == "dataset" and a.train_data:
        train = load_benchmark_set(a.train_data, a.train_network, model, a.n_genes, a.min_coverage, name=a.train_data)
        print(f"Train set {train.summary()}")
    translators = TranslatorSet.load(a.translator) if a.translator else None
    cache = None if a.no_cache else FeatureCache(a.cache_dir)
    bars = StageBars(leave=False)
    result = run_benchmark(
        test, model, a.split, train, a.methods, a.classical, _extraction_params(a), cache,
        TranslatorConfig(seed=a.seed), translators, a.test_fraction, a.seed, bars, allow_mismatch=a.allow_mismatch,
        controls=a.controls, engine=_engine(a),
    )
    if result.report.get("dropped_seen_pairs"):
        print(f"Left out {result.report['dropped_seen_pairs']:,} held-out pairs with a gene the given translator "
              "trained on (they would not be predictions).")
    bars.close()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    result.metrics.to_csv(out / "metrics.csv", index=False)
    result.predictions.to_csv(out / "predictions.csv", index=False)
    result.per_source.to_csv(out / "per_source.csv", index=False)
    if a.save_translator:
        result.translators.save(a.save_translator)
    report = {**result.report, "data": a.data, "network": a.network, "train_data": a.train_data,
              "train_network": a.train_network, "translator": a.translator, "seconds_total": round(time.perf_counter() - t0, 1)}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    shown = result.metrics.pivot_table(index="method", columns=["pairs", "negatives"], values=["auroc", "auprc", "epr"], sort=False)
    print(shown.round(3).to_string())
    print(f"Wrote {out/'metrics.csv'}, predictions.csv ({len(result.predictions):,} pairs), per_source.csv, report.json in {report['seconds_total']} s"
          + (f"; translator saved to {a.save_translator}" if a.save_translator else ""))
    return 0


def cmd_predict(a: argparse.Namespace) -> int:
    import pandas as pd

    from .benchmark import extract_for, load_benchmark_set
    from .crossfit import cross_fit, edges_with_out_of_fold
    from .evaluate import auroc
    from .extract import FeatureCache
    from .translator import TranslatorConfig

    t0 = time.perf_counter()
    model = _load_model(a, a.data)
    bset = load_benchmark_set(a.data, a.network, model, a.n_genes, a.min_coverage, name=a.data)
    print(f"Data      {bset.summary()}")
    panel = bset.prepared.panel
    sources = [g for g in (a.sources or "").split(",") if g] or panel
    unknown = [g for g in sources if g not in set(panel)]
    if unknown:
        raise UGRNError(f"--sources {', '.join(unknown[:5])} not in the panel; pick from the panel's {len(panel)} genes "
                        "(or leave --sources out to score every panel gene as a source).")
    sources = list(dict.fromkeys([*sources, *sorted(set(bset.pairs.source), key=panel.index)]))
    cache = None if a.no_cache else FeatureCache(a.cache_dir)
    bars = StageBars(unit="cell")
    extract_for(bset, model, a.methods, _extraction_params(a), cache, bars, sources=sources, engine=_engine(a))
    bars.close()
    features = bset.features
    pairs = pd.DataFrame([(s, t) for s in sources for t in panel if s != t], columns=["source", "target"])
    fold_bar = StageBars(leave=False)
    cf = cross_fit(features, bset.pairs, pairs, a.folds, a.seed, TranslatorConfig(seed=a.seed),
                   info={"model": model.name, "model_digest": model.digest, "trained_on": a.data},
                   progress=lambda d, t: fold_bar("out-of-fold translators", d, t))
    fold_bar.close()
    edges = edges_with_out_of_fold(features, cf, bset.match.edges)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    edges.to_csv(out / "edges.csv", index=False)
    regulator_pairs = edges[edges.source.isin(set(bset.pairs.source))]
    summary = {c: auroc(regulator_pairs.in_network, regulator_pairs[c]) for c in edges.columns
               if c in features or c.endswith("_prob") or c == "ensemble"}
    report = {"data": a.data, "network": a.network, "model": model.describe(), "panel": panel, "sources": len(sources),
              "folds": a.folds, "seed": a.seed, "gene_folds": cf.folds, "auroc_regulator_pairs": summary,
              "seconds": round(time.perf_counter() - t0, 1)}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print("AUROC over the regulators' pairs against the network (every probability out of fold):")
    for c, v in summary.items():
        print(f"  {c:<14} {v:.3f}")
    print(f"Wrote {out/'edges.csv'} ({len(edges):,} pairs; each probability from a translator that never saw either "
          f"gene, {a.folds} gene folds) and report.json in {report['seconds']} s")
    return 0


def cmd_axis(a: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from .axis.run import run_axis
    from .axis.vae import VAEConfig

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = VAEConfig(n_latent=a.latent, epochs=a.epochs, seed=a.seed)
    bar = tqdm(total=cfg.epochs, desc="VAE epochs", unit="epoch")

    def progress(epoch: int, total: int, h: dict) -> None:
        bar.update(1)
        bar.set_postfix(val_loss=f"{h['val_loss']:.1f}")

    t0 = time.perf_counter()
    result, vae = run_axis(a.data, a.groupby, a.source, a.target, a.n_genes, cfg, a.points, progress,
                           not a.no_cache, label_head=a.label_head)
    bar.close()
    result.scores.to_csv(out / "gene_scores.csv", index=False)
    if a.gmt:
        from .pathways import enrichment, read_gmt

        gene_sets = read_gmt(a.gmt)
        for col in ("score", "baseline"):
            ranked = result.scores.iloc[np.argsort(-result.scores[col].abs().to_numpy(), kind="stable")]
            enrichment(ranked.gene.head(a.top).tolist(), vae.genes, gene_sets).to_csv(
                out / f"enrichment_{'gradient' if col == 'score' else 'baseline'}.csv", index=False)
    report = {"data": a.data, "groupby": a.groupby, "from": a.source, "to": a.target, "points": a.points,
              "label_head": a.label_head, "gmt": a.gmt, "top": a.top,
              "vae": vae.summary(), "axis_norm": float(np.linalg.norm(result.axis)), "seconds": round(time.perf_counter() - t0, 1)}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    top = result.scores.head(10)
    print(f"Wrote {out/'gene_scores.csv'} ({len(result.scores)} genes) in {report['seconds']} s. Top genes along "
          f"{a.source} -> {a.target}: " + ", ".join(f"{g} ({s:+.2f})" for g, s in zip(top.gene, top.score)))
    return 0


def app_script() -> Path:
    """The dashboard's main script: installed as ``ugrn_app`` (``pip install .``), or the
    checkout's ``app.py`` beside this package."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("ugrn_app.app")
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.origin:
        return Path(spec.origin)
    return Path(__file__).resolve().parents[1] / "app.py"


def streamlit_flags(config: Path) -> list[str]:
    """The app's ``.streamlit/config.toml`` as command-line flags, so its settings hold when
    the dashboard starts from any folder (Streamlit reads that file from the working folder)."""
    import tomllib

    if not config.is_file():
        return []
    flags = []
    for section, values in tomllib.loads(config.read_text()).items():
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--{section}.{key}={text}")
    return flags


def cmd_app(a: argparse.Namespace) -> int:
    import subprocess

    script = app_script()
    if not script.is_file():
        raise UGRNError(f"The dashboard's app.py was not found at {script}; reinstall the package (pip install .).")
    env = dict(os.environ)
    if a.server or a.roots:
        from .server import ENV_ROOTS, ServerPolicy

        spec = a.roots or env.get(ENV_ROOTS, "")
        if not spec:
            raise UGRNError(f"--server needs the data roots users may open: --roots DIR[{os.pathsep}DIR…] "
                            f"(or {ENV_ROOTS}).")
        env[ENV_ROOTS] = os.pathsep.join(str(r) for r in ServerPolicy.from_spec(spec).roots)
        print(f"Server mode: paths limited to {env[ENV_ROOTS]}", flush=True)
    if a.path:
        path = Path(a.path).expanduser().resolve()
        if not path.exists():
            raise UGRNError(f"{a.path} does not exist; give an .h5ad, an ExpressionData.csv or a BEELINE folder.")
        env["UGRN_OPEN"] = str(path)  # the home page starts on it
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), *streamlit_flags(script.parent / ".streamlit" / "config.toml"),
           *[f"--server.port={a.port}"] * (a.port is not None)]
    print("Starting the dashboard: " + " ".join(cmd[2:]) + (f" on {env['UGRN_OPEN']}" if a.path else ""), flush=True)
    return subprocess.call(cmd, env=env)


def _extraction_arguments(p: argparse.ArgumentParser) -> None:
    """Virtual-cell, device and cache options: the same for ``extract`` and ``benchmark``
    (read back by ``_extraction_params``)."""
    p.add_argument("--background", type=float, default=None, help="virtual-cell background value (default: the model's typical expressed value)")
    p.add_argument("--context", choices=["cells", "background", "masked", "partition"], default="cells",
                   help="VVP/GT virtual cell: the other genes hold the values of --n-cells real cells, outputs "
                        "averaged over them (default; n x cost), all sit at --background (the paper's design), are "
                        "all masked, or a partition into --mask-folds folds, each masked in one copy (K x cost)")
    p.add_argument("--mask-folds", type=int, default=3, help="folds of the partition context")
    p.add_argument("--n-cells", type=int, default=8, help="real cells of the cells context (a fixed sample)")
    p.add_argument("--cell-seed", type=int, default=0, help="seed of the cells context's sample of real cells")
    p.add_argument("--n-cell-samples", type=int, default=1,
                   help="draw the cells context's sample this many times (seeds --cell-seed, +1, ...): features average "
                        "over the draws and edges.csv gets each score's spread between them (<method>_sd); n x cost")
    p.add_argument("--vvp-values", type=int, default=8, help="M, source values swept by VVP")
    p.add_argument("--gt-values", type=int, default=8, help="T, source values where GT takes slopes")
    p.add_argument("--emb-mode", choices=["sum", "concat"], default="sum", help="embedding pair feature: E_i+E_j or [E_i;E_j]")
    p.add_argument("--scale", choices=["output_sd", "data_sd", "none"], default="output_sd",
                   help="divide each target's Pert/VVP/GT response by its spread, so scores compare across targets: "
                        "the model's prediction SD over 64 real cells (output_sd), the target's SD in the data "
                        "(data_sd), or raw responses (none)")
    p.add_argument("--batch-size", type=int, default=64, help="virtual cells per forward pass (halved automatically on GPU out-of-memory)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16 where this device multiplies it natively (GPU; AMX or AVX512-BF16 CPU), else fp32 with a note")
    p.add_argument("--min-coverage", type=float, default=0.5, help="refuse if fewer genes than this fraction are in the vocabulary")
    p.add_argument("--cache-dir", default=None, help="feature cache folder (default: $UGRN_CACHE_DIR or ~/.cache/ugrn_explorer)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="where chunks of sources run: this process (local) or Ray tasks, one model per worker "
                        "(needs `pip install 'ugrn-explorer[ray]'`; on a cluster the cache folder must be shared)")
    p.add_argument("--address", default=None,
                   help="with --engine ray: 'auto' joins the cluster this machine is in, HOST:PORT a remote head; "
                        "default: start Ray on this machine")
    p.add_argument("--gpus-per-task", type=float, default=0, help="with --engine ray: GPUs each chunk asks for (1: one chunk per GPU)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ugrn", description="UGRN Explorer: GRNs from frozen single-cell foundation models. "
                                "(`ugrn` after `pip install .`; `python -m ugrn_core` in a checkout.)")
    p.add_argument("--version", action="version", version=__version__)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more detail on stderr (-v info, -vv debug)")
    p.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    sub = p.add_subparsers(dest="command", required=True)

    app = sub.add_parser("app", help="start the dashboard (Streamlit) in the browser, optionally on a dataset")
    app.add_argument("path", nargs="?", default=None, help="what to open: an .h5ad, ExpressionData.csv or BEELINE folder, or a saved result (a folder from `ugrn extract` / GRN.save, or an .h5ad holding one)")
    app.add_argument("--port", type=int, default=None, help="server port (Streamlit's default: 8501)")
    app.add_argument("--server", action="store_true",
                     help="server mode for a shared server: path inputs reach only --roots and list what is there")
    app.add_argument("--roots", default=None, help=f"data roots for server mode, separated by '{os.pathsep}'")
    app.set_defaults(func=cmd_app)

    e = sub.add_parser("extract", help="extract gene-pair features and untrained edge scores",
                       description="Extract gene-pair features. " + _score_help(),
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--data", required=True, help="an .h5ad file, a BEELINE ExpressionData.csv, or 'demo'")
    e.add_argument("--model", default="default", help="scGPT checkpoint folder, or 'default' (built-in)")
    e.add_argument("--methods", type=_methods, default=_methods("pert,emb,vvp,gt"), help="comma-separated subset of pert,emb,vvp,gt")
    e.add_argument("--n-genes", type=int, default=300, help="most variable genes in the panel (regulators come on top)")
    e.add_argument("--panel", choices=PANEL_MODES, default=PANEL_MODES[0],
                   help="regulators+hvg: the expressed transcription factors (shipped human/mouse census lists) plus "
                        "the --n-genes most variable other genes, as BEELINE's TFs+N; hvg: the most variable genes only")
    e.add_argument("--genes", default="", help="comma-separated genes always kept in the panel")
    e.add_argument("--layer", default=None, help="read the expression from this layer of the .h5ad (e.g. counts) instead of X")
    e.add_argument("--use-raw", action="store_true", help="read the expression from adata.raw instead of X")
    e.add_argument("--sources", default="", help="comma-separated source genes (default: every panel gene)")
    e.add_argument("--groupby", default=None, help="a cell annotation (obs column): one network per group, from that "
                                                   "group's cells (the panel is chosen on all cells)")
    e.add_argument("--groups", default="", help="comma-separated groups of --groupby (default all); with two, "
                                                "OUT/differential.csv compares them (B - A)")
    e.add_argument("--out", required=True, help="output folder")
    _extraction_arguments(e)
    e.set_defaults(func=cmd_extract)

    t = sub.add_parser("pretrain", help="pretrain a small scGPT-architecture model on a dataset",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--data", required=True, action="append",
                   help="an .h5ad file, a BEELINE ExpressionData.csv, or 'demo'; repeat (or comma-separate) to pretrain on several datasets")
    t.add_argument("--out", required=True, help="checkpoint folder to write")
    t.add_argument("--quick", action="store_true",
                   help="the quick recipe: a third of the planned passes, at least 300 steps, a few minutes' budget "
                        "($UGRN_QUICK_BUDGET_S, default 240 s); accuracy cost in bench/results/pretrain_quick.md")
    t.add_argument("--budget", type=float, default=1200.0,
                   help="time budget in seconds: training plans its steps from the data's size and does not stop "
                        "early while the model is no better than the ridge reference, up to this budget")
    t.add_argument("--epochs", type=int, default=None,
                   help="fix the length instead of the data-scaled plan (no extension past it)")
    t.add_argument("--steps", type=int, default=None,
                   help="fix the length in optimiser steps (equal training for datasets of different sizes; "
                        "no extension past it)")
    t.add_argument("--output", choices=["residual", "plain"], default="plain",
                   help="residual: each gene's mean + its spread x the decoder, standardised loss; plain: scGPT's output")
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--d-model", type=int, default=64)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--d-hid", type=int, default=None, help="feed-forward width (default 2 x d-model)")
    t.add_argument("--n-genes", type=int, default=1200, help="genes to model (most variable; expressed regulators come on top)")
    t.add_argument("--panel", choices=PANEL_MODES, default=PANEL_MODES[0],
                   help="regulators+hvg: the expressed transcription factors of the shipped census (and of --network) "
                        "plus the --n-genes most variable other genes; hvg: the most variable genes only")
    t.add_argument("--network", default=None, help="a reference network whose expressed regulators the model should know too")
    t.add_argument("--mask-ratio", type=float, default=0.4)
    t.add_argument("--mask-schedule", choices=["fixed", "uniform"], default="fixed",
                   help="fixed: --mask-ratio; uniform: a ratio per batch from U(--mask-range)")
    t.add_argument("--mask-range", type=float, nargs=2, metavar=("LOW", "HIGH"), default=(0.15, 0.9))
    t.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                   help="after one warm-up epoch: constant, or cosine decay to 0")
    t.add_argument("--attention", choices=["full", "visible"], default="full",
                   help="full: scGPT's; visible: masked genes are never attended to")
    t.add_argument("--max-seq-len", type=int, default=128, help="genes per training sequence (random subset per batch)")
    t.add_argument("--linear-path", choices=["none", "ridge", "learned"], default="none",
                   help="beside the transformer: none (scGPT's architecture); ridge: the training cells' ridge "
                        "regression of each gene on the others, fixed, so the transformer learns what it misses; "
                        "learned: a linear path trained with the transformer")
    t.add_argument("--linear-rank", type=int, default=64, help="rank of the linear path")
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--values", choices=["log1p", "binned"], default="log1p", help="input value representation")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto")
    t.set_defaults(func=cmd_pretrain)

    b = sub.add_parser("benchmark", help="train translators on known regulations and score held-out genes or datasets",
                       description="Generalisation benchmark: gene-disjoint (--split genes) or dataset-disjoint "
                                   "(--split dataset) evaluation of pert/emb/vvp/gt translators, their ensemble, "
                                   "untrained scores and classical baselines, under balanced and full negatives.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    b.add_argument("--data", required=True, help="test dataset: .h5ad, BEELINE ExpressionData.csv, or 'demo'")
    b.add_argument("--network", required=True, help="reference network for --data: CSV/TSV, BEELINE or GENELink folder, or 'demo'")
    b.add_argument("--model", default="default", help="scGPT checkpoint folder, or 'default'")
    b.add_argument("--split", choices=["genes", "dataset"], default="genes")
    b.add_argument("--train-data", default=None, help="training dataset (--split dataset)")
    b.add_argument("--train-network", default=None, help="reference network for --train-data")
    b.add_argument("--translator", default=None, help="use this saved translator instead of training one")
    b.add_argument("--save-translator", default=None, help="folder to save the trained translator to")
    b.add_argument("--allow-mismatch", action="store_true",
                   help="apply --translator even to features of another model or other extraction settings")
    b.add_argument("--out", required=True, help="output folder (metrics.csv, predictions.csv, per_source.csv, report.json)")
    b.add_argument("--name", default=None, help="label for the test set in reports")
    b.add_argument("--methods", type=_methods, default=_methods("pert,emb,vvp,gt"), help="feature extractors")
    b.add_argument("--controls", action="store_true",
                   help="add *_random_model rows (the same pipeline on a randomly initialised model) and *_permuted_network "
                        "rows (each regulator's targets shuffled, out-degree kept): both should read near chance")
    b.add_argument("--classical", type=_classical, default=_classical("pearson,spearman,grnboost"),
                   help="model-free baselines: pearson, spearman, grnboost (GRNBoost2), genie3 (GENIE3, 1,000 trees "
                        "per target: slow, so not in the default)")
    b.add_argument("--n-genes", type=int, default=300, help="panel: most variable network genes known to the model")
    b.add_argument("--test-fraction", type=float, default=0.5, help="share of genes held out (--split genes)")
    b.add_argument("--seed", type=int, default=0)
    _extraction_arguments(b)
    b.set_defaults(func=cmd_benchmark)

    r = sub.add_parser("predict", help="out-of-fold edge probabilities for every panel pair (translators cross-fitted over genes)",
                       description="Train translators on the network's known regulations with the genes split into --folds "
                                   "folds; each pair's probability comes from the translator trained without either of its "
                                   "genes, so no shown probability is read back from training.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("--data", required=True, help="an .h5ad file, a BEELINE ExpressionData.csv, or 'demo'")
    r.add_argument("--network", required=True, help="known regulations: CSV/TSV, BEELINE or GENELink folder, or 'demo'")
    r.add_argument("--model", default="default", help="scGPT checkpoint folder, or 'default' (built-in)")
    r.add_argument("--methods", type=_methods, default=_methods("pert,emb,vvp,gt"), help="comma-separated subset of pert,emb,vvp,gt")
    r.add_argument("--n-genes", type=int, default=300, help="panel: most variable network genes known to the model")
    r.add_argument("--sources", default="", help="comma-separated source genes (default: every panel gene); regulators always included")
    r.add_argument("--folds", type=int, default=5, help="gene folds of the cross-fit (k (k+1)/2 translator sets)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", required=True, help="output folder (edges.csv, report.json)")
    _extraction_arguments(r)
    r.set_defaults(func=cmd_predict)

    x = sub.add_parser("axis", help="rank genes along a condition axis by decoder gradients (VAE)",
                       description="Train a negative-binomial VAE on the data, take the axis from the --from "
                                   "group's mean latent to the --to group's, and score each gene by the mean cosine "
                                   "between its decoder gradient and the axis (plus the decoded-means baseline).",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    x.add_argument("--data", required=True, help=".h5ad, BEELINE ExpressionData.csv, or 'demo'")
    x.add_argument("--groupby", required=True, help="obs column holding the conditions")
    x.add_argument("--from", dest="source", required=True, help="reference group (e.g. control)")
    x.add_argument("--to", dest="target", required=True, help="condition group (e.g. perturbed, disease)")
    x.add_argument("--out", required=True, help="output folder (gene_scores.csv, report.json)")
    x.add_argument("--n-genes", type=int, default=2000, help="most variable genes modelled")
    x.add_argument("--latent", type=int, default=10, help="latent dimensions")
    x.add_argument("--epochs", type=int, default=200, help="maximum epochs (early stopping on held-out loss)")
    x.add_argument("--points", default="all", help="read gradients at all cells or at one group's cells")
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--label-head", action="store_true", help="also learn P(--to | z) (a head whose gradient can be followed)")
    x.add_argument("--gmt", default=None, help="gene sets (.gmt[.gz]): writes enrichment_gradient.csv and enrichment_baseline.csv")
    x.add_argument("--top", type=int, default=200, help="top |score| (and |baseline|) genes tested against --gmt")
    x.add_argument("--no-cache", action="store_true")
    x.set_defaults(func=cmd_axis)
    return p


def _configure_logging(verbosity: int) -> None:
    """The library logs to ``ugrn_core.*``: notes (mouse symbols matched to a human vocabulary,
    a subsampled file) at WARNING, progress details at INFO. -v shows INFO, -vv DEBUG, -q
    only errors."""
    import logging

    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger("ugrn_core")
    logger.setLevel(level)
    if not any(getattr(h, "_ugrn", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler._ugrn = True
        logger.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(-1 if args.quiet else args.verbose)
    try:
        return args.func(args)
    except UGRNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
