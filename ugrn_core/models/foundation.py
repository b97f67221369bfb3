"""The user-facing model wrapper: one small interface every extractor talks to.

``FoundationModel`` holds a frozen ``nn.Module`` plus what is needed to use it on data:
its vocabulary, its input units (:class:`ValueSpec`) and a content digest for caching.
Extractors only call :meth:`predict` and :meth:`gene_embeddings`.
"""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

from .checkpoint import read_checkpoint
from .scgpt import ScGPTModel
from .values import ValueSpec
from .vocab import CLS_TOKEN, GeneVocab

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
CLS_VALUE = 0.0


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class FoundationModel:
    """A frozen scFM ready for gene-pair feature extraction."""

    module: ScGPTModel
    vocab: GeneVocab
    value_spec: ValueSpec
    name: str = "model"
    digest: str = ""
    args: dict = field(default_factory=dict)
    ignored_keys: list[str] = field(default_factory=list)
    path: Path | None = None
    precision: str = "fp32"
    choice: str = ""  # for ``default``: which built-in model, and why
    precision_note: str = ""  # when bf16 was asked for: whether it runs, and why

    def __post_init__(self) -> None:
        self.module.eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self._cls_id = self.vocab.index_of(CLS_TOKEN)

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.module.parameters()).dtype

    def to(self, device: str | torch.device | None = "auto") -> "FoundationModel":
        self.module.to(resolve_device(device))
        return self

    def autocast(self):
        """bf16 autocast (CUDA or CPU) when ``precision == 'bf16'``; a no-op otherwise.
        :func:`load_model` only keeps bf16 where this machine runs it natively."""
        if self.precision == "bf16" and self.device.type in ("cuda", "cpu"):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def token_ids(self, genes) -> Tensor:
        return torch.as_tensor(self.vocab.ids(genes), device=self.device)

    def _inputs(self, gene_ids: Tensor, values: Tensor, *rows: Tensor) -> tuple[Tensor, ...]:
        """Per-cell ids and values with scGPT's ``<cls>`` in front (value CLS_VALUE; ``rows``,
        e.g. a tangent, get 0 there)."""
        b = values.shape[0]
        if gene_ids.ndim == 1:
            gene_ids = gene_ids.expand(b, -1)
        if self._cls_id is None:
            return (gene_ids, values, *rows)
        cls_ids = torch.full((b, 1), self._cls_id, dtype=gene_ids.dtype, device=gene_ids.device)
        return (torch.cat([cls_ids, gene_ids], dim=1), torch.cat([values.new_full((b, 1), CLS_VALUE), values], dim=1),
                *(torch.cat([r.new_zeros((b, 1)), r], dim=1) for r in rows))

    def _outputs(self, out: Tensor) -> Tensor:
        out = out.float() if out.dtype in (torch.bfloat16, torch.float16) else out
        return out[:, 1:] if self._cls_id is not None else out

    def predict(self, gene_ids: Tensor, values: Tensor) -> Tensor:
        """Predicted value of every gene, ``[batch, n_genes]``; differentiable in ``values``.

        ``gene_ids`` is ``[n_genes]`` (shared by the batch) or ``[batch, n_genes]``. A
        ``<cls>`` token is prepended when the vocabulary has one, as in scGPT's inputs.
        """
        gene_ids, values = self._inputs(gene_ids, values)
        with self.autocast():
            out = self.module(gene_ids, values)
        return self._outputs(out)

    def predict_with_tangent(self, gene_ids: Tensor, values: Tensor, tangent: Tensor) -> tuple[Tensor, Tensor]:
        """``(predict(values), its derivative along tangent)``, both ``[batch, n_genes]``, in about
        the cost of 2-3 forwards (the hand-written forward-mode pass of :mod:`.tangent`; a
        subclass with its own ``forward`` gets torch's generic jvp instead)."""
        from .tangent import forward_with_tangent

        gene_ids, values, tangent = self._inputs(gene_ids, values, tangent)
        if type(self.module).forward is ScGPTModel.forward:
            with torch.no_grad(), self.autocast():
                out, d_out = forward_with_tangent(self.module, gene_ids, values, tangent)
        else:  # a module with its own forward: the hand-written rule would not know it
            with sdpa_kernel(SDPBackend.MATH), self.autocast():
                out, d_out = torch.func.jvp(lambda v: self.module(gene_ids, v), (values,), (tangent,))
        return self._outputs(out), self._outputs(d_out)

    def gene_embeddings(self, gene_ids: Tensor) -> Tensor:
        with torch.no_grad():
            return self.module.gene_embeddings(gene_ids)

    def randomised(self, seed: int = 0) -> "FoundationModel":
        """The same architecture, vocabulary and units with freshly initialised weights: the
        control that says how much of a result comes from pretraining and how much from the
        architecture and the read-out alone. Its digest differs, so caches never mix them."""
        import copy

        torch.manual_seed(seed)
        module = type(self.module)(copy.deepcopy(self.module.cfg))
        own = dict(self.module.named_buffers())
        for name, buf in module.named_buffers():  # units (a gene's mean and scale), not learned weights
            if name in own:
                buf.copy_(own[name])
        return FoundationModel(
            module=module.to(self.device), vocab=self.vocab, value_spec=self.value_spec, name=f"{self.name} (random init)",
            digest=hashlib.sha256(f"random-init:{seed}:{self.digest}".encode()).hexdigest(), args=dict(self.args),
            path=None, precision=self.precision,
        )

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def describe(self) -> dict:
        cfg = self.module.cfg
        return {
            "name": self.name,
            **({"choice": self.choice} if self.choice else {}),
            "path": str(self.path) if self.path else None,
            "digest": self.digest[:16],
            "layers": cfg.nlayers,
            "d_model": cfg.d_model,
            "heads": cfg.nhead,
            "vocab_genes": len(self.vocab.genes),
            "parameters": self.n_params,
            "value_transform": self.value_spec.transform,
            "value_range": list(self.value_spec.value_range),
            "background": self.value_spec.background,
            **({"linear_path_rank": cfg.linear_rank} if cfg.linear_rank else {}),  # not scGPT's architecture
        }


def load_model(
    spec: str | Path = "default", device: str | torch.device | None = "auto", precision: str = "fp32",
    genes: list[str] | None = None, data=None,
) -> FoundationModel:
    """Load ``"default"`` (the built-in model that knows most of ``genes``, or of ``data``'s
    genes — an AnnData or a dataset path, read only for ``default``: the demo model, or the
    pooled real-gene model for real data) or an scGPT checkpoint folder.

    precision: ``"bf16"`` runs in bf16 where this device multiplies it natively (measured, see
    :mod:`.precision`) and in fp32 otherwise; ``model.precision_note`` says which and why."""
    from .builtin import choose_builtin, data_genes
    from .precision import resolve_precision

    precision, note = resolve_precision(precision, resolve_device(device))

    choice = choose_builtin(genes if genes is not None else data_genes(data)) if str(spec) == "default" else None
    folder = choice.folder if choice else Path(spec).expanduser()
    module, vocab, value_spec, args, info = read_checkpoint(folder)
    model = FoundationModel(
        module=module,
        vocab=vocab,
        value_spec=value_spec,
        name=("default" if choice.name == "demo" else f"default:{choice.name}") if choice else folder.name,
        choice=choice.reason if choice else "",
        digest=info["digest"],
        args=args,
        ignored_keys=info["ignored_keys"],
        path=folder,
        precision=precision,
        precision_note=note,
    )
    return model.to(device)


