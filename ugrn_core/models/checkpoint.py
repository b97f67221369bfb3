"""Read and write scGPT checkpoint folders (``args.json``, ``vocab.json``, ``best_model.pt``).

Loading is strict where mistakes would give silently wrong numbers (shapes, vocabulary
size) and tolerant where scGPT checkpoints legitimately differ (extra heads such as
``mvc_decoder``; flash-attention ``Wqkv`` vs PyTorch ``in_proj`` naming; a ``module.``
prefix from distributed training). Weights are read with ``weights_only=True``: a file that
needs unpickling of arbitrary objects is refused, never executed.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import zipfile
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..files import atomic_write
from .scgpt import ScGPTConfig, ScGPTModel
from .values import ValueSpec
from .vocab import PAD_TOKEN, GeneVocab

REQUIRED_FILES = ("args.json", "vocab.json", "best_model.pt")
VALUE_SPEC_KEY = "ugrn_value_spec"
HIDE_MASKED_KEYS = "ugrn_hide_masked_keys"  # our attention-pattern option; scGPT ignores it
GENE_AFFINE = "ugrn_gene_affine"  # our per-gene output affine (buffers ugrn_gene_mean/scale)
LINEAR_PATH = "ugrn_linear_path"  # our linear path: {"rank": r} (weights ugrn_linear_*)

_RENAMES = (
    (".self_attn.Wqkv.weight", ".self_attn.in_proj_weight"),
    (".self_attn.Wqkv.bias", ".self_attn.in_proj_bias"),
)


def _unsafe_detail(exc: Exception) -> str:
    """torch's own explanation names the offending global; keep that line, without its
    terminal colour codes and its advice to switch the safety check off."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [ln.strip() for ln in text.splitlines() if "GLOBAL" in ln or "Unsupported" in ln]
    line = lines[0] if lines else text.splitlines()[0]
    return line.split(" Please use")[0][:200]


def file_digest(paths: list[Path]) -> str:
    """sha256 over the bytes of several files (a checkpoint's content identity)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _read_args(path: Path) -> dict:
    try:
        args = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}).") from None
    if not isinstance(args, dict):
        raise CheckpointError(f"{path} must hold a JSON object of training arguments.")
    style = args.get("input_emb_style", "continuous")
    if style != "continuous":
        raise CheckpointError(
            f"{path} says input_emb_style={style!r}; only scGPT's 'continuous' value "
            "encoder is supported (the whole-human and organ checkpoints use it)."
        )
    return args


def _config_from_args(args: dict, ntoken: int, pad_idx: int | None) -> ScGPTConfig:
    try:
        return ScGPTConfig(
            ntoken=ntoken,
            d_model=int(args.get("embsize", args.get("d_model", 512))),
            nhead=int(args.get("nheads", args.get("nhead", 8))),
            d_hid=int(args.get("d_hid", 512)),
            nlayers=int(args.get("nlayers", 12)),
            dropout=float(args.get("dropout", 0.2)),
            pad_idx=pad_idx,
            pre_norm=bool(args.get("pre_norm", False)),
            hide_masked_keys=bool(args.get(HIDE_MASKED_KEYS, False)),
            gene_affine=bool(args.get(GENE_AFFINE, False)),
            linear_rank=int(args.get(LINEAR_PATH, {}).get("rank", 0)),
            mask_value=float(args.get("mask_value", -1)),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"args.json has a malformed model size entry ({exc}).") from None


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} contains pickled Python objects besides tensors and was refused for "
            "safety (loading it could run arbitrary code). Re-save it as a plain state dict: "
            f"torch.save(model.state_dict(), 'best_model.pt'). Detail: {_unsafe_detail(exc)}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(
            f"{path} is not a readable PyTorch weights file (truncated or corrupt: {exc}). "
            "Copy or download it again."
        ) from None
    if isinstance(obj, dict):
        for key in ("model_state_dict", "state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors.")
    return obj


def normalise_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map scGPT key variants (flash ``Wqkv``, DDP ``module.``) to this module's names."""
    out = {}
    for key, value in state.items():
        if key.startswith("module."):
            key = key[len("module."):]
        for old, new in _RENAMES:
            if key.endswith(old):
                key = key[: -len(old)] + new
        out[key] = value
    return out


