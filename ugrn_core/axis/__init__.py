"""Decoder gradient flows (Genes 2025): a VAE's decoder Jacobians read along a condition axis.

``vae`` trains a negative-binomial VAE on one dataset; ``jacobian`` differentiates its
decoder with respect to the latent variables (forward mode, chunked over cells); ``scores``
ranks genes by how their latent gradients align with the control -> condition axis and
follows in-silico perturbation flows.
"""

from .jacobian import decoder_jacobian
from .scores import AxisResult, axis_scores, baseline_scores, condition_axis, gradient_scores, perturbation_flow
from .vae import NBVAE, TrainedVAE, VAEConfig, fit_vae

__all__ = [
    "NBVAE", "VAEConfig", "TrainedVAE", "fit_vae", "decoder_jacobian", "condition_axis",
    "gradient_scores", "baseline_scores", "axis_scores", "AxisResult", "perturbation_flow",
]
