"""Gene vocabulary: the model's token table, read from and written to scGPT's `vocab.json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from ..errors import CheckpointError

PAD_TOKEN = "<pad>"
CLS_TOKEN = "<cls>"
EOC_TOKEN = "<eoc>"
SPECIAL_TOKENS = (PAD_TOKEN, CLS_TOKEN, EOC_TOKEN)


class GeneVocab:
    """A token -> index map with case-insensitive gene lookup.

    Gene symbols differ in case between species and sources (``Sox2`` vs ``SOX2``), so
    lookups fall back to an upper-cased index; exact matches win.
    """

    def __init__(self, token_to_index: Mapping[str, int]):
        self.token_to_index = dict(token_to_index)
        indices = list(self.token_to_index.values())
        if len(set(indices)) != len(indices):
            raise CheckpointError(
                "vocab.json maps several tokens to the same index; it is not a valid "
                "scGPT vocabulary. Use the vocab.json that came with the checkpoint."
            )
        self._upper: dict[str, str] = {}
        for token in self.token_to_index:
            self._upper.setdefault(token.upper(), token)

    @classmethod
    def from_genes(cls, genes: Iterable[str]) -> "GeneVocab":
        """Build a vocabulary for pretraining: genes first, then scGPT's special tokens."""
        genes = list(dict.fromkeys(genes))
        tokens = genes + [t for t in SPECIAL_TOKENS if t not in genes]
        return cls({t: i for i, t in enumerate(tokens)})

    @classmethod
    def load(cls, path: str | Path) -> "GeneVocab":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError(
                f"{path.name} is missing in {path.parent}. A checkpoint folder needs "
                "args.json, vocab.json and best_model.pt (the scGPT layout)."
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{path} is not valid JSON ({exc}); re-download or re-create it.") from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in data.items()
        ):
            raise CheckpointError(
                f"{path} must be a JSON object mapping gene symbols to non-negative integer "
                "indices (scGPT's vocab.json)."
            )
        return cls(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.token_to_index, indent=1))

    def __len__(self) -> int:
        return len(self.token_to_index)

    @property
    def max_index(self) -> int:
        return max(self.token_to_index.values()) if self.token_to_index else -1

    def resolve(self, gene: str) -> str | None:
        """The vocabulary's spelling of ``gene`` (exact, else case-insensitive), or None."""
        if gene in self.token_to_index:
            return gene
        return self._upper.get(str(gene).upper())

    def __contains__(self, gene: object) -> bool:
        return isinstance(gene, str) and self.resolve(gene) is not None

    def ids(self, genes: Iterable[str]) -> np.ndarray:
        """Token indices of genes (which must all be known)."""
        out = []
        for g in genes:
            token = self.resolve(g)
            if token is None:
                raise KeyError(g)
            out.append(self.token_to_index[token])
        return np.asarray(out, dtype=np.int64)

    @property
    def genes(self) -> list[str]:
        return [t for t in self.token_to_index if t not in SPECIAL_TOKENS]

    def index_of(self, token: str) -> int | None:
        return self.token_to_index.get(token)
