"""Extractor throughput: batched pairs/s and the speed-up over a naive per-pair loop.

Cases:
  default  the built-in model on the demo panel (300 genes), CPU or GPU.
  scgpt    a randomly initialised model of scGPT whole-human size (12 layers, d=512,
           8 heads) over 1,200 genes, written and re-read in the real checkpoint format.

On CPU the scgpt case times a few sources and extrapolates to all 1,200 (labelled as
such). Every run first measures the machine's dense-matmul FLOP/s (the ceiling, in the
run's precision) and prints each extractor's achieved matmul FLOP/s as a fraction of it
(counted from the model's shape: GT's tangent pass repeats each linear product once and
attention's products twice), plus ``gt/vvp cost per virtual cell``.

    python bench/bench_extract.py --case default
    python bench/bench_extract.py --case scgpt [--sources 4] [--precision bf16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from ugrn_core.extract import ExtractionParams, extract_features  # noqa: E402
from ugrn_core.models.checkpoint import write_checkpoint  # noqa: E402
from ugrn_core.models.foundation import load_model  # noqa: E402
from ugrn_core.models import tangent  # noqa: E402
from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel  # noqa: E402
from ugrn_core.models.values import ValueSpec  # noqa: E402
from ugrn_core.models.vocab import GeneVocab  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def naive_pair(method, model, genes, i, j, bg, grid, mean):
    """One pair the slow way: build the cells for (i, j) alone, one forward each."""
    ids = model.token_ids(genes)
    dev = model.device
    if method == "emb":
        E = model.gene_embeddings(ids[[i, j]])
        return (E[0] + E[1]).cpu()
    if method == "pert":
        x = torch.as_tensor(mean, device=dev)[None]
        z = x.clone()
        z[0, i] = 0
        with torch.no_grad():
            return model.predict(ids, x)[0, j] - model.predict(ids, z)[0, j]
    out = []
    base = torch.full((1, len(genes)), bg, device=dev)
    if method == "vvp":
        with torch.no_grad():
            ref = model.predict(ids, base)[0, j]
            for v in grid:
                c = base.clone()
                c[0, i] = float(v)
                out.append(model.predict(ids, c)[0, j] - ref)
        return torch.stack(out)
    for v in grid:  # gt: one reverse-mode gradient of output j per value
        c = base.clone()
        c[0, i] = float(v)
        c.requires_grad_(True)
        with sdpa_kernel(SDPBackend.MATH):
            (g,) = torch.autograd.grad(model.predict(ids, c)[0, j], c)
        out.append(g[0, i])
    return torch.stack(out)


def ceiling_size(device) -> int:
    """The square matmul that shows the machine's limit: 2048 saturates a CPU, a GPU needs 8192."""
    return 8192 if device.type == "cuda" else 2048


def matmul_ceiling(device, dtype=torch.float32, size: int = 2048, seconds: float = 1.0) -> float:
    """This machine's dense-matmul FLOP/s now (the ceiling every extractor is compared with)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    torch.mm(a, b)
    sync(device)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.mm(a, b)
        n += 1
    sync(device)
    return 2 * size**3 * n / (time.perf_counter() - t0)


def forward_flops(model, n_genes: int) -> tuple[float, float]:
    """(matmul FLOPs of one cell's forward outside attention, inside attention's two products)."""
    cfg = model.module.cfg
    n, d, h = n_genes + 1, cfg.d_model, cfg.d_hid  # + <cls>
    linear = n * (2 * d + 2 * d * d)  # value encoder
    linear += cfg.nlayers * n * (2 * 4 * d * d + 2 * 2 * d * h)  # qkv + out, feed-forward
    linear += n * (2 * 2 * d * d + 2 * d)  # decoder
    attention = cfg.nlayers * 2 * 2 * n * n * d  # q k^T and P v
    return float(linear), float(attention)


def tangent_pass_flops(model, n_genes: int, shared: int = 1) -> float:
    """Matmul FLOPs of one cell's GT pass: the forward, every linear product again for the
    tangent and attention's two products twice more, except in the first layer, where the
    tangent sits on the source token alone (its q/k/v tangent is one row, its attention
    tangent O(n·d): not counted) and cells that differ only in their source's value (``shared``
    of them a batch, GT's value grid) compute the primal q/k/v and attention once."""
    cfg = model.module.cfg
    n, d = n_genes + 1, cfg.d_model
    linear, attention = forward_flops(model, n_genes)
    first_layer_qkv, first_layer_attention = n * 2 * 3 * d * d, attention / cfg.nlayers
    once = 1.0 / shared
    return float(2 * linear - first_layer_qkv * (2 - once) + 3 * attention - first_layer_attention * (3 - once))


