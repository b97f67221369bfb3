"""The scGPT architecture as a plain ``torch.nn.Module``.

Parameter names follow scGPT's ``TransformerModel`` with PyTorch encoder naming
(``self_attn.in_proj_weight``), so a real scGPT state dict loads without conversion beyond
the flash-attention rename done in :mod:`.checkpoint`. Attention goes through
``F.scaled_dot_product_attention`` so CUDA picks a fused kernel, while forward-mode
autodiff (needed by the Gradient-Trajectory extractor) can force the math kernel.
Only what reading GRNs needs is built: gene/value encoders, the transformer and the
expression decoder (``mlm_output``); scGPT's other heads are ignored on load.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class ScGPTConfig:
    """Shape of an scGPT model; mirrors the keys of scGPT's ``args.json``."""

    ntoken: int
    d_model: int = 512
    nhead: int = 8
    d_hid: int = 512
    nlayers: int = 12
    dropout: float = 0.2
    pad_idx: int | None = None
    pre_norm: bool = False
    max_value: float = 512.0
    hide_masked_keys: bool = False  # attention pattern: no position attends to a masked gene
    mask_value: float = -1.0
    gene_affine: bool = False  # output = gene mean + gene scale x decoder (see ScGPTModel)
    linear_rank: int = 0  # rank of the linear path from the visible genes to every output (0: none; see ScGPTModel)

    def to_dict(self) -> dict:
        return asdict(self)


class GeneEncoder(nn.Module):
    def __init__(self, ntoken: int, d_model: int, padding_idx: int | None):
        super().__init__()
        self.embedding = nn.Embedding(ntoken, d_model, padding_idx=padding_idx)
        self.enc_norm = nn.LayerNorm(d_model)

    def forward(self, gene_ids: Tensor) -> Tensor:
        return self.enc_norm(self.embedding(gene_ids))


