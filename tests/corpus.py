"""The bad-input corpus: small files a biologist might feed the app, generated on demand.

Each ``Case`` builds one file or folder under a temporary directory and says how the
library must answer: the exception type (a documented ``UGRNError`` subclass) and the
fragments its message must hold, one naming the problem and one the fix. The same cases
drive the library tests and the app tests (tests/test_bad_inputs.py); the README's
Troubleshooting section lists the messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from ugrn_core.data.simulate import simulate_demo
from ugrn_core.errors import CheckpointError, DataError, UGRNError, VocabularyError
from ugrn_core.models.checkpoint import write_checkpoint
from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel
from ugrn_core.models.values import ValueSpec
from ugrn_core.models.vocab import PAD_TOKEN, GeneVocab


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "data", "checkpoint" or "network": which input of the app it goes into
    build: Callable[[Path], Path]
    error: type[UGRNError]
    says: tuple[str, ...]  # the problem, and the fix


def _demo_counts(n_cells: int = 120) -> ad.AnnData:
    adata = simulate_demo(n_cells=n_cells)[0]
    adata.X = adata.X.toarray().astype(np.float32)
    return adata


def _h5ad(name: str, edit: Callable[[ad.AnnData], ad.AnnData]) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        path = d / f"{name}.h5ad"
        edit(_demo_counts()).write_h5ad(path)
        return path
    return build


def _with(value: float) -> Callable[[ad.AnnData], ad.AnnData]:
    def edit(a: ad.AnnData) -> ad.AnnData:
        a.X[len(a.X) // 2, 7] = value  # one bad entry in the middle: every value is checked
        return a
    return edit


def _text(name: str, text: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        path = d / name
        path.write_text(text)
        return path
    return build


def _truncated(d: Path) -> Path:
    path = _h5ad("whole", lambda a: a)(d)
    data = path.read_bytes()
    cut = d / "truncated.h5ad"
    cut.write_bytes(data[: len(data) // 2])
    return cut


def _empty(n_obs: int, n_vars: int) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        path = d / f"empty_{n_obs}x{n_vars}.h5ad"
        ad.AnnData(np.zeros((n_obs, n_vars), np.float32)).write_h5ad(path)
        return path
    return build


def _duplicates(a: ad.AnnData) -> ad.AnnData:
    names = list(a.var_names)
    names[5] = names[4]
    a.var_names = names
    return a


def _coverage(fraction: float) -> Callable[[ad.AnnData], ad.AnnData]:
    def edit(a: ad.AnnData) -> ad.AnnData:
        a = a[:, :100].copy()
        known = int(round(fraction * a.n_vars))
        a.var_names = [g if i < known else f"MYSTERY{i}" for i, g in enumerate(a.var_names)]
        return a
    return edit


# --- checkpoints -----------------------------------------------------------------------------

def _checkpoint(d: Path) -> Path:
    genes = [f"G{i:03d}" for i in range(1, 21)]
    torch.manual_seed(0)
    vocab = GeneVocab.from_genes(genes)
    cfg = ScGPTConfig(ntoken=len(vocab), d_model=16, nhead=2, d_hid=32, nlayers=1, dropout=0.0,
                      pad_idx=vocab.index_of(PAD_TOKEN))
    return write_checkpoint(d / "ckpt", ScGPTModel(cfg).eval(), vocab, ValueSpec(value_range=(0.0, 4.0), background=1.0))


def _ckpt(edit: Callable[[Path], None]) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        folder = _checkpoint(d)
        edit(folder)
        return folder
    return build


def _json_edit(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        data = json.loads((folder / name).read_text())
        change(data)
        (folder / name).write_text(json.dumps(data))
    return edit


class Payload:
    """Stands in for code hidden in a checkpoint: unpickling it would run ``__reduce__``."""

    def __reduce__(self):
        return (print, ("this would have run arbitrary code",))


def _pickled_code(folder: Path) -> None:
    state = torch.load(folder / "best_model.pt", weights_only=True)
    state["payload"] = Payload()
    torch.save(state, folder / "best_model.pt")


def _truncate_weights(folder: Path) -> None:
    data = (folder / "best_model.pt").read_bytes()
    (folder / "best_model.pt").write_bytes(data[: len(data) // 2])


# --- networks -------------------------------------------------------------------------------

def _network(name: str, df: pd.DataFrame, header: bool = True) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        path = d / name
        df.to_csv(path, index=False, header=header)
        return path
    return build


CASES = [
    # data
    Case("not_h5ad", "data", _text("notes.h5ad", "this is not hdf5"), DataError, ("could not be read as an .h5ad", "Re-export")),
    Case("truncated_h5ad", "data", _truncated, DataError, ("could not be read", "truncated")),
    Case("zero_bytes", "data", _text("zero.h5ad", ""), DataError, ("empty (0 bytes)", "again")),
    Case("zero_cells", "data", _empty(0, 20), DataError, ("0 cells", "unfiltered")),
    Case("zero_genes", "data", _empty(20, 0), DataError, ("0 genes", "unfiltered")),
    Case("nan_value", "data", _h5ad("nan", _with(np.nan)), DataError, ("NaN", "nan_to_num")),
    Case("inf_value", "data", _h5ad("inf", _with(np.inf)), DataError, ("infinite", "impute")),
    Case("negative_value", "data", _h5ad("neg", _with(-1.5)), DataError, ("negative", "raw counts")),
    Case("all_zero", "data", _h5ad("zeros", lambda a: ad.AnnData(np.zeros(a.shape, np.float32), var=a.var)),
         DataError, ("zero", "adata.X")),
    Case("duplicate_genes", "data", _h5ad("dups", _duplicates), DataError, ("not unique", "var_names_make_unique")),
    Case("coverage_0", "data", _h5ad("cov0", _coverage(0.0)), VocabularyError, ("0.0%", "pretrain", "scGPT checkpoint")),
    Case("coverage_10", "data", _h5ad("cov10", _coverage(0.1)), VocabularyError, ("10.0%", "pretrain", "scGPT checkpoint")),
    Case("unknown_type", "data", _text("table.xlsx", "x"), DataError, ("unknown file type", "Supported")),
    Case("missing_path", "data", lambda d: d / "nowhere.h5ad", DataError, ("does not exist", "Give an .h5ad")),
    Case("non_numeric_table", "data", _text("ExpressionData.csv", ",c1,c2\nG001,1,x\nG002,2,3\n"), DataError,
         ("non-numeric", "genes as rows")),
    # checkpoints
    Case("ckpt_missing_folder", "checkpoint", lambda d: d / "no_model", CheckpointError, ("does not exist", "args.json")),
    Case("ckpt_no_vocab", "checkpoint", _ckpt(lambda f: (f / "vocab.json").unlink()), CheckpointError, ("lacks vocab.json", "scGPT")),
    Case("ckpt_no_args", "checkpoint", _ckpt(lambda f: (f / "args.json").unlink()), CheckpointError, ("lacks args.json", "scGPT")),
    Case("ckpt_wrong_shapes", "checkpoint", _ckpt(_json_edit("args.json", lambda a: a.update(d_hid=a["d_hid"] * 2))),
         CheckpointError, ("do not belong together", "args.json")),
    Case("ckpt_vocab_vs_embedding", "checkpoint", _ckpt(_json_edit("vocab.json", lambda v: v.update(EXTRA_GENE=999))),
         CheckpointError, ("disagree", "vocab.json")),
    Case("ckpt_pickled_code", "checkpoint", _ckpt(_pickled_code), CheckpointError, ("refused for safety", "state_dict")),
    Case("ckpt_truncated_weights", "checkpoint", _ckpt(_truncate_weights), CheckpointError, ("truncated or corrupt", "again")),
    # reference networks
    Case("net_no_overlap", "network", _network("other.csv", pd.DataFrame({"source": ["ZZZ1", "ZZZ2"], "target": ["ZZZ3", "ZZZ4"]})),
         DataError, ("shares 0", "same organism")),
    Case("net_unknown_columns", "network", _network("cols.csv", pd.DataFrame({"regulator_name": ["TF01", "TF02"], "gene_b": ["G001", "G002"]})),
         DataError, ("looks like column names", "source,target")),
    Case("net_only_self_loops", "network", _network("loops.csv", pd.DataFrame({"source": ["TF01", "TF02"], "target": ["TF01", "TF02"]})),
         DataError, ("no edges", "two different genes")),
    Case("net_one_column", "network", _text("one.csv", "source\nTF01\nTF02\n"), DataError, ("1 column", "source and target")),
]

def odd_matrix(seed: int = 0) -> tuple[ad.AnnData, ad.AnnData]:
    """(clean, odd) versions of the same counts: the odd one adds an all-zero gene and cell and
    stores explicit zeros in a sparse float matrix."""
    clean = _demo_counts(150)
    X = clean.X
    odd_X = np.zeros((X.shape[0] + 1, X.shape[1] + 1), np.float32)
    odd_X[:-1, :-1] = X
    S = sp.csr_matrix(odd_X)
    # explicit zeros: three stored-but-zero entries in the (otherwise empty) last cell
    S = sp.csr_matrix((np.r_[S.data, np.zeros(3, np.float32)],
                       np.r_[S.indices, [0, 1, 2]], np.r_[S.indptr[:-1], S.indptr[-1] + 3]), shape=S.shape)
    odd = ad.AnnData(S.astype(np.float64))
    odd.var_names = list(clean.var_names) + ["ALLZERO_GENE"]
    odd.obs_names = list(clean.obs_names) + ["allzero_cell"]
    clean.X = sp.csr_matrix(X.astype(np.int64)).astype(np.float32)
    return clean, odd


__all__ = ["Case", "CASES", "odd_matrix"]