def virtual_cells(method: str, params, model, n_sources: int) -> int:
    """Forward passes (cells) an extractor runs for n_sources in the background context."""
    if method == "pert":
        return n_sources + 1
    if method in ("vvp", "gt"):
        return n_sources * len(params.grid(model, method)) + (1 if method == "vvp" else 0)
    return 0


def bench(model, genes, sources, methods, batch_size, naive_pairs, label, repeats=3):
    dev = model.device
    # The paper's background context, which the naive loop below writes out; the cells context
    # runs the same batched code on n_cells inputs per virtual cell (n_cells x the time).
    params = ExtractionParams(context="background", batch_size=batch_size, chunk_sources=len(sources), scale="none")  # raw throughput
    mean = np.full(len(genes), model.value_spec.background, np.float32)
    bg = params.resolved_background(model)
    rows = []
    for method in methods:
        extract_features(method, model, genes, sources=sources[:1], mean_values=mean, params=params)  # warm-up
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    # interleaved rounds, median per method: a machine whose speed drifts (a shared VM) moves
    # every method alike, so the ratios between them hold
    times = {method: [] for method in methods}
    log = []  # (method, seconds) in the order run

    def timed(method):
        sync(dev)
        t0 = time.perf_counter()
        extract_features(method, model, genes, sources=sources, mean_values=mean, params=params)
        sync(dev)
        times[method].append(time.perf_counter() - t0)
        log.append((method, times[method][-1]))

    for _ in range(repeats):
        for method in methods:
            timed(method)
    paired = None
    if "gt" in times and "vvp" in times:
        # each GT timing against the mean of the VVP timings either side of it (one more VVP
        # closes the last round): a machine whose speed drifts in between moves both sides
        if log[-1][0] != "vvp":
            timed("vvp")
        ratios = []
        for i, (method, t) in enumerate(log):
            if method == "gt":
                before = next((u for m, u in reversed(log[:i]) if m == "vvp"), None)
                after = next(u for m, u in log[i + 1:] if m == "vvp")
                ratios.append(t / (after if before is None else 0.5 * (before + after)))
        paired = (float(np.median(ratios)), float(np.percentile(ratios, 25)), float(np.percentile(ratios, 75)))
        print("gt/vvp time per round (GT against the VVP rounds either side, before per-cell scaling): "
              + ", ".join(f"{r:.2f}" for r in ratios))
    for method in methods:
        dt = float(np.median(times[method]))
        pairs = len(sources) * len(genes)
        grid = params.grid(model, method) if method in ("vvp", "gt") else None
        rng = np.random.default_rng(0)
        sync(dev)
        t1 = time.perf_counter()
        for _ in range(naive_pairs):
            i, j = rng.integers(len(genes), size=2)
            naive_pair(method, model, genes, int(i), int(j), bg, grid, mean)
        sync(dev)
        naive_rate = naive_pairs / (time.perf_counter() - t1)
        peak = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else float("nan")
        cells = virtual_cells(method, params, model, len(sources))
        linear, attention = forward_flops(model, len(genes))
        # the background context: a batch holds whole sources, each at GT's values in one context
        # (shared in fp32 only: bf16 takes the whole computation)
        shared = len(grid) if method == "gt" and batch_size % len(grid) == 0 and model.precision == "fp32" else 1
        flops = cells * (tangent_pass_flops(model, len(genes), shared) if method == "gt" else (linear + attention))
        rows.append((label, method, len(sources), pairs / dt, naive_rate, dt, peak, cells, flops / dt))
    return rows, paired