class ContinuousValueEncoder(nn.Module):
    """Maps a real expression value to a vector (scGPT's 'continuous' input style)."""

    def __init__(self, d_model: int, dropout: float, max_value: float):
        super().__init__()
        self.linear1 = nn.Linear(1, d_model)
        self.linear2 = nn.Linear(d_model, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.max_value = max_value

    def forward(self, values: Tensor) -> Tensor:
        x = torch.clamp(values.unsqueeze(-1), max=self.max_value)
        x = self.linear2(F.relu(self.linear1(x)))
        return self.dropout(self.norm(x))


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter layout."""

    def __init__(self, d_model: int, nhead: int):
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"d_model={d_model} is not divisible by nhead={nhead}")
        self.nhead = nhead
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: Tensor, attn_mask: Tensor | None) -> Tensor:
        b, n, d = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(b, n, 3, self.nhead, d // self.nhead).permute(2, 0, 3, 1, 4)
        # No dropout on attention weights: on CPU it forces SDPA's slow math path (~10x).
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class EncoderLayer(nn.Module):
    """Transformer encoder layer (ReLU feed-forward, post-norm by default, as scGPT)."""

    def __init__(self, d_model: int, nhead: int, d_hid: int, dropout: float, pre_norm: bool):
        super().__init__()
        self.self_attn = SelfAttention(d_model, nhead)
        self.linear1 = nn.Linear(d_model, d_hid)
        self.linear2 = nn.Linear(d_hid, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.pre_norm = pre_norm

    def _ff(self, x: Tensor) -> Tensor:
        return self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x)))))

    def forward(self, x: Tensor, attn_mask: Tensor | None) -> Tensor:
        if self.pre_norm:
            x = self.norm1(x)
            x = x + self.dropout(self.self_attn(x, attn_mask))
            x = self.norm2(x)
            return x + self._ff(x)
        x = self.norm1(x + self.dropout(self.self_attn(x, attn_mask)))
        return self.norm2(x + self._ff(x))


class TransformerStack(nn.Module):
    def __init__(self, cfg: ScGPTConfig):
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(cfg.d_model, cfg.nhead, cfg.d_hid, cfg.dropout, cfg.pre_norm)
            for _ in range(cfg.nlayers)
        )

    def forward(self, x: Tensor, attn_mask: Tensor | None) -> Tensor:
        for layer in self.layers:
            x = layer(x, attn_mask)
        return x


class ExprDecoder(nn.Module):
    def __init__(self, d_model: int):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(d_model, d_model),
            nn.LeakyReLU(),
            nn.Linear(d_model, d_model),
            nn.LeakyReLU(),
            nn.Linear(d_model, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x).squeeze(-1)


class ScGPTModel(nn.Module):
    """scGPT: gene tokens + continuous values -> transformer -> per-gene expression."""

    def __init__(self, cfg: ScGPTConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = GeneEncoder(cfg.ntoken, cfg.d_model, cfg.pad_idx)
        self.value_encoder = ContinuousValueEncoder(cfg.d_model, cfg.dropout, cfg.max_value)
        self.transformer_encoder = TransformerStack(cfg)
        self.decoder = ExprDecoder(cfg.d_model)
        nn.init.uniform_(self.encoder.embedding.weight, -0.1, 0.1)
        if cfg.gene_affine:
            # Per-gene output affine (this project's option; scGPT's models have none): the
            # decoder predicts a gene's standardised deviation from its pretraining mean, so
            # training starts at the gene-mean level and every gene weighs alike in the loss.
            self.register_buffer("ugrn_gene_mean", torch.zeros(cfg.ntoken))
            self.register_buffer("ugrn_gene_scale", torch.ones(cfg.ntoken))
        if cfg.linear_rank:
            # A low-rank linear path beside the transformer (this project's option): output j
            # gains sum_i (x_i - centre_i) u_i.w_j over the visible genes i != j. A linear
            # predictor finds weak co-expression that a transformer trained from scratch on a
            # few hundred cells sits out at the gene-mean plateau, and its gradient, u_i.w_j,
            # is a regression coefficient, which is what VVP/GT read.
            self.ugrn_linear_in = nn.Embedding(cfg.ntoken, cfg.linear_rank)
            self.ugrn_linear_out = nn.Embedding(cfg.ntoken, cfg.linear_rank)
            nn.init.normal_(self.ugrn_linear_in.weight, std=cfg.linear_rank ** -0.5)
            nn.init.zeros_(self.ugrn_linear_out.weight)  # the path starts silent
            self.register_buffer("ugrn_linear_centre", torch.zeros(cfg.ntoken))
            self.register_buffer("ugrn_linear_gene", torch.zeros(cfg.ntoken))  # 1: a gene the path reads

    def forward(
        self, gene_ids: Tensor, values: Tensor, key_padding_mask: Tensor | None = None
    ) -> Tensor:
        """Predicted expression per position, shape ``[batch, seq]``.

        ``key_padding_mask`` is True at padded positions (PyTorch convention). With
        ``hide_masked_keys`` masked genes are hidden the same way, so each prediction is a
        function of the visible genes only (a masked gene still queries, it is not read).
        A sequence needs one visible position, e.g. scGPT's ``<cls>``.
        Differentiable in ``values`` (forward and reverse mode).
        """
        x = self.encoder(gene_ids) + self.value_encoder(values)
        out = self.decoder(self.transformer_encoder(x, self.attention_mask(values, key_padding_mask)))
        if self.cfg.linear_rank:
            out = out + self.linear_path(gene_ids, values, key_padding_mask)
        if self.cfg.gene_affine:
            out = self.ugrn_gene_mean[gene_ids] + self.ugrn_gene_scale[gene_ids] * out
        return out

    def linear_path(self, gene_ids: Tensor, values: Tensor, key_padding_mask: Tensor | None = None,
                    tangent: Tensor | None = None) -> Tensor:
        """The linear path's term, ``[batch, seq]``; with ``tangent``, its derivative along
        that tangent of the values (the path is linear: the same map without the centre).

        Which genes count is decided by ``values``: the path's genes, not masked, not padding. A
        masked gene counts as its centre, as the ridge reference of pretraining treats it.
        """
        visible = self.ugrn_linear_gene[gene_ids] * (values.detach() != self.cfg.mask_value)
        if key_padding_mask is not None:
            visible = visible * ~key_padding_mask
        x = visible * (values - self.ugrn_linear_centre[gene_ids] if tangent is None else tangent)
        u, w = self.ugrn_linear_in(gene_ids), self.ugrn_linear_out(gene_ids)  # [b, n, r]
        pooled = torch.einsum("bn,bnr->br", x, u)
        return torch.einsum("bnr,br->bn", w, pooled) - x * (u * w).sum(-1)  # i != j

    def set_linear_path(self, gene_ids: Tensor, centre: Tensor) -> None:
        """Name the genes the linear path reads and their centres (model units)."""
        if not self.cfg.linear_rank:
            raise ValueError("This model was built without a linear path (linear_rank=0).")
        with torch.no_grad():
            self.ugrn_linear_gene.zero_()
            self.ugrn_linear_gene[gene_ids] = 1.0
            self.ugrn_linear_centre[gene_ids] = centre.to(self.ugrn_linear_centre)

    def attention_mask(self, values: Tensor, key_padding_mask: Tensor | None = None) -> Tensor | None:
        """``[batch, 1, 1, seq]``, True where a position may be attended to (None: everywhere):
        not padding, and with ``hide_masked_keys`` not a masked gene."""
        hidden = key_padding_mask
        if self.cfg.hide_masked_keys:
            masked = values.detach() == self.cfg.mask_value
            hidden = masked if hidden is None else hidden | masked
        if hidden is None or not bool(hidden.any()):
            return None
        return (~hidden)[:, None, None, :]

    def set_gene_affine(self, gene_ids: Tensor, mean: Tensor, scale: Tensor) -> None:
        """Store the genes' pretraining means and spreads (model units) in the output affine."""
        if not self.cfg.gene_affine:
            raise ValueError("This model was built without gene_affine=True.")
        with torch.no_grad():
            self.ugrn_gene_mean[gene_ids] = mean.to(self.ugrn_gene_mean)
            self.ugrn_gene_scale[gene_ids] = scale.to(self.ugrn_gene_scale)

    def gene_embeddings(self, gene_ids: Tensor) -> Tensor:
        """Gene-token embeddings as the transformer sees them (after the LayerNorm)."""
        return self.encoder(gene_ids)
