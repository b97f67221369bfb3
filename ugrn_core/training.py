"""Early stopping with best-state restore: one helper for every model this project trains.

Why one helper: pretraining, the translator and the axis VAE all stop on a held-out loss
and return the weights of their best evaluation; written three times, the three drifted
(different tolerances, one forgot the restore on an empty history).
"""

from __future__ import annotations

import math

from torch import nn


class EarlyStopping:
    """Watch a held-out loss; keep the best weights; say when patience has run out.

    patience: evaluations without an improvement of more than ``min_delta`` before
        :meth:`update` answers True.
    warmup: the first ``warmup`` evaluations neither set the best nor count against
        patience (e.g. while a KL weight is still rising, the loss is not comparable).
    """

    def __init__(self, patience: int, min_delta: float = 0.0, warmup: int = 0):
        self.patience, self.min_delta, self.warmup = patience, min_delta, warmup
        self.best = math.inf
        self.best_state: dict | None = None
        self.best_at = 0  # evaluation number (1-based) of the best value
        self.evaluations = 0
        self.bad = 0

    def update(self, value: float, module: nn.Module) -> bool:
        """Record one evaluation; True when patience has run out."""
        self.evaluations += 1
        if self.evaluations <= self.warmup:
            return False
        if value < self.best - self.min_delta:
            self.best, self.best_at, self.bad = float(value), self.evaluations, 0
            self.best_state = {k: t.detach().clone() for k, t in module.state_dict().items()}
            return False
        self.bad += 1
        return self.bad >= self.patience

    def reset_patience(self) -> None:
        """Start counting patience again (e.g. after lowering the learning rate)."""
        self.bad = 0

    def restore(self, module: nn.Module) -> nn.Module:
        """Load the best weights seen (a no-op when no evaluation counted)."""
        if self.best_state is not None:
            module.load_state_dict(self.best_state)
        return module


__all__ = ["EarlyStopping"]
