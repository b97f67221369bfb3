"""The GPU check: one command, at most a few minutes, on a CUDA machine.

(a) CUDA fp32 and bf16 against CPU fp32 on the built-in demo model (VVP and GT scores: max
    absolute difference and Spearman rank correlation);
(a') GT's fused attention kernel and the eager blocks against float64 jvp at a scGPT-size
    head, per dtype, with their times;
(b) ``bench_extract.py --case scgpt`` in bf16 for every extractor, with peak memory, then VVP
    and GT again with GT's attention in eager blocks (``--fused-attention never``): what the
    fused kernel gains;
(c) the achieved matmul TFLOP/s against the GPU's bf16 peak (datasheet figure by name,
    and the dense-matmul ceiling measured in the same run).

``--dry`` runs everything but CUDA on the CPU (tiny sizes), so the script is tested where
there is no GPU: ``bash bench/gpu_check.sh --dry``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from ugrn_core.extract import ExtractionParams, extract_features
from ugrn_core.models.foundation import load_model
from ugrn_core.models.precision import BF16_TOLERANCE, within_bf16_tolerance

BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}  # dense


def scores(device: str, precision: str, method: str, n_sources: int) -> np.ndarray:
    model = load_model("default", device=device, precision=precision)
    genes = model.vocab.genes[:100]
    params = ExtractionParams(context="background", scale="none", batch_size=32)
    mean = np.full(len(genes), model.value_spec.background, np.float32)
    return extract_features(method, model, genes, sources=genes[:n_sources], mean_values=mean, params=params).score


def parity(device: str, n_sources: int) -> list[str]:
    lines = []
    for method in ("vvp", "gt"):
        ref = scores("cpu", "fp32", method, n_sources)
        for precision in ("fp32", "bf16"):
            got = scores(device, precision, method, n_sources)
            rho = spearmanr(ref.ravel(), got.ravel()).statistic
            diff, top = float(np.abs(got - ref).max()), float(np.abs(ref).max())
            verdict = ""
            if precision == "bf16":  # the README's bf16 tolerance, as tests/test_precision.py holds the CPU to it
                verdict = ("; within the documented bf16 tolerance" if within_bf16_tolerance(method, diff, top, rho)
                           else "; OUTSIDE the documented bf16 tolerance (max %.0f%%, Spearman >= %.3f)"
                           % (100 * BF16_TOLERANCE[method][0], BF16_TOLERANCE[method][1]))
            lines.append(f"{method} {device} {precision} vs cpu fp32: max |diff| {diff:.2e} "
                         f"(scores up to {top:.2e}), Spearman {rho:.4f}{verdict}")
    return lines


def kernel_parity(device: str, shape: tuple[int, int, int, int], dtypes: tuple[torch.dtype, ...]) -> list[str]:
    """GT's fused attention kernel and the eager blocks, each against torch's jvp of softmax
    attention in float64, per dtype (relative max error of output and tangent), with their
    times on CUDA: the first thing to read if GT's parity above fails."""
    from ugrn_core.models import attention_jvp_triton as fused
    from ugrn_core.models import tangent

    if not fused.available():
        return ["fused kernel: Triton does not import here; GT runs the eager blocks"]
    b, n, h, dh = shape
    gen = torch.Generator().manual_seed(0)
    qkv, d_qkv = torch.randn(b, n, 3, h, dh, generator=gen), torch.randn(b, n, 3, h, dh, generator=gen)
    qkv[:, :, 0] *= dh ** -0.5  # q and dq arrive scaled, as the pass hands them over
    d_qkv[:, :, 0] *= dh ** -0.5

    args = [qkv[:, :, i] for i in range(3)] + [d_qkv[:, :, i] for i in range(3)]
    ref = [r.reshape(b, n, h * dh) for r in fused.reference_with_tangent(*args, scale=1.0)]
    lines = []
    for dtype in dtypes:
        x, dx = qkv.to(device, dtype), d_qkv.to(device, dtype)
        runs = {"kernel": lambda: [t.view(b, n, h * dh) for t in fused.attention_with_tangent(
                    *(x[:, :, i] for i in range(3)), *(dx[:, :, i] for i in range(3)), scale=1.0)],
                "eager blocks": lambda: tangent._attention_across_cells(x, dx, None)}
        parts = []
        for name, run in runs.items():
            try:
                got = run()
            except Exception as err:  # noqa: BLE001 - a kernel that does not compile: say so, and go on to (b)
                parts.append(f"{name} FAILED ({type(err).__name__}: {str(err)[:200]})")
                continue
            err = max(((g.double().cpu() - r).abs().max() / r.abs().max()).item() for g, r in zip(got, ref))
            timing = ""
            if device == "cuda":
                torch.cuda.synchronize()
                t = time.perf_counter()
                for _ in range(10):
                    run()
                torch.cuda.synchronize()
                timing = f" in {(time.perf_counter() - t) * 100:.2f} ms"
            parts.append(f"{name} {err:.1e}{timing}")
        lines.append(f"attention + tangent {str(dtype).removeprefix('torch.')} [{b}, {n}, {h}, {dh}] vs float64 jvp, "
                     "relative max error: " + "; ".join(parts))
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry", action="store_true", help="no CUDA: run every step on the CPU at tiny sizes")
    ap.add_argument("--kernel-only", action="store_true", help=argparse.SUPPRESS)  # the dry run's interpreted step
    # 200 sources: on an H200 the eager GT pass took ~6 s a round for them (266.8 cells/s), so
    # (b) and (b') fit the 8 minutes with room; all 1,200 would not (~36 s a round, 4 rounds a
    # method, twice)
    ap.add_argument("--sources", type=int, default=200,
                    help="scGPT-size sources to time (0 = all 1,200; fewer are extrapolated, and labelled so)")
    a = ap.parse_args()
    if not a.dry and not torch.cuda.is_available():
        print("No CUDA device: run with --dry to exercise the script on the CPU.")
        return 1
    device = "cpu" if a.dry else "cuda"
    if a.kernel_only:  # in Triton's interpreter, whose bf16 dot is wrong: fp32 and fp16 only
        print("\n".join(kernel_parity(device, (1, 70, 2, 16), (torch.float32, torch.float16))), flush=True)
        return 0
    t0 = time.perf_counter()
    name = "CPU (dry run)" if a.dry else torch.cuda.get_device_name(0)
    print(f"# GPU check on {name}, torch {torch.__version__}\n\n## (a) parity with CPU fp32 (demo model, 100 genes)")
    for line in parity(device, 3 if a.dry else 20):
        print(line, flush=True)
    print("\n## (a') GT's fused attention kernel" + (" (dry: Triton's interpreter, a small case)" if a.dry else ""),
          flush=True)
    if a.dry:
        subprocess.run([sys.executable, __file__, "--dry", "--kernel-only"], check=True,
                       env={**os.environ, "TRITON_INTERPRET": "1"})
    else:
        print("\n".join(kernel_parity(device, (2, 1201, 8, 64), (torch.float32, torch.bfloat16, torch.float16))),
              flush=True)
    peak = next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)
    print("\n## (b) scGPT-size extraction, bf16" + (" (dry: the default model, 4 sources)" if a.dry else ""), flush=True)
    case = (["--case", "default", "--sources", "4", "--naive-pairs", "1"] if a.dry
            else ["--case", "scgpt", "--naive-pairs", "2", "--sources", str(a.sources)])
    if peak:
        case += ["--peak-tflops", str(peak)]
    # streamed, not captured: a run stopped at the time limit still shows what it measured
    bench = [sys.executable, str(Path(__file__).with_name("bench_extract.py")), *case, "--precision", "bf16", "--device", device]
    subprocess.run(bench, check=True)
    print("\n## (b') GT with the eager attention blocks, for comparison with the fused kernel above", flush=True)
    subprocess.run([*bench, "--methods", "vvp,gt", "--fused-attention", "never"], check=True)
    print("\n## (c) against the GPU's bf16 peak")
    print(f"datasheet dense bf16 peak: {peak} TFLOP/s (the 'of peak' column above)" if peak
          else f"datasheet peak unknown for {name}; compare with the measured ceiling above")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
