"""Decoder Jacobians dy/dz, forward mode, chunked over latent points.

Forward mode costs one pass per latent dimension (d ~ 10) instead of one per gene (G ~
2,000), so ``vmap(jacfwd(decode))`` is the cheap direction here. Chunking keeps memory at
``chunk x G x d`` floats whatever the number of cells.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch
from torch.func import jacfwd, vmap


def iter_jacobians(decode: Callable[[torch.Tensor], torch.Tensor], Z, chunk: int = 256) -> Iterator[torch.Tensor]:
    """Yield ``[chunk, G, d]`` Jacobians of ``decode`` at the rows of ``Z``."""
    Z = torch.as_tensor(np.asarray(Z, dtype=np.float32))
    single = jacfwd(lambda z: decode(z[None])[0])
    for i in range(0, len(Z), chunk):
        yield vmap(single)(Z[i:i + chunk])


def decoder_jacobian(decode, Z, chunk: int = 256) -> np.ndarray:
    """All Jacobians at once, ``[n, G, d]`` (small inputs; use iter_jacobians to reduce on the fly)."""
    return torch.cat(list(iter_jacobians(decode, Z, chunk))).numpy()


__all__ = ["iter_jacobians", "decoder_jacobian"]
