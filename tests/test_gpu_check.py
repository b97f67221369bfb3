"""bench/gpu_check.sh runs on a CPU in its dry mode: every step but CUDA."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import torch

from ugrn_core.models import attention_jvp_triton as fused

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_dry_mode_exercises_every_step():
    env = {**os.environ, "PYTHON": sys.executable}
    out = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--dry"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=400)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert text.count("vs cpu fp32: max |diff| 0.00e+00") == 4  # the CPU against itself: identical
    assert "ceiling: 2048x2048 fp32 torch.mm" in text and "gt/vvp cost per virtual cell:" in text
    assert "## (c) against the GPU's bf16 peak" in text
    assert text.count("within the documented bf16 tolerance") == 2  # the verdict on both methods
    if not fused.available():
        assert "fused kernel: Triton does not import here" in text
    else:  # the kernel in Triton's interpreter and the eager blocks, each against float64 jvp
        errors = {}
        for line in text.splitlines():
            if line.startswith("attention + tangent "):
                dtype = line.split()[3]
                for who in ("kernel", "eager blocks"):
                    errors[dtype, who] = float(re.search(who + r" ([0-9.e+-]+)", line)[1])
        assert set(errors) == {(d, w) for d in ("float32", "float16") for w in ("kernel", "eager blocks")}, errors
        assert all(errors[("float32", w)] < 2e-6 and errors[("float16", w)] < 5e-3 for w in ("kernel", "eager blocks"))


def test_gpu_check_without_cuda_says_how_to_dry_run():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_check.py")], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1 and "--dry" in out.stdout


def test_a_kernel_that_fails_is_reported_and_the_check_goes_on(monkeypatch):
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)

    def broken(*args, **kwargs):
        raise RuntimeError("PTX could not be compiled")

    monkeypatch.setattr(fused, "available", lambda: True)
    monkeypatch.setattr(fused, "attention_with_tangent", broken)
    [line] = gpu_check.kernel_parity("cpu", (1, 9, 2, 16), (torch.float32,))
    assert "kernel FAILED (RuntimeError: PTX could not be compiled)" in line
    assert float(re.search(r"eager blocks ([0-9.e+-]+)", line)[1]) < 1e-6
