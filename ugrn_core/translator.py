"""The translator f_phi: known regulations teach a small model to read edge scores off e_ij.

One translator per feature type (pert, emb, vvp, gt): features are standardised with
statistics of the training pairs only, then a shallow MLP with a sigmoid output is trained
with binary cross-entropy (Adam, seeded) and early-stopped on held-out validation pairs.
The UGRN ensemble averages the VVP and GT logits. A logistic regression on the same
features is the sanity baseline: if the MLP cannot beat it, the features carry little
non-linear signal.

A trained set is saved as a folder: ``translator.json`` (feature specs, scaling,
logistic coefficients, settings) plus one ``<name>.pt`` state dict per MLP, loaded with
``weights_only=True``, so a translator trained on one dataset can score another safely.
It records its provenance — the model digest, the extraction settings of each feature
type and the genes its training pairs touched — because features of another model or
another virtual-cell context have the same width but mean something else, and a pair
among training genes is not a prediction: :meth:`TranslatorSet.check_applicable` refuses
the first (naming the difference), :attr:`TranslatorSet.training_genes` flags the second.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from .errors import CheckpointError, DataError, TranslatorMismatchError
from .extract.base import PairFeatures
from .training import EarlyStopping

ENSEMBLE = "ensemble"
ENSEMBLE_OF = ("vvp", "gt")
FORMAT_VERSION = 1
# Extraction settings that change what a feature means; the rest (batch sizes) do not.
PROVENANCE_KEYS = ("context", "n_cells", "vvp_values", "gt_values", "emb_mode", "fill", "mask_folds", "scale",
                   "background", "value_grid")


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return bool(np.isclose(float(a), float(b), rtol=1e-5, atol=1e-6))
    return a == b


def params_differences(trained: dict, given: dict) -> list[str]:
    """The extraction settings that differ between training and now, in words."""
    out = []
    for key in PROVENANCE_KEYS:
        if key in trained and key in given and not _same(trained[key], given[key]):
            a, b = trained[key], given[key]
            if isinstance(a, list) and len(a) > 4:
                a, b = f"{len(a)} values from {a[0]:.3g} to {a[-1]:.3g}", f"{len(b)} values from {b[0]:.3g} to {b[-1]:.3g}"
            out.append(f"{key}: trained with {a}, given {b}")
    return out


@dataclass
class TranslatorConfig:
    hidden: tuple[int, ...] = (64, 32)
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 300
    batch_size: int = 256
    patience: int = 30
    seed: int = 0


class TranslatorMLP(nn.Module):
    """e_ij (standardised) -> edge logit."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...] = (64, 32), dropout: float = 0.1):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def _pair_index(feats: PairFeatures, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row (source) and column (target) of each pair in ``feats``; a clear error if absent."""
    si = pairs.source.map({g: i for i, g in enumerate(feats.sources)})
    ti = pairs.target.map({g: i for i, g in enumerate(feats.targets)})
    if si.isna().any() or ti.isna().any():
        missing = pairs[si.isna() | ti.isna()].head(3)
        raise DataError(
            f"{feats.method} features are missing for pairs such as "
            f"{list(zip(missing.source, missing.target))}: extract them with these genes in the panel."
        )
    return si.to_numpy(int), ti.to_numpy(int)


def pair_features(feats: PairFeatures, pairs: pd.DataFrame) -> np.ndarray:
    """Rows of ``feats.features`` for each (source, target) of ``pairs``: [n_pairs, dim]."""
    si, ti = _pair_index(feats, pairs)
    return feats.features[si, ti].reshape(len(pairs), -1).astype(np.float32)


