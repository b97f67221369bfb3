"""Server mode: on a shared server, path inputs reach only the lab's data roots.

On a laptop a path box may read any file the user can. On a server shared by a lab, the
same box would let one user open another's files or system files, so in server mode
(``UGRN_SERVER_ROOTS``, or ``ugrn app --server --roots …``) every path is resolved to its
real location (``..`` and symlinks followed) and refused unless it lies under an allowed
root, with a message that names the roots and nothing of the refused file; the app offers
the datasets, models, networks and gene sets found under the roots as choices instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import UGRNError

ENV_ROOTS = "UGRN_SERVER_ROOTS"
KINDS = ("dataset", "result", "model", "network", "gene sets", "translator")
_TABLE = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
MAX_DEPTH = 5
MAX_CHOICES = 500


class PathNotAllowed(UGRNError):
    """A path outside the server's data roots."""


def _is_model(folder: Path) -> bool:
    return all((folder / f).is_file() for f in ("args.json", "vocab.json", "best_model.pt"))


def _is_result(folder: Path) -> bool:
    return (folder / "grn").is_dir() or (folder / "grn.json").is_file()


def _kinds_of(path: Path) -> set[str]:
    """What a file or folder under a root can be opened as."""
    name = path.name.lower()
    if path.is_dir():
        if _is_model(path):
            return {"model"}
        if _is_result(path):
            return {"result"}
        if (path / "ExpressionData.csv").is_file():
            return {"dataset"}
        if (path / "refNetwork.csv").is_file() or (path / "network.csv").is_file() or (path / "Label.csv").is_file():
            return {"network"}
        if (path / "translator.json").is_file():
            return {"translator"}
        return set()
    if name.endswith(".h5ad"):
        return {"dataset", "result"}
    if name.endswith(".gmt"):
        return {"gene sets"}
    if name.endswith(_TABLE):
        return {"dataset", "network"}
    return set()


@dataclass(frozen=True)
class ServerPolicy:
    """The allowed data roots (real paths)."""

    roots: tuple[Path, ...]

    @classmethod
    def from_spec(cls, spec: str) -> "ServerPolicy":
        roots = [Path(p).expanduser().resolve() for p in spec.split(os.pathsep) if p.strip()]
        missing = [str(r) for r in roots if not r.is_dir()]
        if not roots or missing:
            raise UGRNError(f"Server mode needs existing data root folders ({ENV_ROOTS}, separated by "
                            f"'{os.pathsep}'); not folders: {', '.join(missing) or 'none given'}.")
        return cls(tuple(roots))

    def describe(self) -> str:
        return ", ".join(str(r) for r in self.roots)

    def check(self, path: str | Path, extra_roots: tuple[Path, ...] = ()) -> Path:
        """The real path of ``path`` if it lies under an allowed root (or ``extra_roots``, e.g.
        this session's uploads); else :class:`PathNotAllowed`, naming only the roots."""
        p = Path(str(path)).expanduser()
        real = (p if p.is_absolute() else self.roots[0] / p).resolve()
        if self._inside(real, extra_roots):
            return real
        raise PathNotAllowed(
            f"This server opens files only under its data roots ({self.describe()}). Choose one of the files "
            "listed under the box, or upload the file."
        )

    def choices(self, kind: str) -> dict[str, Path]:
        """``{label relative to its root: path}`` of what can be opened as ``kind`` (bounded walk)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        found: dict[str, Path] = {}
        for root in self.roots:
            for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
                here = Path(dirpath)
                depth = len(here.relative_to(root).parts)
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < MAX_DEPTH else []
                for entry in [here] + [here / f for f in sorted(filenames) if not f.startswith(".")]:
                    if kind in _kinds_of(entry) and self._inside(entry):
                        label = str(entry.relative_to(root)) if entry != root else root.name
                        found[label if len(self.roots) == 1 else f"{root.name}/{label}"] = entry
                        if len(found) >= MAX_CHOICES:
                            return found
        return found

    def _inside(self, path: Path, extra_roots: tuple[Path, ...] = ()) -> bool:
        """Whether ``path``'s real location is a root or lies under one (a path is relative to itself)."""
        real = path.resolve()
        return any(real.is_relative_to(r) for r in (*self.roots, *(Path(r).resolve() for r in extra_roots)))


def server_policy() -> ServerPolicy | None:
    """The policy of ``UGRN_SERVER_ROOTS`` (None on a laptop: server mode off)."""
    spec = os.environ.get(ENV_ROOTS, "").strip()
    return ServerPolicy.from_spec(spec) if spec else None
