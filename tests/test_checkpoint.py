"""Checkpoint folders: both key namings, safety, clear errors, parity with official scGPT."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_module
from ugrn_core.models.checkpoint import write_checkpoint
from ugrn_core.models.foundation import load_model
from ugrn_core.models.values import ValueSpec


def _outputs(model, genes, seed=0):
    vals = torch.as_tensor(np.random.default_rng(seed).uniform(0, 3, (4, len(genes))), dtype=torch.float32)
    with torch.no_grad():
        return model.predict(model.token_ids(genes), vals).numpy()


def test_pytorch_and_flash_namings_load_to_same_outputs(tmp_path, genes):
    module, vocab = make_module(genes)
    spec = ValueSpec()
    a = write_checkpoint(tmp_path / "pt", module, vocab, spec)
    b = write_checkpoint(tmp_path / "flash", module, vocab, spec, flash_naming=True)
    keys_b = torch.load(b / "best_model.pt", weights_only=True).keys()
    assert any(".self_attn.Wqkv.weight" in k for k in keys_b)
    assert not any("in_proj_weight" in k for k in keys_b)
    np.testing.assert_allclose(_outputs(load_model(a, "cpu"), genes), _outputs(load_model(b, "cpu"), genes), atol=1e-6)


def test_extra_heads_and_ddp_prefix_are_tolerated(tiny_checkpoint, genes):
    state = torch.load(tiny_checkpoint / "best_model.pt", weights_only=True)
    ref = _outputs(load_model(tiny_checkpoint, "cpu"), genes)
    state = {f"module.{k}": v for k, v in state.items()}
    state["module.mvc_decoder.gene2query.weight"] = torch.zeros(3, 3)
    torch.save(state, tiny_checkpoint / "best_model.pt")
    model = load_model(tiny_checkpoint, "cpu")
    assert model.ignored_keys == ["mvc_decoder.gene2query.weight"]
    np.testing.assert_allclose(_outputs(model, genes), ref, atol=1e-6)


def test_real_scgpt_vocab_and_args_shape_a_whole_human_model(shared_data, tmp_path):
    """The real whole-human vocab.json + args.json with weights of the matching shapes."""
    from ugrn_core.models.checkpoint import read_checkpoint
    from ugrn_core.models.vocab import GeneVocab

    src = shared_data / "models" / "scGPT_human"
    vocab = GeneVocab.load(src / "vocab.json")
    assert len(vocab) == 60697 and vocab.index_of("<pad>") == 60694
    args = json.loads((src / "args.json").read_text())
    # A shrunken-depth copy keeps the test light; the vocabulary is the real 60,697 tokens.
    args["nlayers"] = 1
    folder = tmp_path / "human"
    folder.mkdir()
    (folder / "args.json").write_text(json.dumps(args))
    (folder / "vocab.json").write_bytes((src / "vocab.json").read_bytes())
    from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel

    cfg = ScGPTConfig(ntoken=60697, d_model=512, nhead=8, d_hid=512, nlayers=1, pad_idx=60694)
    write_checkpoint(folder, ScGPTModel(cfg), vocab, ValueSpec.for_scgpt_args(args), flash_naming=True)
    (folder / "args.json").write_text(json.dumps(args))  # the real args, without our extras
    module, vocab2, spec, _, info = read_checkpoint(folder)
    assert spec.transform == "binned" and spec.value_range == (0.0, 50.0)
    assert module.cfg.d_model == 512 and vocab2.resolve("sox2") == "SOX2"


def _official_scgpt_model_module():
    spec = importlib.util.find_spec("scgpt")
    if spec is None:
        pytest.skip("scgpt not installed (pip install --no-deps scgpt)")
    model_dir = Path(spec.origin).parent / "model"
    # scgpt/__init__ imports torchtext (broken beside torch 2.13); load only its model code.
    pkg = types.ModuleType("_scgpt_model_only")
    pkg.__path__ = [str(model_dir)]
    sys.modules["_scgpt_model_only"] = pkg
    mspec = importlib.util.spec_from_file_location("_scgpt_model_only.model", model_dir / "model.py")
    mod = importlib.util.module_from_spec(mspec)
    sys.modules[mspec.name] = mod
    with pytest.warns(UserWarning):  # "flash_attn is not installed"
        mspec.loader.exec_module(mod)
    return mod


def test_parity_with_official_scgpt_transformer(tmp_path, genes):
    official = _official_scgpt_model_module()
    module, vocab = make_module(genes, d_model=32, nlayers=3, nhead=4, seed=7)
    folder = write_checkpoint(tmp_path / "ck", module, vocab, ValueSpec())
    ours = load_model(folder, "cpu")

    state = torch.load(folder / "best_model.pt", weights_only=True)
    ref = official.TransformerModel(
        ntoken=len(vocab), d_model=32, nhead=4, d_hid=64, nlayers=3, vocab=vocab.token_to_index,
        dropout=0.0, pad_token="<pad>", pad_value=-2, input_emb_style="continuous",
    )
    missing, unexpected = ref.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(k.split(".")[0] in ("cls_decoder",) for k in missing)
    ref.eval()

    rng = np.random.default_rng(1)
    ids = torch.as_tensor(np.r_[vocab.index_of("<cls>"), vocab.ids(genes)])[None].repeat(3, 1)
    vals = torch.as_tensor(np.c_[np.zeros(3), rng.uniform(0, 5, (3, len(genes)))], dtype=torch.float32)
    with torch.no_grad():
        expected = ref(ids, vals, src_key_padding_mask=torch.zeros_like(ids, dtype=torch.bool))["mlm_output"]
        got = ours.module(ids, vals)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)