def read_checkpoint(folder: str | Path) -> tuple[ScGPTModel, GeneVocab, ValueSpec, dict, dict]:
    """Build a model from a checkpoint folder.

    Returns (module, vocab, value_spec, args, info) with ``info`` holding the content digest
    and the state-dict keys that were present but not used.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(
            f"Model folder {folder} does not exist. Pass a folder holding args.json, "
            "vocab.json and best_model.pt, or `default` for the built-in model."
        )
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise CheckpointError(
            f"Checkpoint folder {folder} lacks {', '.join(missing)}. An scGPT checkpoint "
            "folder holds args.json, vocab.json and best_model.pt together; copy the missing "
            "file(s) from the same download."
        )
    args = _read_args(folder / "args.json")
    vocab = GeneVocab.load(folder / "vocab.json")
    state = normalise_keys(_load_state_dict(folder / "best_model.pt"))

    emb = state.get("encoder.embedding.weight")
    if emb is None or emb.ndim != 2:
        raise CheckpointError(
            f"{folder / 'best_model.pt'} has no encoder.embedding.weight: it is not an scGPT "
            "model's weights."
        )
    ntoken = int(emb.shape[0])
    if vocab.max_index >= ntoken:
        raise CheckpointError(
            f"vocab.json and best_model.pt disagree: the vocabulary uses indices up to "
            f"{vocab.max_index} but the embedding has {ntoken} rows. Use the vocab.json "
            "that was saved with these weights."
        )
    cfg = _config_from_args(args, ntoken, vocab.index_of(args.get("pad_token", PAD_TOKEN)))
    module = ScGPTModel(cfg)
    expected = module.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            raise CheckpointError(
                f"best_model.pt lacks the weight {key!r} that args.json implies "
                f"(nlayers={cfg.nlayers}). args.json and best_model.pt do not belong together."
            )
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"Weight {key!r} has shape {tuple(state[key].shape)} in best_model.pt but "
                f"args.json implies {tuple(tensor.shape)} (embsize={cfg.d_model}, "
                f"d_hid={cfg.d_hid}, nheads={cfg.nhead}). args.json and best_model.pt do not "
                "belong together."
            )
    module.load_state_dict({k: state[k] for k in expected}, strict=True)
    module.eval()
    if VALUE_SPEC_KEY in args:
        spec = ValueSpec.from_dict(args[VALUE_SPEC_KEY])
    else:
        spec = ValueSpec.for_scgpt_args(args)
    info = {
        "digest": file_digest([folder / f for f in REQUIRED_FILES]),
        "ignored_keys": sorted(set(state) - set(expected)),
    }
    return module, vocab, spec, args, info


def write_checkpoint(
    folder: str | Path,
    module: ScGPTModel,
    vocab: GeneVocab,
    value_spec: ValueSpec,
    extra_args: dict | None = None,
    flash_naming: bool = False,
) -> Path:
    """Write an scGPT-format checkpoint folder that scGPT's own loader also understands.

    ``flash_naming`` writes attention weights as ``self_attn.Wqkv.*`` (how scGPT's
    flash-attention checkpoints, e.g. whole-human, store them).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = module.cfg
    args = {
        "embsize": cfg.d_model,
        "nheads": cfg.nhead,
        "d_hid": cfg.d_hid,
        "nlayers": cfg.nlayers,
        "dropout": cfg.dropout,
        "pre_norm": cfg.pre_norm,
        "pad_token": PAD_TOKEN,
        "input_emb_style": "continuous",
        "input_style": "binned" if value_spec.transform == "binned" else "log1p",
        "n_bins": value_spec.n_bins,
        "mask_value": value_spec.mask_value,
        "pad_value": value_spec.pad_value,
        "fast_transformer": flash_naming,
        VALUE_SPEC_KEY: value_spec.to_dict(),
    }
    if cfg.hide_masked_keys:  # only when set, so other checkpoints stay byte-identical to scGPT's
        args[HIDE_MASKED_KEYS] = True
    if cfg.gene_affine:
        args[GENE_AFFINE] = True
    if cfg.linear_rank:
        args[LINEAR_PATH] = {"rank": cfg.linear_rank}
    args.update(extra_args or {})
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    if flash_naming:
        renamed = {}
        for key, value in state.items():
            for new, old in _RENAMES:
                if key.endswith(old):
                    key = key[: -len(old)] + new
            renamed[key] = value
        state = renamed
    atomic_write(folder / "args.json", lambda p: Path(p).write_text(json.dumps(args, indent=2)))
    atomic_write(folder / "vocab.json", lambda p: vocab.save(p))
    atomic_write(folder / "best_model.pt", lambda p: torch.save(state, p))
    return folder