def scgpt_size_model(folder: Path, n_genes: int, device, precision):
    genes = [f"GENE{i:05d}" for i in range(n_genes)]
    vocab = GeneVocab.from_genes(genes)
    cfg = ScGPTConfig(ntoken=len(vocab), d_model=512, nhead=8, d_hid=512, nlayers=12, dropout=0.2,
                      pad_idx=vocab.index_of("<pad>"))
    torch.manual_seed(0)
    write_checkpoint(folder, ScGPTModel(cfg), vocab, ValueSpec(transform="binned", value_range=(0.0, 50.0), background=25.0),
                     flash_naming=True)
    return load_model(folder, device=device, precision=precision), genes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=["default", "scgpt"], default="default")
    ap.add_argument("--methods", default="pert,emb,vvp,gt")
    ap.add_argument("--sources", type=int, default=0, help="sources to time (0 = all)")
    ap.add_argument("--genes", type=int, default=0, help="panel size (default: 300 / 1200)")
    ap.add_argument("--batch-size", type=int, default=0)
    ap.add_argument("--naive-pairs", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5, help="interleaved timing rounds per method (median)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--fused-attention", choices=tangent.FUSED_ATTENTION_CHOICES, default="cuda",
                    help="GT's fused attention kernel (Triton): on CUDA (default), wherever Triton imports, or never")
    ap.add_argument("--peak-tflops", type=float, default=0.0,
                    help="the device's datasheet peak in the run's precision: adds an 'of peak' column")
    a = ap.parse_args()
    tangent.FUSED_ATTENTION = a.fused_attention
    methods = a.methods.split(",")
    tmp = tempfile.TemporaryDirectory()
    if a.case == "default":
        model = load_model("default", device=a.device, precision=a.precision)
        genes = model.vocab.genes[: a.genes or 300]
        label = f"default ({model.n_params:,} params)"
        bs, naive = a.batch_size or 64, a.naive_pairs or 20
    else:
        model, genes = scgpt_size_model(Path(tmp.name) / "scgpt", a.genes or 1200, a.device, a.precision)
        label = f"scGPT-size random ({model.n_params/1e6:.0f} M params)"
        bs, naive = a.batch_size or (32 if model.device.type == "cuda" else 8), a.naive_pairs or 2
    n_src = a.sources or len(genes)
    sources = genes[:n_src]
    print(f"device={model.device} precision={model.precision} (asked: {a.precision}) torch={torch.__version__} "
          f"threads={torch.get_num_threads()}")
    if model.precision_note:
        print(model.precision_note)
    print(f"case={label}, panel={len(genes)} genes, timing {n_src} sources x {len(genes)} targets")
    # the precision the model really runs in (bf16 only where this machine multiplies it natively)
    bf16 = model.precision == "bf16"
    dtype, dname = (torch.bfloat16, "bf16") if bf16 else (torch.float32, "fp32")
    size = ceiling_size(model.device)
    ceiling = matmul_ceiling(model.device, dtype, size)
    print(f"ceiling: {size}x{size} {dname} torch.mm {ceiling / 1e9:.1f} GFLOP/s (measured in this run)")
    if a.peak_tflops:
        print(f"datasheet peak: {a.peak_tflops:.0f} TFLOP/s; the ceiling reaches {ceiling / 1e12 / a.peak_tflops:.1%} of it")
    rows, paired = bench(model, genes, sources, methods, bs, naive, label, a.repeats)
    if "gt" in methods:
        print(f"GT's attention: {tangent.attention_path(model.device)}")
    ceiling_after = matmul_ceiling(model.device, dtype, size)
    print(f"ceiling after the extractors: {ceiling_after / 1e9:.1f} GFLOP/s (a large change means the machine was busy)")
    ceiling = max(ceiling, ceiling_after)
    print(f"\n{'method':6} {'pairs/s':>12} {'loop pairs/s':>13} {'speed-up':>9} {'all-pairs s':>12} {'peak GiB':>9} "
          f"{'cells/s':>9} {'GFLOP/s':>8} {'of ceiling':>10}" + (f" {'of peak':>8}" if a.peak_tflops else "") + "  note")
    cells_of = {}
    for _, method, ns, rate, naive_rate, dt, peak, cells, flops in rows:
        all_pairs = len(genes) * len(genes)
        est = all_pairs / rate
        note = "measured" if ns == len(genes) else f"extrapolated from {ns} sources"
        share = f"{flops / ceiling:10.1%}" if cells else f"{'':>10}"
        if a.peak_tflops:
            share += f" {flops / (a.peak_tflops * 1e12):8.1%}" if cells else f" {'':>8}"
        print(f"{method:6} {rate:12.1f} {naive_rate:13.2f} {rate / naive_rate:8.0f}x {est:12.1f} {peak:9.2f} "
              f"{cells / dt if cells else float('nan'):9.1f} {flops / 1e9:8.1f} {share}  {note}")
        cells_of[method] = cells
    if paired is not None and cells_of.get("gt") and cells_of.get("vvp"):
        # the median of paired rounds, not a ratio of per-method medians that may come from different rounds
        per_cell = cells_of["vvp"] / cells_of["gt"]
        median, low, high = (r * per_cell for r in paired)
        print(f"gt/vvp cost per virtual cell: {median:.2f} (median of paired rounds; quartiles {low:.2f}-{high:.2f})")


if __name__ == "__main__":
    main()