def pair_scores(feats: PairFeatures, pairs: pd.DataFrame) -> np.ndarray:
    """The untrained score (``feats.score``) of each pair."""
    si, ti = _pair_index(feats, pairs)
    return feats.score[si, ti]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Translator:
    """f_phi for one feature type; ``kind`` is ``mlp`` or ``logreg``."""

    method: str
    kind: str = "mlp"
    config: TranslatorConfig = field(default_factory=TranslatorConfig)
    spec: dict = field(default_factory=dict)  # what the features were: dim, extraction params, model
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    module: TranslatorMLP | None = None
    coef: np.ndarray | None = None
    intercept: float = 0.0
    history: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.method if self.kind == "mlp" else f"{self.method}_{self.kind}"

    def _scale(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        if X.shape[1] != len(self.mean):
            raise DataError(
                f"The {self.name} translator expects {len(self.mean)} features per pair, got {X.shape[1]}: "
                "extract with the settings it was trained with (number of virtual values, embedding mode)."
            )
        return (X - self.mean) / self.std

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> "Translator":
        X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
        y = np.asarray(y, dtype=np.float32)
        if len(np.unique(y)) < 2:
            raise DataError(f"Training pairs for the {self.name} translator need both edges and non-edges.")
        self.mean = X.mean(axis=0)
        sd = X.std(axis=0)
        self.std = np.where(sd > 1e-12, sd, 1.0).astype(np.float32)
        Z = self._scale(X)
        if self.kind == "logreg":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1.0, max_iter=2000).fit(Z, y)
            self.coef, self.intercept = lr.coef_[0].astype(np.float64), float(lr.intercept_[0])
            return self
        if self.kind != "mlp":
            raise ValueError(f"kind must be mlp or logreg, not {self.kind!r}")
        self._fit_mlp(Z, y, None if X_val is None else self._scale(X_val), None if y_val is None else np.asarray(y_val, np.float32))
        return self

    def _fit_mlp(self, Z, y, Z_val, y_val) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        self.module = TranslatorMLP(Z.shape[1], tuple(cfg.hidden), cfg.dropout)
        opt = torch.optim.Adam(self.module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        loss_fn = nn.BCEWithLogitsLoss()
        Xt, yt = torch.from_numpy(Z), torch.from_numpy(y)
        has_val = Z_val is not None and len(np.unique(y_val)) == 2
        Xv, yv = (torch.from_numpy(Z_val), torch.from_numpy(y_val)) if has_val else (Xt, yt)
        stopper = EarlyStopping(cfg.patience, min_delta=1e-5)
        self.history = []
        for epoch in range(1, cfg.epochs + 1):
            self.module.train()
            perm = torch.randperm(len(Xt), generator=gen)
            for s in range(0, len(perm), cfg.batch_size):
                idx = perm[s:s + cfg.batch_size]
                loss = loss_fn(self.module(Xt[idx]), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            self.module.eval()
            with torch.no_grad():
                val = float(loss_fn(self.module(Xv), yv))
            self.history.append(val)
            if stopper.update(val, self.module):
                break
        stopper.restore(self.module).eval()

    def logits(self, X: np.ndarray) -> np.ndarray:
        if self.mean is None:
            raise RuntimeError(f"The {self.name} translator is not trained yet.")
        Z = self._scale(X)
        if self.kind == "logreg":
            return Z.astype(np.float64) @ self.coef + self.intercept
        with torch.no_grad():
            return self.module(torch.from_numpy(Z)).double().numpy()

    def proba(self, X: np.ndarray) -> np.ndarray:
        return _sigmoid(self.logits(X))


@dataclass
class TranslatorSet:
    """The translators of one training run, applied together; includes the ensemble."""

    translators: dict[str, Translator] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # training data, network, split, model

    @classmethod
    def fit(
        cls,
        features: dict[str, PairFeatures],
        train: pd.DataFrame,
        val: pd.DataFrame | None = None,
        config: TranslatorConfig | None = None,
        kinds: tuple[str, ...] = ("mlp", "logreg"),
        info: dict | None = None,
        progress=None,
    ) -> "TranslatorSet":
        """Train one translator of each kind per feature type on labelled ``train`` pairs."""
        config = config or TranslatorConfig()
        seen = [train] + ([val] if val is not None else [])
        genes = sorted(set().union(*(set(p.source) | set(p.target) for p in seen)))
        pairs = sorted({(str(s), str(t)) for p in seen for s, t in zip(p.source, p.target)})
        out = cls(info={**dict(info or {}), "training_genes": genes, "training_pairs": [list(p) for p in pairs]})
        jobs = [(m, k) for m in features for k in kinds]
        for n, (method, kind) in enumerate(jobs, 1):
            feats = features[method]
            X = pair_features(feats, train)
            Xv = pair_features(feats, val) if val is not None and len(val) else None
            spec = {"dim": int(X.shape[1]), "params": {k: v for k, v in feats.params.items() if k in PROVENANCE_KEYS}}
            t = Translator(method, kind, config, spec).fit(X, train.label.to_numpy(), Xv, None if Xv is None else val.label.to_numpy())
            out.translators[t.name] = t
            if progress:
                progress(n, len(jobs))
        return out

    @property
    def training_genes(self) -> set[str]:
        """Genes of the pairs it trained (and early-stopped) on: a pair with one of them is not unseen."""
        return set(self.info.get("training_genes", []))

    @property
    def training_pairs(self) -> set[tuple[str, str]] | None:
        """(source, target) pairs it trained or early-stopped on; None if not recorded (older files)."""
        pairs = self.info.get("training_pairs")
        return None if pairs is None else {(s, t) for s, t in pairs}

    def differences(self, features: dict[str, PairFeatures], model_digest: str | None = None) -> list[str]:
        """How ``features`` (and the model that made them) differ from what this set trained on."""
        out = []
        trained_digest = self.info.get("model_digest")
        if model_digest and trained_digest and model_digest != trained_digest:
            out.append(f"model: trained on features of model {str(trained_digest)[:12]} "
                       f"({self.info.get('model', '?')}), given features of model {model_digest[:12]}")
        for name, t in self.translators.items():
            if t.method in features:
                out += [f"{name} {d}" for d in params_differences(t.spec.get("params", {}), features[t.method].params)]
        return out

    def check_applicable(self, features: dict[str, PairFeatures], model_digest: str | None = None,
                         allow_mismatch: bool = False) -> list[str]:
        """Refuse features made otherwise than the training ones (unless ``allow_mismatch``);
        returns the differences that were allowed."""
        diffs = self.differences(features, model_digest)
        if diffs and not allow_mismatch:
            raise TranslatorMismatchError(
                "This translator was trained on other features than the ones given, so its probabilities "
                "would not mean what they say: " + "; ".join(diffs) + ". Extract with the model and settings it "
                "was trained with, or train a translator on these features (benchmark); to apply it anyway, "
                "pass allow_mismatch=True (CLI: --allow-mismatch)."
            )
        return diffs

    def predict(self, features: dict[str, PairFeatures], pairs: pd.DataFrame, model_digest: str | None = None,
                allow_mismatch: bool = False) -> pd.DataFrame:
        """Edge probability per translator (and the ensemble) for every row of ``pairs``.

        Refuses features that differ from the training ones (see :meth:`check_applicable`).
        """
        self.check_applicable(features, model_digest, allow_mismatch)
        out = pairs[["source", "target"]].copy()
        logits = {}
        for name, t in self.translators.items():
            if t.method not in features:
                raise DataError(f"The {name} translator needs {t.method} features, which were not extracted.")
            logits[name] = t.logits(pair_features(features[t.method], pairs))
            out[name] = _sigmoid(logits[name])
        if all(m in logits for m in ENSEMBLE_OF):
            out[ENSEMBLE] = _sigmoid(np.mean([logits[m] for m in ENSEMBLE_OF], axis=0))
        return out

    @staticmethod
    def _entry(t: Translator) -> dict:
        entry = {"method": t.method, "kind": t.kind, "config": asdict(t.config), "spec": t.spec,
                 "mean": t.mean.tolist(), "std": t.std.tolist()}
        if t.kind == "logreg":
            entry.update(coef=t.coef.tolist(), intercept=t.intercept)
        return entry

    @staticmethod
    def _translator(e: dict, state: Callable[[Translator], dict]) -> Translator:
        """A translator from its :meth:`_entry`; ``state(translator)`` gives an MLP's weights."""
        cfg = TranslatorConfig(**{**e["config"], "hidden": tuple(e["config"]["hidden"])})
        t = Translator(e["method"], e["kind"], cfg, e["spec"], np.asarray(e["mean"], np.float32), np.asarray(e["std"], np.float32))
        if t.kind == "logreg":
            t.coef, t.intercept = np.asarray(e["coef"], np.float64), float(e["intercept"])
        else:
            t.module = TranslatorMLP(len(t.mean), cfg.hidden, cfg.dropout)
            try:
                t.module.load_state_dict(state(t))
            except Exception as exc:
                raise CheckpointError(f"Translator weights of {t.name} could not be loaded ({type(exc).__name__}: {str(exc)[:200]}).") from None
            t.module.eval()
        return t

    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """A JSON-able description and the MLP weights as named arrays: how a :class:`~ugrn_core.grn.GRN`
        stores its translator (in a folder or inside an AnnData)."""
        entries, arrays = [], {}
        for name, t in self.translators.items():
            entries.append(self._entry(t))
            if t.kind != "logreg":
                for key, value in t.module.state_dict().items():
                    arrays[f"{name}.{key}"] = value.detach().cpu().numpy()
        return {"info": self.info, "translators": entries}, arrays

    @classmethod
    def from_arrays(cls, doc: dict, arrays: dict[str, np.ndarray]) -> "TranslatorSet":
        def state(t: Translator) -> dict:
            prefix = f"{t.name}."
            return {k[len(prefix):]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items() if k.startswith(prefix)}

        out = cls(info=doc.get("info", {}))
        for e in doc["translators"]:
            t = cls._translator(e, state)
            out.translators[t.name] = t
        return out

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        entries = []
        for name, t in self.translators.items():
            entry = self._entry(t)
            if t.kind != "logreg":
                entry["weights"] = f"{name}.pt"
                torch.save(t.module.state_dict(), folder / f"{name}.pt")
            entries.append(entry)
        doc = {"format": "ugrn-translator", "version": FORMAT_VERSION, "info": self.info, "translators": entries}
        tmp = folder / "translator.json.tmp"
        tmp.write_text(json.dumps(doc, indent=1, default=str))
        tmp.replace(folder / "translator.json")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "TranslatorSet":
        folder = Path(folder)
        meta = folder / "translator.json"
        if not meta.is_file():
            raise CheckpointError(f"{folder} is not a saved translator (no translator.json). Train one with `benchmark --save-translator DIR`.")
        try:
            doc = json.loads(meta.read_text())
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{meta} is not valid JSON ({exc}); the file is damaged, retrain or restore it.") from None
        if doc.get("format") != "ugrn-translator":
            raise CheckpointError(f"{meta} is not a UGRN translator file.")
        out = cls(info=doc.get("info", {}))
        for e in doc["translators"]:
            t = cls._translator(e, lambda _t, e=e: torch.load(folder / e["weights"], map_location="cpu", weights_only=True))
            out.translators[t.name] = t
        return out


PROB = "_prob"  # a translator's probability column: <method>_prob (the untrained score is <method>)

__all__ = ["PROB", "TranslatorConfig", "TranslatorMLP", "Translator", "TranslatorSet", "pair_features", "pair_scores", "ENSEMBLE",
           "params_differences"]
