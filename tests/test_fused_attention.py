"""The fused kernel for attention and its tangent (Triton, used on CUDA) equals the eager pass.

A CPU has no Triton backend, so the kernel runs in Triton's interpreter: ``TRITON_INTERPRET=1``
must be set before Triton compiles the kernel, hence a fresh interpreter for those checks.
Skipped where Triton is not installed (it comes with CUDA builds of torch; CI installs it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

import ugrn_core.models.tangent as tangent_mod
from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel
from ugrn_core.models.tangent import forward_with_tangent

triton = pytest.importorskip("triton")

INTERPRETED = textwrap.dedent(r'''
    import copy

    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    import ugrn_core.models.tangent as tangent
    from ugrn_core.models import attention_jvp_triton as fused
    from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel

    # 1. the kernel alone, against torch's jvp of softmax attention in float64; 70 rows and
    #    keys (short last blocks), inputs as strided views of one projection, at the launch
    #    shapes of small and large heads and at blocks of 32
    torch.manual_seed(0)
    for (b, n, h, dh), blocks in (((2, 70, 3, 16), {"block_m": 32, "block_n": 32}), ((2, 70, 3, 16), {}),
                                  ((1, 70, 2, 64), {})):
        qkv, d_qkv = torch.randn(b, n, 3, h, dh), torch.randn(b, n, 3, h, dh)
        scale = dh ** -0.5
        args = [qkv[:, :, i] for i in range(3)] + [d_qkv[:, :, i] for i in range(3)]
        ref = fused.reference_with_tangent(*args, scale)
        for dtype, tol in ((torch.float32, 2e-6), (torch.float16, 5e-3)):  # bf16: the interpreter's dot is wrong
            got = fused.attention_with_tangent(*(a.to(dtype) for a in args), scale, **blocks)
            for g, r in zip(got, ref):
                assert g.dtype == dtype and g.shape == (b, n, h, dh)
                err = (g.double() - r).abs().max().item() / r.abs().max().item()
                assert err < tol, (dh, blocks, dtype, err)

    # 2. the whole GT pass through the kernel equals the eager pass and torch's jvp
    torch.manual_seed(1)
    model = ScGPTModel(ScGPTConfig(ntoken=30, d_model=32, nhead=2, d_hid=24, nlayers=2, dropout=0.1,
                                   max_value=3.0)).eval()
    gen = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 30, (5, 40), generator=gen)
    values = torch.rand(5, 40, generator=gen) * 4
    one_hot = torch.zeros_like(values)
    one_hot[torch.arange(5), torch.tensor([0, 2, 5, 7, 11])] = 1.0
    dense = one_hot.clone()
    dense[4] = torch.randn(40, generator=gen)
    model64 = copy.deepcopy(model).double()
    calls = []
    kernel = fused.attention_with_tangent
    fused.attention_with_tangent = lambda *a, **k: calls.append(1) or kernel(*a, **k)
    # GT's one-hot tangents: the first layer keeps its one-hot rule, the second takes the kernel;
    # any dense row: both layers take it
    for tangent_in, kernel_calls in ((one_hot, 1), (dense, 2)):
        calls.clear()
        tangent.FUSED_ATTENTION = "never"
        eager = tangent.forward_with_tangent(model, ids, values, tangent_in)
        assert not calls
        tangent.FUSED_ATTENTION = "always"
        out = tangent.forward_with_tangent(model, ids, values, tangent_in)
        assert len(calls) == kernel_calls, calls
        with sdpa_kernel(SDPBackend.MATH):
            ref = torch.func.jvp(lambda v: model64(ids, v), (values.double(),), (tangent_in.double(),))
        for got, e, r in zip(out, eager, ref):
            torch.testing.assert_close(got, e, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(got.double(), r, rtol=1e-4, atol=1e-5)
    print("fused attention ok")
''')


def test_the_kernel_and_the_pass_through_it_equal_torch_jvp_in_tritons_interpreter():
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": os.getcwd()}
    run = subprocess.run([sys.executable, "-c", INTERPRETED], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "fused attention ok" in run.stdout


def _gt_inputs(model_d: int = 32):
    torch.manual_seed(1)
    model = ScGPTModel(ScGPTConfig(ntoken=30, d_model=model_d, nhead=2, d_hid=24, nlayers=2, dropout=0.1,
                                   max_value=3.0, hide_masked_keys=True)).eval()
    gen = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 30, (4, 20), generator=gen)
    values = torch.rand(4, 20, generator=gen) * 4
    tangent = torch.zeros_like(values)
    tangent[:, 3] = torch.randn(4, generator=gen)
    tangent[:, 9] = 1.0
    return model, ids, values, tangent


def test_a_kernel_that_fails_warns_once_and_the_eager_pass_answers(monkeypatch):
    from ugrn_core.models import attention_jvp_triton as fused

    model, ids, values, tangent = _gt_inputs()
    expected = forward_with_tangent(model, ids, values, tangent)

    def broken(*args, **kwargs):
        raise RuntimeError("no GPU compiler here")

    monkeypatch.setattr(fused, "attention_with_tangent", broken)
    monkeypatch.setattr(tangent_mod, "FUSED_ATTENTION", "always")
    monkeypatch.setattr(tangent_mod, "_fused_failed", [])
    with pytest.warns(UserWarning, match="fused attention kernel failed"):
        got = forward_with_tangent(model, ids, values, tangent)
    assert tangent_mod._fused_failed  # not tried again in this process
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_masked_keys_and_unsupported_heads_take_the_eager_blocks(monkeypatch):
    from ugrn_core.models import attention_jvp_triton as fused

    calls = []
    monkeypatch.setattr(fused, "attention_with_tangent", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(tangent_mod, "FUSED_ATTENTION", "always")
    monkeypatch.setattr(tangent_mod, "_fused_failed", [])
    model, ids, values, tangent = _gt_inputs()
    values[:, 5] = -1.0  # a masked gene: hidden keys, which the kernel does not take
    forward_with_tangent(model, ids, values, tangent)
    model, ids, values, tangent = _gt_inputs(model_d=24)  # heads of 12: not a power of two
    forward_with_tangent(model, ids, values, tangent)
    assert not calls and not fused.supports(12, torch.float32) and not fused.supports(16, torch.float64)


def test_an_unknown_setting_is_refused_with_the_choices(monkeypatch):
    model, ids, values, tangent = _gt_inputs()
    monkeypatch.setattr(tangent_mod, "FUSED_ATTENTION", "off")
    with pytest.raises(ValueError, match="'cuda' .*'always' or 'never'"):
        forward_with_tangent(model, ids, values, tangent)
    monkeypatch.setattr(tangent_mod, "FUSED_ATTENTION", "never")
    assert tangent_mod.attention_path("cpu") == "eager blocks (FUSED_ATTENTION='never')"
