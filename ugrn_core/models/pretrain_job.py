"""A model for one dataset, pretrained in the background: content-keyed, cancellable, atomic.

The app (or a notebook) asks for "a model that knows this dataset's genes". The checkpoint
folder is keyed by the data's content and the recipe, so asking twice reuses it; it is
written to a temporary folder and moved into place only when complete, so cancelling (or a
crash) never leaves a half-written checkpoint that looks usable.

Recipes: ``full`` is the ``pretrain`` command's default; ``quick`` plans a third of its
passes with a shorter floor and a few minutes' budget (``UGRN_QUICK_BUDGET_S``, default
240 s), for small datasets on a laptop. What quick costs in accuracy is measured in
``bench/results/pretrain_quick.md``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import anndata as ad
import numpy as np

from .. import __version__
from ..extract.cache import content_key, default_cache_dir
from .pretrain import PretrainConfig, pretrain, read_metrics, save_pretrained

RECIPES = ("quick", "full")


class PretrainCancelled(Exception):
    """Raised inside the training loop when the user cancels."""


def quick_budget() -> float:
    return float(os.environ.get("UGRN_QUICK_BUDGET_S", 240))


def recipe_config(recipe: str) -> PretrainConfig:
    """The :class:`PretrainConfig` of a named recipe."""
    if recipe == "full":
        return PretrainConfig()
    if recipe == "quick":
        return replace(PretrainConfig(), planned_epochs=20.0, min_steps=300, max_planned_steps=1500, budget_s=quick_budget())
    raise ValueError(f"Unknown recipe {recipe!r}; choose {' or '.join(RECIPES)}.")


def training_matrix(adata: ad.AnnData, n_genes: int = 1200, network_regulators: set[str] | None = None,
                    panel: str = "regulators+hvg") -> tuple[np.ndarray, list[str], list[str]]:
    """``(X, genes, regulators)``: the log-normalised cells x genes a model is pretrained on —
    the expressed census regulators (and ``network_regulators``) plus the ``n_genes`` most
    variable other genes (``panel="hvg"``: those only)."""
    from ..data.preprocess import dense_matrix, preprocess, select_panel
    from ..data.regulators import MAX_REGULATORS, expressed_regulators
    from ..pipeline import _use_symbols

    data, _ = preprocess(_use_symbols(adata))  # symbols where the data has them, as extraction maps genes
    regs = expressed_regulators(data, list(data.var_names), network_regulators) if panel == "regulators+hvg" else []
    genes = select_panel(data, n_genes, regulators=regs, max_regulators=MAX_REGULATORS)
    return dense_matrix(data, genes), genes, [g for g in genes if g in set(regs)]


def models_dir() -> Path:
    return default_cache_dir() / "models"


def model_folder(X: np.ndarray, genes: list[str], cfg: PretrainConfig, root: str | Path | None = None) -> Path:
    """Where the model for this matrix and recipe lives (it may not exist yet)."""
    key = content_key("pretrained-model", __version__, np.asarray(X, dtype=np.float32), list(genes), asdict(cfg))
    return Path(root or models_dir()) / key[:24]


def is_complete(folder: Path) -> bool:
    return all((folder / f).is_file() for f in ("args.json", "vocab.json", "best_model.pt", "metrics.json"))


def pretrain_for_dataset(adata: ad.AnnData, recipe: str = "quick", n_genes: int = 1200,
                         network_regulators: set[str] | None = None, root: str | Path | None = None,
                         progress: Callable[[int, int, dict], None] | None = None,
                         cancel: threading.Event | None = None, description: str = "") -> Path:
    """The checkpoint folder of a model pretrained on ``adata`` with ``recipe`` (reused if made before).

    ``progress(step, planned_steps, record)`` at every held-out check; setting ``cancel``
    stops at the next check with :class:`PretrainCancelled`, and nothing is left behind.
    """
    cfg = recipe_config(recipe)
    X, genes, _ = training_matrix(adata, n_genes, network_regulators)
    folder = model_folder(X, genes, cfg, root)
    if is_complete(folder):
        return folder

    def check(step: int, total: int, record: dict) -> None:
        if cancel is not None and cancel.is_set():
            raise PretrainCancelled("Pretraining cancelled; nothing was saved.")
        if progress:
            progress(step, total, record)

    result = pretrain(X, genes, cfg, progress=check)
    if cancel is not None and cancel.is_set():
        raise PretrainCancelled("Pretraining cancelled; nothing was saved.")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        save_pretrained(result, tmp / "model", description or f"{len(X)} cells x {len(genes)} genes ({recipe} recipe)")
        try:
            os.replace(tmp / "model", folder)  # atomic: the folder appears complete or not at all
        except OSError:
            if not is_complete(folder):  # not another session's finished copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


@dataclass
class PretrainJob:
    """One background pretraining, polled by the app: progress, ETA, outcome, cancel."""

    key: str
    recipe: str
    status: str = "running"  # running | done | failed | cancelled
    step: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    record: dict = field(default_factory=dict)
    folder: Path | None = None
    message: str = ""
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def eta_seconds(self) -> float | None:
        from ..extract.cost import eta_seconds

        return eta_seconds(self.elapsed, self.fraction)

    @property
    def metrics(self) -> dict | None:
        return read_metrics(self.folder) if self.folder else None

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> "PretrainJob":
        if self._thread is not None:
            self._thread.join(timeout)
        return self


def start_pretraining(adata: ad.AnnData, key: str, recipe: str = "quick", **kwargs) -> PretrainJob:
    """Run :func:`pretrain_for_dataset` in a daemon thread; the returned job reports on it."""
    job = PretrainJob(key, recipe)

    def progress(step: int, total: int, record: dict) -> None:
        job.step, job.total, job.record = step, total, record

    def run() -> None:
        try:
            job.folder = pretrain_for_dataset(adata, recipe, progress=progress, cancel=job._cancel, **kwargs)
            job.status = "done"
        except PretrainCancelled as exc:
            job.status, job.message = "cancelled", str(exc)
        except Exception as exc:  # shown to the user, who can retry
            job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"

    job._thread = threading.Thread(target=run, name=f"ugrn-pretrain-{key[:8]}", daemon=True)
    job._thread.start()
    return job


__all__ = ["RECIPES", "PretrainCancelled", "PretrainJob", "recipe_config", "training_matrix", "model_folder",
           "pretrain_for_dataset", "start_pretraining", "is_complete", "models_dir"]
