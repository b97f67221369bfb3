"""User-facing errors.

Every problem a user can cause (bad file, unknown genes, wrong checkpoint) raises a
subclass of :class:`UGRNError` whose message names the problem *and* the fix, so the CLI
and the app can show it verbatim instead of a traceback.
"""


class UGRNError(Exception):
    """Base class: a problem with the user's input, explained in the message."""


class DataError(UGRNError):
    """The expression data cannot be used as given (format, values, empty)."""


class ScaledDataError(DataError):
    """The expression matrix has negative values (scaled or centred)."""


class VocabularyError(UGRNError):
    """The dataset's genes are not (sufficiently) known to the chosen model."""


class CheckpointError(UGRNError):
    """A model checkpoint folder is missing files, corrupt, unsafe or inconsistent."""


class TranslatorMismatchError(UGRNError):
    """A saved translator is applied to features made by another model or other settings."""


class GeneNotFoundError(UGRNError):
    """A gene the user asked for is not in the panel or the model's vocabulary."""


def suggest_model_fix(data_hint: str = "PATH") -> str:
    """The two ways out when a model does not know a dataset's genes."""
    return (
        "Two ways out: (1) pretrain a small model on this dataset "
        f"(`python -m ugrn_core pretrain --data {data_hint} --out my_model`, a few minutes "
        "on CPU) and pass `--model my_model`; or (2) load a real scGPT checkpoint folder "
        "(args.json, vocab.json, best_model.pt, e.g. scGPT whole-human) with `--model DIR`."
    )
