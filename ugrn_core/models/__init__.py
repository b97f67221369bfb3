"""Foundation models: the built-in default and scGPT checkpoint folders (``ug.models.load``)."""

from __future__ import annotations


def load(spec="default", device="auto", precision: str = "fp32"):
    """Load ``"default"`` (the built-in model) or an scGPT checkpoint folder (``args.json``,
    ``vocab.json``, ``best_model.pt``) as a frozen :class:`~ugrn_core.models.foundation.FoundationModel`.

    Parameters
    ----------
    spec
        ``"default"`` or the path of a checkpoint folder.
    device
        ``"auto"`` (a GPU when present), ``"cpu"`` or ``"cuda"``.
    precision
        ``"fp32"``, ``"bf16"`` or ``"fp16"``.
    """
    from .foundation import load_model

    return load_model(spec, device=device, precision=precision)


__all__ = ["load"]
