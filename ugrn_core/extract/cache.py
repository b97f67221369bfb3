"""On-disk cache for extracted features, keyed by content.

Entries are ``.npz`` files written atomically (temp file + ``os.replace``) and carrying
a sha256 of their arrays, so a truncated or altered file is detected and recomputed
instead of being trusted. A file lock per key lets two processes (two app sessions, or
the app and the CLI) share one cache: one computes, the other waits and then reuses.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from filelock import FileLock

from ..errors import UGRNError

CHECKSUM = "__checksum__"


class CacheFullError(UGRNError):
    """The cache's disk is full (or over quota)."""


def default_cache_dir() -> Path:
    env = os.environ.get("UGRN_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "ugrn_explorer"


def content_key(*parts) -> str:
    """A stable hash of JSON-able parts and numpy arrays (hashed by dtype, shape, bytes)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            arr = np.ascontiguousarray(part)
            h.update(f"ndarray:{arr.dtype}:{arr.shape}".encode())
            h.update(arr.tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    return content_key(*[(name, arrays[name]) for name in sorted(arrays)])


class FeatureCache:
    """A folder of checksummed ``.npz`` entries."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def lock(self, key: str, timeout: float = -1) -> FileLock:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(p) + ".lock", timeout=timeout)

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """The entry's arrays, or None if absent or damaged (a damaged file is removed)."""
        p = self.path(key)
        if not p.exists():
            return None
        try:
            with np.load(p, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            stored = str(arrays.pop(CHECKSUM))
            if stored != _checksum(arrays):
                raise ValueError("checksum mismatch")
            return arrays
        except Exception:
            p.unlink(missing_ok=True)
            return None

    def save(self, key: str, arrays: dict[str, np.ndarray]) -> Path:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        payload = dict(arrays)
        payload[CHECKSUM] = np.array(_checksum(arrays))
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.stem}.", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise CacheFullError(
                    f"The disk holding the feature cache ({self.root}) is full, so extracted features cannot be "
                    "kept (nothing half-written was left). Free space there, or point the cache at a larger disk "
                    "with UGRN_CACHE_DIR or --cache-dir."
                ) from None
            raise
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return p

    def get_or_compute(self, key: str, compute) -> dict[str, np.ndarray]:
        """The entry's arrays; made by ``compute()`` and saved if absent. Under the key's lock,
        so when processes or sessions ask at once, one computes and the others read."""
        with self.lock(key):
            hit = self.load(key)
            if hit is not None:
                return hit
            arrays = compute()
            self.save(key, arrays)
            return arrays

    def clear(self) -> None:
        for p in self.root.glob("*/*.npz"):
            p.unlink(missing_ok=True)
