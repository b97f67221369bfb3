"""Which number format a model runs in, decided by measuring this machine.

bf16 pays only where the hardware multiplies it natively: GPUs from Ampere on, CPUs with
AVX512-BF16 or AMX. Elsewhere (e.g. an AVX2-only CPU) torch emulates it, often 10-100x
slower than fp32. So a bf16 request is honoured where a short matmul probe shows bf16 at
least as fast as fp32, and otherwise runs fp32 with a note that says why; the precision the
model reports (and that keys the feature cache) is the one it really runs in.
"""

from __future__ import annotations

import time
from functools import lru_cache

import torch

PRECISIONS = ("fp32", "bf16")
PROBE_SIZE = 256
# The documented bf16 tolerance (README, "bf16"), per method: the largest score difference from
# fp32 as a fraction of the largest score, and the least rank correlation of all pair scores.
# Tested on a CPU (tests/test_precision.py) and read against CUDA by bench/gpu_check.py.
BF16_TOLERANCE = {"pert": (0.05, 0.98), "vvp": (0.02, 0.995), "gt": (0.05, 0.995)}


def within_bf16_tolerance(method: str, max_abs_diff: float, max_abs_score: float, spearman: float) -> bool:
    """Whether bf16 scores stay within the documented tolerance of fp32's for ``method``."""
    max_rel, min_rho = BF16_TOLERANCE[method]
    return max_abs_diff <= max_rel * max_abs_score and spearman >= min_rho


def _throughput(dtype: torch.dtype, n: int = PROBE_SIZE, seconds: float = 0.05) -> float:
    """Matmul FLOP/s of an ``n x n`` product on the CPU in ``dtype`` (best of a short loop)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)  # warm-up
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


@lru_cache(maxsize=1)
def cpu_bf16_speedup() -> float:
    """bf16 over fp32 matmul throughput on this CPU (measured once per process)."""
    return _throughput(torch.bfloat16) / _throughput(torch.float32)


def resolve_precision(requested: str, device: torch.device) -> tuple[str, str]:
    """``(precision to run in, note for the user or "")`` for ``requested`` on ``device``."""
    if requested not in PRECISIONS:
        raise ValueError(f"Unknown precision {requested!r}; choose from {', '.join(PRECISIONS)}.")
    if requested == "fp32":
        return "fp32", ""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", ""
        return "fp32", "bf16 was asked for, but this GPU has no native bf16 (before Ampere): running fp32."
    if device.type == "cpu":
        ratio = cpu_bf16_speedup()
        if ratio >= 1.0:
            return "bf16", f"bf16 on this CPU: matmuls measured {ratio:.1f}x fp32's speed."
        return "fp32", (f"bf16 was asked for, but this CPU multiplies bf16 {1 / ratio:.0f}x slower than fp32 (measured; "
                        "no AVX512-BF16 or AMX): running fp32, which is faster and exact here.")
    return "fp32", f"bf16 is not supported on {device.type}: running fp32."


__all__ = ["BF16_TOLERANCE", "PRECISIONS", "cpu_bf16_speedup", "resolve_precision", "within_bf16_tolerance"]
