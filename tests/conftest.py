"""Shared fixtures: tiny models in the real checkpoint format, shared data, temp caches."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ugrn_core.models.checkpoint import write_checkpoint
from ugrn_core.models.foundation import FoundationModel, load_model
from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel
from ugrn_core.models.values import ValueSpec
from ugrn_core.models.vocab import PAD_TOKEN, GeneVocab

SHARED = Path(os.environ.get("UGRN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UGRN_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} not present")
    return SHARED


def make_module(genes, d_model=16, nlayers=2, nhead=2, seed=0, dtype=torch.float32) -> tuple[ScGPTModel, GeneVocab]:
    torch.manual_seed(seed)
    vocab = GeneVocab.from_genes(genes)
    cfg = ScGPTConfig(ntoken=len(vocab), d_model=d_model, nhead=nhead, d_hid=2 * d_model,
                      nlayers=nlayers, dropout=0.0, pad_idx=vocab.index_of(PAD_TOKEN))
    module = ScGPTModel(cfg).to(dtype).eval()
    return module, vocab


def make_model(genes, dtype=torch.float32, **kw) -> FoundationModel:
    module, vocab = make_module(genes, dtype=dtype, **kw)
    spec = ValueSpec(value_range=(0.0, 4.0), background=1.0)
    return FoundationModel(module, vocab, spec, name="tiny", digest=f"tiny-{kw.get('seed', 0)}")


@pytest.fixture
def genes() -> list[str]:
    return [f"G{i}" for i in range(7)]


@pytest.fixture
def tiny_model(genes) -> FoundationModel:
    return make_model(genes)


@pytest.fixture
def tiny_checkpoint(tmp_path, genes) -> Path:
    module, vocab = make_module(genes)
    return write_checkpoint(tmp_path / "ckpt", module, vocab, ValueSpec(value_range=(0.0, 4.0), background=1.0))


@pytest.fixture(scope="session")
def default_model() -> FoundationModel:
    return load_model("default", device="cpu")


def rand_values(n_cells, n_genes, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 3, (n_cells, n_genes)).astype(np.float32)


def started(at):
    """An AppTest of the home page with features extracted: a run estimated over the auto-run
    limit (a slow, shared machine) waits for *Run extraction*, which a user would click."""
    run = [b for b in at.button if b.label == "Run extraction"]
    if run:
        run[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at
